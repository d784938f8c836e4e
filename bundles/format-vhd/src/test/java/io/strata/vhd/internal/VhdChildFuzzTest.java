package io.strata.vhd.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.strata.api.format.BackingResolver;
import io.strata.api.format.CheckReport;
import io.strata.api.format.VirtualDisk;
import io.strata.testing.MemoryFile;
import java.nio.ByteBuffer;
import java.util.Optional;
import org.junit.jupiter.api.Timeout;

/**
 * An imported differencing disk over the parent the user named: a child whose probe
 * succeeds and whose check (with a resolver handing that parent for any recorded name)
 * reports no errors opens, reads, is rebased onto the parent's plain file name, and then
 * records that name, reads the same data and still checks without errors.
 * Footer and header checksums are recomputed before use ({@link SmallImages#fixChecksums}).
 * Seeds: {@code src/test/resources/io/strata/vhd/internal/VhdChildFuzzTestInputs/rebaseImportedChild/}.
 */
class VhdChildFuzzTest {
    private static final MemoryFile PARENT = SmallImages.file(SmallImages.PARENT_NAME, SmallImages.parent());
    private static final int MAX_READ = 1 << 20;

    @FuzzTest(maxDuration = "10s")
    @Timeout(60)
    void rebaseImportedChild(byte[] image) {
        check(image);
    }

    /** The oracle, also called by the regression tests with the inputs fuzzing found. */
    static void check(byte[] image) {
        VhdFormat format = new VhdFormat();
        MemoryFile f = SmallImages.file("child.vhd", SmallImages.fixChecksums(image));
        BackingResolver parent = SmallImages.namedParent(PARENT);
        if (!SmallImages.importable(format, f, parent)) {
            return;
        }
        byte[] before;
        try (VirtualDisk d = format.open(f, false, parent)) {
            before = read(d);
            if (d.backingFile().isEmpty()) {
                return; // not a child
            }
            d.rebase(SmallImages.PARENT_NAME, parent);
            assertEquals(Optional.of(SmallImages.PARENT_NAME), d.backingFile());
            assertArrayEquals(before, read(d), "data changed by the rebase");
        }
        assertEquals(Optional.of(SmallImages.PARENT_NAME), format.backingFile(f));
        try (VirtualDisk d = format.open(f, true, parent)) {
            assertArrayEquals(before, read(d), "data changed by the rebase (reopened)");
        }
        CheckReport after = format.check(f, parent, false);
        assertTrue(after.errors().isEmpty(), "errors after the rebase: " + after);
    }

    private static byte[] read(VirtualDisk d) {
        ByteBuffer b = ByteBuffer.allocate((int) Math.min(MAX_READ, d.virtualSize()));
        d.read(b, 0);
        return b.array();
    }
}

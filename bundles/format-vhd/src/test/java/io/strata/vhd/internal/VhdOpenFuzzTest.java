package io.strata.vhd.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.format.Extent;
import io.strata.api.format.ImageInfo;
import io.strata.api.format.VirtualDisk;
import io.strata.testing.MemoryFile;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Timeout;

/**
 * Any bytes as a VHD: probe either refuses them with CORRUPT_IMAGE or accepts a size the
 * format allows; an accepted image opens read-only (a differencing one over a fixed parent,
 * or refused with CHAIN_BROKEN when it names another parent), answers block status over its
 * whole size with extents that tile the range, and reads anywhere without any exception.
 * Footer and header checksums are recomputed before use ({@link SmallImages#fixChecksums}).
 * Seeds: {@code src/test/resources/io/strata/vhd/internal/VhdOpenFuzzTestInputs/open/}.
 */
class VhdOpenFuzzTest {
    private static final MemoryFile PARENT = SmallImages.file(SmallImages.PARENT_NAME, SmallImages.parent());

    @FuzzTest(maxDuration = "10s")
    @Timeout(60)
    void open(byte[] image) {
        check(image);
    }

    /** The oracle, also called by the regression tests with the inputs fuzzing found. */
    static void check(byte[] image) {
        VhdFormat format = new VhdFormat();
        MemoryFile f = SmallImages.file("fuzz.vhd", SmallImages.fixChecksums(image));
        format.recognizes(f);
        ImageInfo info;
        try {
            info = format.probe(f);
        } catch (StorageException e) {
            assertEquals(ErrorCode.CORRUPT_IMAGE, e.code(), e.getMessage());
            return;
        }
        long size = info.virtualSize();
        assertTrue(size > 0 && size % 512 == 0 && size <= Vhd.MAX_VIRTUAL_SIZE, "probe accepted size " + size);
        VirtualDisk d;
        try {
            d = format.open(f.readOnlyCopy(), true, SmallImages.namedParent(PARENT));
        } catch (StorageException e) {
            assertTrue(Set.of(ErrorCode.CHAIN_BROKEN, ErrorCode.CHAIN_TOO_LONG).contains(e.code())
                    && "differencing".equals(info.details().get("subformat")), "open after probe: " + e);
            return;
        }
        try (d) {
            assertEquals(size, d.virtualSize());
            List<Extent> status = d.blockStatus(0, size);
            long at = 0;
            for (Extent e : status) {
                assertEquals(at, e.offset(), "extents do not tile the disk: " + status);
                assertTrue(e.length() > 0);
                at += e.length();
            }
            assertEquals(size, at);
            int len = (int) Math.min(size, 64 << 10);
            for (long off : new long[] {0, size - len, (size / 2) & ~511L, size - 1, size / 3}) {
                int n = (int) Math.min(len, size - off);
                ByteBuffer b = ByteBuffer.allocate(n);
                d.read(b, off);
                assertEquals(n, b.position());
            }
            d.blockStatus(size - 1, 1);
            d.slice(size - 1, 1);
        }
    }
}

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
import java.util.Arrays;
import org.junit.jupiter.api.Timeout;

/**
 * The import contract: an image whose probe succeeds and whose check reports no errors
 * opens writable, takes two writes at input-chosen offsets (partial sectors, anywhere in
 * its size), flushes and closes; reopened it reads back what was written and checks
 * without errors again. Check itself never throws and never writes.
 *
 * <p>Input: 8 bytes of write parameters, then the image. A differencing image is opened
 * over a fixed 64 KiB parent that the resolver hands whatever name the child records.
 * Footer and header checksums are recomputed before use ({@link SmallImages#fixChecksums}).
 * Seeds: {@code src/test/resources/io/strata/vhd/internal/VhdCheckFuzzTestInputs/checkThenWrite/}.
 */
class VhdCheckFuzzTest {
    private static final MemoryFile PARENT = SmallImages.file(SmallImages.PARENT_NAME, SmallImages.parent());

    @FuzzTest(maxDuration = "10s")
    @Timeout(60)
    void checkThenWrite(byte[] data) {
        check(data);
    }

    /** The oracle, also called by the regression tests with the inputs fuzzing found. */
    static void check(byte[] data) {
        if (data.length < 8) {
            return;
        }
        ByteBuffer p = ByteBuffer.wrap(data, 0, 8);
        int a = p.getInt();
        int b = p.getInt();
        VhdFormat format = new VhdFormat();
        MemoryFile f = SmallImages.file("fuzz.vhd",
                SmallImages.fixChecksums(Arrays.copyOfRange(data, 8, data.length)));
        BackingResolver parent = SmallImages.namedParent(PARENT);
        if (!SmallImages.importable(format, f, parent)) {
            return;
        }
        long size;
        long offA;
        int lenA;
        long offB;
        int lenB;
        try (VirtualDisk d = format.open(f, false, parent)) {
            size = d.virtualSize();
            offA = Math.floorMod(Integer.toUnsignedLong(a) * 512 + (b & 511), size);
            lenA = (int) Math.min(size - offA, 1 + ((b >>> 9) & 0x1fff));
            offB = Math.floorMod(Integer.toUnsignedLong(b) * 512 + (a & 511), size);
            lenB = (int) Math.min(size - offB, 1 + ((a >>> 9) & 0x1fff));
            d.write(ByteBuffer.wrap(pattern(lenA, 0xA5)), offA);
            d.write(ByteBuffer.wrap(pattern(lenB, 0x5A)), offB);
            d.flush();
        }
        try (VirtualDisk d = format.open(f, false, parent)) {
            byte[] expectA = pattern(lenA, 0xA5);
            for (int i = 0; i < lenA; i++) {
                long off = offA + i;
                if (off >= offB && off < offB + lenB) {
                    expectA[i] = (byte) (0x5A + (off - offB));
                }
            }
            ByteBuffer got = ByteBuffer.allocate(lenA);
            d.read(got, offA);
            assertArrayEquals(expectA, got.array(), "first write at " + offA);
            got = ByteBuffer.allocate(lenB);
            d.read(got, offB);
            assertArrayEquals(pattern(lenB, 0x5A), got.array(), "second write at " + offB);
        }
        CheckReport after = format.check(f, parent, false);
        assertTrue(after.errors().isEmpty(), "errors after writes at " + offA + "+" + lenA + ", " + offB + "+"
                + lenB + ": " + after);
    }

    private static byte[] pattern(int len, int seed) {
        byte[] out = new byte[len];
        for (int i = 0; i < len; i++) {
            out[i] = (byte) (seed + i);
        }
        return out;
    }
}

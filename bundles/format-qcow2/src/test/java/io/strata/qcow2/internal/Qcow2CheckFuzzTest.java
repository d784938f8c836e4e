package io.strata.qcow2.internal;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.format.CheckReport;
import io.strata.api.format.VirtualDisk;
import io.strata.testing.MemoryFile;
import java.nio.ByteBuffer;
import java.util.Arrays;
import org.junit.jupiter.api.Timeout;

/**
 * The import guarantee: an image that probe accepts and check finds free of errors opens
 * for writing, takes writes anywhere in its virtual size, flushes, reopens with what was
 * written, and still checks without errors. The fuzzer picks the writes (primitive values
 * come from the end of the input) and the image (the rest). An image with autoclear bits
 * opens read-only only (documented), so it is only read.
 * Seeds: real qemu-img images in {@code Qcow2CheckFuzzTestInputs/checkWriteReopen/}.
 */
class Qcow2CheckFuzzTest {
    private final Qcow2Format format = new Qcow2Format();

    @FuzzTest(maxDuration = "10s")
    @Timeout(60)
    void checkWriteReopen(FuzzedDataProvider data) {
        int writes = data.consumeInt(1, 3);
        long[] at = new long[writes];
        int[] len = new int[writes];
        for (int i = 0; i < writes; i++) {
            at[i] = data.consumeLong(0, Long.MAX_VALUE);
            len[i] = data.consumeInt(1, 70_000);
        }
        MemoryFile f = FuzzImages.file(data.consumeRemainingAsBytes());
        try {
            format.probe(f);
        } catch (StorageException e) {
            return;
        }
        CheckReport before = format.check(f, FuzzImages.RESOLVER, false);
        if (f.mutations() != 0) {
            throw new AssertionError("check without repair wrote to the image");
        }
        if (!before.errors().isEmpty()) {
            return;
        }
        long autoclear = Inspector.readHeader(f).autoclear();
        VirtualDisk d;
        try {
            d = format.open(f, false, FuzzImages.RESOLVER);
        } catch (StorageException e) {
            if (e.code() == ErrorCode.UNSUPPORTED && autoclear != 0) {
                try (VirtualDisk r = format.open(f, true, FuzzImages.RESOLVER)) {
                    FuzzImages.exercise(r);
                }
                return;
            }
            throw new AssertionError("a checked image does not open for writing: " + before, e);
        }
        long size = d.virtualSize();
        byte[][] written = new byte[writes][];
        try {
            FuzzImages.exercise(d);
            for (int i = 0; i < writes; i++) {
                at[i] = Math.floorMod(at[i], size);
                len[i] = (int) Math.min(len[i], size - at[i]);
                written[i] = new byte[len[i]];
                Arrays.fill(written[i], (byte) (0x41 + i));
                written[i][0] = (byte) i;
                d.write(ByteBuffer.wrap(written[i]), at[i]);
            }
            d.flush();
        } finally {
            d.close();
        }
        try (VirtualDisk again = format.open(f, false, FuzzImages.RESOLVER)) {
            for (int i = 0; i < writes; i++) {
                byte[] expected = written[i].clone();
                for (int j = i + 1; j < writes; j++) { // later writes over this range win
                    long from = Math.max(at[i], at[j]);
                    long to = Math.min(at[i] + len[i], at[j] + len[j]);
                    for (long p = from; p < to; p++) {
                        expected[(int) (p - at[i])] = written[j][(int) (p - at[j])];
                    }
                }
                byte[] got = new byte[len[i]];
                again.read(ByteBuffer.wrap(got), at[i]);
                if (!Arrays.equals(expected, got)) {
                    throw new AssertionError("write " + i + " at " + at[i] + " (" + len[i] + " bytes) reads back"
                            + " differently; before: " + before);
                }
            }
        }
        CheckReport after = format.check(f, FuzzImages.RESOLVER, false);
        if (!after.errors().isEmpty()) {
            throw new AssertionError("a clean image has errors after writes: " + after + "\nbefore: " + before);
        }
    }
}

package io.strata.qcow2.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.format.BackingResolver;
import io.strata.api.format.DiskSpec;
import io.strata.api.format.Provisioning;
import io.strata.api.format.VirtualDisk;
import io.strata.testing.MemoryFile;
import java.nio.ByteBuffer;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * A write of several buffers (an NBD payload read into pooled buffers) over backing data:
 * clusters the buffers split between them are written whole, so the backing file is not read
 * for them, and the bytes land in order.
 */
class VectoredWriteTest {
    private static final int CS = 65536;
    private static final long SIZE = 16L << 20;

    /** A base with every byte of its first 8 clusters written, and a child over it. */
    private static final class Chain {
        final Qcow2Format format = new Qcow2Format();
        final MemoryFile top = new MemoryFile("top.qcow2");
        final MemoryFile base;
        final byte[] model = new byte[8 * CS];

        Chain() {
            MemoryFile b = new MemoryFile("base.qcow2");
            new Random(7).nextBytes(model);
            try (VirtualDisk p = format.create(b, new DiskSpec(SIZE, Provisioning.THIN))) {
                p.write(ByteBuffer.wrap(model), 0);
            }
            base = b.readOnlyCopy();
            format.createChild(top, "base.qcow2", resolver()).close();
        }

        BackingResolver resolver() {
            return name -> base;
        }

        VirtualDisk open() {
            return format.open(top, false, resolver());
        }
    }

    private static ByteBuffer[] split(byte[] data, int... lengths) {
        ByteBuffer[] out = new ByteBuffer[lengths.length + 1];
        int at = 0;
        for (int i = 0; i < lengths.length; i++) {
            out[i] = ByteBuffer.wrap(data, at, lengths[i]).slice();
            at += lengths[i];
        }
        out[lengths.length] = ByteBuffer.wrap(data, at, data.length - at).slice();
        return out;
    }

    @Test
    void clustersSplitBetweenBuffersAreWrittenWholeWithoutReadingTheBacking() {
        Chain c = new Chain();
        byte[] data = new byte[4 * CS];
        new Random(1).nextBytes(data);
        try (VirtualDisk d = c.open()) {
            // Boundaries inside clusters 0 and 2, an empty buffer, and one inside cluster 3.
            ByteBuffer[] bufs = split(data, 10_000, 2 * CS, 0, CS - 4_000);
            int before = c.base.reads();
            d.write(bufs, 0);
            assertEquals(before, c.base.reads(), "no cluster of the write was copied from the backing file");
            for (ByteBuffer b : bufs) {
                assertFalse(b.hasRemaining(), "every buffer consumed");
            }

            // The counter sees copy-on-write: a partial write of one buffer reads the backing.
            d.write(ByteBuffer.wrap(new byte[4096]), 5L * CS + 8192);
            assertTrue(c.base.reads() > before, "a partial cluster over backing data copies the rest of it");

            byte[] got = new byte[8 * CS];
            d.read(ByteBuffer.wrap(got), 0);
            byte[] want = c.model.clone();
            System.arraycopy(data, 0, want, 0, data.length);
            java.util.Arrays.fill(want, 5 * CS + 8192, 5 * CS + 8192 + 4096, (byte) 0);
            assertArrayEquals(want, got);
        }
        assertTrue(c.format.check(c.top, c.resolver(), false).clean());
    }

    @Test
    void anUnalignedRangeKeepsTheBytesAroundItAndTheBackingUnderIt() {
        Chain c = new Chain();
        byte[] data = new byte[3 * CS + 777];
        new Random(2).nextBytes(data);
        long at = CS + 1234; // starts and ends inside clusters: those two are partial
        try (VirtualDisk d = c.open()) {
            d.write(split(data, 100, CS, 3), at);
            byte[] got = new byte[8 * CS];
            d.read(ByteBuffer.wrap(got), 0);
            byte[] want = c.model.clone();
            System.arraycopy(data, 0, want, (int) at, data.length);
            assertArrayEquals(want, got);
        }
        assertTrue(c.format.check(c.top, c.resolver(), false).clean());
    }

    @Test
    void aRangePastTheEndOrAReadOnlyDiskWritesNothing() {
        Chain c = new Chain();
        try (VirtualDisk d = c.open()) {
            int mutations = c.top.mutations();
            ByteBuffer[] two = {ByteBuffer.allocate(CS), ByteBuffer.allocate(CS)};
            StorageException e = assertThrows(StorageException.class, () -> d.write(two, SIZE - CS));
            assertEquals(ErrorCode.OUT_OF_RANGE, e.code());
            assertEquals(mutations, c.top.mutations(), "refused before anything was written");
            assertEquals(CS, two[0].remaining());
        }
        try (VirtualDisk d = c.format.open(c.top, true, c.resolver())) {
            ByteBuffer[] two = {ByteBuffer.allocate(10), ByteBuffer.allocate(10)};
            assertEquals(ErrorCode.READ_ONLY, assertThrows(StorageException.class, () -> d.write(two, 0)).code());
        }
    }
}

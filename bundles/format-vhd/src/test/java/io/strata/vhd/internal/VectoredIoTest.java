package io.strata.vhd.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.format.DiskSpec;
import io.strata.api.format.Provisioning;
import io.strata.api.format.VirtualDisk;
import io.strata.testing.MemoryFile;
import java.nio.ByteBuffer;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/**
 * {@link VirtualDisk#write(ByteBuffer[], long)} and {@link VirtualDisk#read(ByteBuffer[], long)}
 * on VHD: a range within one allocated block of a dynamic disk reaches the file in one call
 * (a local file makes it one system call); every other range is split as a single buffer would
 * be. Either way the bytes are those of the same I/O with one buffer.
 */
class VectoredIoTest {
    private static final int MIB = 1 << 20;
    private final VhdFormat format = new VhdFormat();
    private final MemoryStore store = new MemoryStore();

    /** {@code data} cut into {@code count} buffers of unequal sizes. */
    static ByteBuffer[] pieces(byte[] data, int count) {
        ByteBuffer[] bufs = new ByteBuffer[count];
        int at = 0;
        for (int i = 0; i < count; i++) {
            int len = i == count - 1 ? data.length - at : data.length / count + i * 3;
            bufs[i] = ByteBuffer.wrap(data, at, len).slice();
            at += len;
        }
        return bufs;
    }

    static byte[] readVectored(VirtualDisk d, long offset, int length, int count) {
        ByteBuffer[] bufs = new ByteBuffer[count];
        for (int i = 0; i < count; i++) {
            int len = i == count - 1 ? length - (count - 1) * (length / count) : length / count;
            bufs[i] = ByteBuffer.allocate(len);
        }
        d.read(bufs, offset);
        ByteBuffer all = ByteBuffer.allocate(length);
        for (ByteBuffer b : bufs) {
            assertEquals(b.limit(), b.position(), "every buffer filled");
            all.put(b.flip());
        }
        return all.array();
    }

    @Test
    void withinOneAllocatedBlockOneCallReachesTheFile() {
        MemoryFile file = store.create("d.vhd");
        try (VirtualDisk d = format.create(file, new DiskSpec(16L * MIB, Provisioning.THIN))) {
            byte[] base = DifferencingTest.pattern(4 * MIB, 1);
            d.write(ByteBuffer.wrap(base), 0); // blocks 0 and 1 allocated
            int calls = file.vectored();

            byte[] data = DifferencingTest.pattern(300_000, 2);
            d.write(pieces(data, 4), 4096 + 512);
            assertEquals(calls + 1, file.vectored(), "one call for a range inside block 0");
            System.arraycopy(data, 0, base, 4096 + 512, data.length);
            assertArrayEquals(Arrays.copyOfRange(base, 0, 2 * MIB), DifferencingTest.read(d, 0, 2 * MIB));

            assertArrayEquals(Arrays.copyOfRange(base, 2 * MIB + 77, 3 * MIB + 77), readVectored(d, 2L * MIB + 77, MIB, 4));
            assertEquals(calls + 2, file.vectored(), "one call for a read inside block 1");

            // across blocks 0 and 1: split at the boundary, the same bytes
            byte[] across = DifferencingTest.pattern(8192, 3);
            d.write(pieces(across, 3), 2L * MIB - 1000);
            assertEquals(calls + 2, file.vectored());
            System.arraycopy(across, 0, base, 2 * MIB - 1000, across.length);
            assertArrayEquals(base, DifferencingTest.read(d, 0, 4 * MIB));
            assertArrayEquals(Arrays.copyOfRange(base, 2 * MIB - 5000, 2 * MIB + 5000), readVectored(d, 2L * MIB - 5000, 10_000, 3));
            assertEquals(calls + 2, file.vectored());
        }
    }

    @Test
    void aBlockNotYetAllocatedIsAllocatedAsByOneBufferAndReadsZerosBefore() {
        MemoryFile file = store.create("u.vhd");
        try (VirtualDisk d = format.create(file, new DiskSpec(16L * MIB, Provisioning.THIN))) {
            assertArrayEquals(new byte[100_000], readVectored(d, 8L * MIB + 3, 100_000, 4), "zeros");
            assertEquals(0, file.vectored(), "nothing to read from the file");
            byte[] data = DifferencingTest.pattern(MIB, 4);
            d.write(pieces(data, 4), 8L * MIB + 512);
            assertEquals(0, file.vectored(), "an allocating write goes buffer by buffer");
            assertArrayEquals(data, DifferencingTest.read(d, 8L * MIB + 512, MIB));
            assertArrayEquals(data, readVectored(d, 8L * MIB + 512, MIB, 4));
            assertEquals(1, file.vectored(), "allocated now: one call");
        }
        // the image written this way opens and checks clean
        try (VirtualDisk d = format.open(file, false)) {
            assertEquals(16L * MIB, d.virtualSize());
        }
        assertEquals(java.util.List.of(), format.check(file, store, false).errors());
    }

    @Test
    void aDifferencingDiskReadsAndWritesTheChainAsWithOneBuffer() {
        try (VirtualDisk p = format.create(store.create("p.vhd"), new DiskSpec(8L * MIB, Provisioning.THIN))) {
            p.write(ByteBuffer.wrap(DifferencingTest.pattern(4 * MIB, 5)), 0);
        }
        MemoryFile child = store.create("c.vhd");
        try (VirtualDisk c = format.createChild(child, "p.vhd", store)) {
            byte[] expect = DifferencingTest.read(c, 0, 4 * MIB);
            byte[] data = DifferencingTest.pattern(70_000, 6);
            c.write(pieces(data, 5), MIB + 300); // partial sectors at both ends: read-modify-write from the parent
            System.arraycopy(data, 0, expect, MIB + 300, data.length);
            assertArrayEquals(expect, readVectored(c, 0, 4 * MIB, 7));
            assertArrayEquals(expect, DifferencingTest.read(c, 0, 4 * MIB));
        }
    }

    @Test
    void outOfRangeAndReadOnlyAreRefusedBeforeAnyByteMoves() {
        MemoryFile file = store.create("r.vhd");
        try (VirtualDisk d = format.create(file, new DiskSpec(4L * MIB, Provisioning.THIN))) {
            d.write(ByteBuffer.wrap(DifferencingTest.pattern(MIB, 7)), 0);
            int mutations = file.mutations();
            ByteBuffer[] bufs = pieces(new byte[8192], 2);
            StorageException e = assertThrows(StorageException.class, () -> d.write(bufs, 4L * MIB - 4096));
            assertEquals(ErrorCode.OUT_OF_RANGE, e.code());
            e = assertThrows(StorageException.class, () -> d.read(pieces(new byte[8192], 2), 4L * MIB - 4096));
            assertEquals(ErrorCode.OUT_OF_RANGE, e.code());
            assertEquals(mutations, file.mutations());
            assertEquals(4096, bufs[0].remaining(), "nothing consumed");
        }
        try (VirtualDisk d = format.open(file, true)) {
            StorageException e = assertThrows(StorageException.class, () -> d.write(pieces(new byte[8192], 2), 0));
            assertEquals(ErrorCode.READ_ONLY, e.code());
        }
    }
}

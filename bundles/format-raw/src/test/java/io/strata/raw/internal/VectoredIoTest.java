package io.strata.raw.internal;

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
import java.util.Random;
import org.junit.jupiter.api.Test;

/** A raw disk passes reads and writes of several buffers to its file whole, in one call. */
class VectoredIoTest {
    private static final int MIB = 1 << 20;

    @Test
    void severalBuffersReachTheFileInOneCallWithTheirBytesInOrder() {
        MemoryFile file = new MemoryFile("v.raw");
        try (VirtualDisk d = new RawFormat().create(file, new DiskSpec(4L * MIB, Provisioning.THIN))) {
            byte[] data = new byte[MIB + 333];
            new Random(1).nextBytes(data);
            ByteBuffer[] out = {ByteBuffer.wrap(data, 0, 1000).slice(), ByteBuffer.wrap(data, 1000, MIB - 1000).slice(),
                ByteBuffer.wrap(data, MIB, 333).slice()};
            d.write(out, 4096 + 7);
            assertEquals(1, file.vectored());
            assertArrayEquals(data, file.peek(4096 + 7, data.length));

            ByteBuffer[] in = {ByteBuffer.allocate(5), ByteBuffer.allocate(MIB), ByteBuffer.allocate(328)};
            d.read(in, 4096 + 7);
            assertEquals(2, file.vectored());
            byte[] got = new byte[data.length];
            ByteBuffer all = ByteBuffer.wrap(got);
            for (ByteBuffer b : in) {
                all.put(b.flip());
            }
            assertArrayEquals(data, got);
        }
    }

    /** A raw disk's window is its file's for the same range: offered where the file has the bytes. */
    @Test
    void aWindowIsTheFilesWhereTheBytesAreAllocated() {
        MemoryFile file = new MemoryFile("w.raw");
        RawFormat format = new RawFormat();
        try (VirtualDisk d = format.create(file, new DiskSpec(4L * MIB, Provisioning.THIN))) {
            d.write(ByteBuffer.wrap(new byte[2 * MIB]), 0);
            byte[] data = new byte[MIB];
            new Random(2).nextBytes(data);
            try (var w = d.window(512, MIB).orElseThrow()) {
                w.buffer().put(data);
            }
            assertArrayEquals(data, file.peek(512, MIB));
            assertEquals(java.util.Optional.empty(), d.window(3L * MIB, 4096), "a hole: the write allocates");
            assertEquals(ErrorCode.OUT_OF_RANGE,
                    assertThrows(StorageException.class, () -> d.window(4L * MIB - 1, 2)).code());
            assertEquals(1, file.windows());
        }
        try (VirtualDisk d = format.open(file, true)) {
            assertEquals(ErrorCode.READ_ONLY, assertThrows(StorageException.class, () -> d.window(0, 4096)).code());
        }
    }

    @Test
    void outOfRangeReadOnlyAndATruncatedFileAreClearErrors() {
        MemoryFile file = new MemoryFile("e.raw");
        RawFormat format = new RawFormat();
        try (VirtualDisk d = format.create(file, new DiskSpec(MIB, Provisioning.THIN))) {
            ByteBuffer[] two = {ByteBuffer.allocate(4096), ByteBuffer.allocate(4096)};
            assertEquals(ErrorCode.OUT_OF_RANGE, assertThrows(StorageException.class, () -> d.write(two, MIB - 4096)).code());
            assertEquals(ErrorCode.OUT_OF_RANGE, assertThrows(StorageException.class, () -> d.read(two, MIB - 4096)).code());
            assertEquals(0, file.vectored(), "refused before the file is touched");
            file.setSize(MIB / 2); // cut short behind the disk's back
            StorageException e = assertThrows(StorageException.class, () -> d.read(two, MIB / 2 - 4096));
            assertEquals(ErrorCode.IO_ERROR, e.code());
        }
        try (VirtualDisk d = format.open(file, true)) {
            ByteBuffer[] two = {ByteBuffer.allocate(10), ByteBuffer.allocate(10)};
            assertEquals(ErrorCode.READ_ONLY, assertThrows(StorageException.class, () -> d.write(two, 0)).code());
            assertArrayEquals(new byte[10], Arrays.copyOf(two[0].array(), 10));
        }
    }
}

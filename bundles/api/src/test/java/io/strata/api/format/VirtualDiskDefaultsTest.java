package io.strata.api.format;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import java.nio.ByteBuffer;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The default vectored read and write of a format that has only the single-buffer ones. */
class VirtualDiskDefaultsTest {
    /** Bytes in memory; counts the single-buffer calls. */
    private static final class ArrayDisk implements VirtualDisk {
        final byte[] bytes = new byte[1000];
        int reads;
        int writes;

        @Override
        public String format() {
            return "array";
        }

        @Override
        public long virtualSize() {
            return bytes.length;
        }

        @Override
        public Provisioning provisioning() {
            return Provisioning.THIN;
        }

        @Override
        public boolean readOnly() {
            return false;
        }

        @Override
        public void read(ByteBuffer dst, long offset) {
            if (offset + dst.remaining() > bytes.length) {
                throw new StorageException(ErrorCode.OUT_OF_RANGE, "past the end");
            }
            reads++;
            dst.put(bytes, (int) offset, dst.remaining());
        }

        @Override
        public void write(ByteBuffer src, long offset) {
            if (offset + src.remaining() > bytes.length) {
                throw new StorageException(ErrorCode.OUT_OF_RANGE, "past the end");
            }
            writes++;
            src.get(bytes, (int) offset, src.remaining());
        }

        @Override
        public void flush() {
        }

        @Override
        public void trim(long offset, long length) {
        }

        @Override
        public List<Extent> blockStatus(long offset, long length) {
            return List.of();
        }

        @Override
        public void resize(long newSize) {
            throw new UnsupportedOperationException();
        }

        @Override
        public long allocatedBytes() {
            return bytes.length;
        }

        @Override
        public void close() {
        }
    }

    @Test
    void buffersAreWrittenAndReadInOrderOneCallEach() {
        ArrayDisk d = new ArrayDisk();
        d.write(new ByteBuffer[] {ByteBuffer.wrap(new byte[] {1, 2}), ByteBuffer.allocate(0),
            ByteBuffer.wrap(new byte[] {3})}, 10);
        assertEquals(3, d.writes);
        ByteBuffer a = ByteBuffer.allocate(1);
        ByteBuffer b = ByteBuffer.allocate(2);
        d.read(new ByteBuffer[] {a, b}, 10);
        assertArrayEquals(new byte[] {1}, a.array());
        assertArrayEquals(new byte[] {2, 3}, b.array());
    }

    @Test
    void aRangePastTheEndIsRefusedBeforeAnyBufferIsWrittenOrFilled() {
        ArrayDisk d = new ArrayDisk();
        ByteBuffer first = ByteBuffer.wrap(new byte[] {9, 9, 9});
        StorageException e = assertThrows(StorageException.class,
                () -> d.write(new ByteBuffer[] {first, ByteBuffer.allocate(600)}, 500));
        assertEquals(ErrorCode.OUT_OF_RANGE, e.code());
        assertEquals(0, d.writes, "the first buffer, inside the disk, was not written either");
        assertEquals(3, first.remaining());

        e = assertThrows(StorageException.class,
                () -> d.read(new ByteBuffer[] {ByteBuffer.allocate(3), ByteBuffer.allocate(600)}, 500));
        assertEquals(ErrorCode.OUT_OF_RANGE, e.code());
        assertEquals(0, d.reads);
        assertEquals(ErrorCode.OUT_OF_RANGE, assertThrows(StorageException.class,
                () -> d.write(new ByteBuffer[] {ByteBuffer.allocate(1)}, -1)).code());
    }
}

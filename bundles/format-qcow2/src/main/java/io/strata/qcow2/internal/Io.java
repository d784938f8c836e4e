package io.strata.qcow2.internal;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.fs.DatastoreFile;
import java.nio.ByteBuffer;

/** Small I/O helpers over a {@link DatastoreFile}. */
final class Io {
    /** 1 MiB of zeros, shared read-only by every writer of zeros. */
    private static final ByteBuffer ZEROS = ByteBuffer.allocateDirect(1 << 20).asReadOnlyBuffer();

    private Io() {
    }

    /** @return the number of bytes read; fewer than asked only at end of file */
    static int readFully(DatastoreFile file, ByteBuffer dst, long position) {
        int total = 0;
        while (dst.hasRemaining()) {
            int n = file.read(dst, position + total);
            if (n <= 0) {
                break;
            }
            total += n;
        }
        return total;
    }

    /** Reads exactly {@code length} bytes or fails with IO_ERROR: the caller validated the range. */
    static void readExactly(DatastoreFile file, ByteBuffer dst, long position) {
        int want = dst.remaining();
        int got = readFully(file, dst, position);
        if (got < want) {
            throw new StorageException(ErrorCode.IO_ERROR, "file '" + file.name() + "' ended at "
                    + (position + got) + " while reading " + want + " bytes at " + position
                    + " (was it truncated while open?)");
        }
    }

    /** Reads {@code dst.remaining()} bytes; what lies past the end of the file reads as zeros. */
    static void readPadded(DatastoreFile file, ByteBuffer dst, long position) {
        int want = dst.remaining();
        int got = readFully(file, dst, position);
        if (got < want) {
            fillZeros(dst, want - got);
        }
    }

    /** @return {@code length} bytes at {@code position}, or null when the file is shorter */
    static byte[] readBytes(DatastoreFile file, long position, int length) {
        byte[] b = new byte[length];
        return readFully(file, ByteBuffer.wrap(b), position) == length ? b : null;
    }

    static void write(DatastoreFile file, byte[] data, long position) {
        file.write(ByteBuffer.wrap(data), position);
    }

    /** Writes zeros over {@code [position, position + length)}. */
    static void writeZeros(DatastoreFile file, long position, long length) {
        long done = 0;
        while (done < length) {
            ByteBuffer z = ZEROS.duplicate();
            z.limit((int) Math.min(z.capacity(), length - done));
            file.write(z, position + done);
            done += z.limit();
        }
    }

    /** Fills the next {@code n} bytes of {@code dst} with zeros, advancing its position. */
    static void fillZeros(ByteBuffer dst, int n) {
        if (dst.hasArray()) {
            int p = dst.position();
            java.util.Arrays.fill(dst.array(), dst.arrayOffset() + p, dst.arrayOffset() + p + n, (byte) 0);
            dst.position(p + n);
            return;
        }
        int left = n;
        while (left > 0) {
            ByteBuffer z = ZEROS.duplicate();
            z.limit(Math.min(z.capacity(), left));
            left -= z.remaining();
            dst.put(z);
        }
    }
}

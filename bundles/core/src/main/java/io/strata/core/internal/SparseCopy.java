package io.strata.core.internal;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.fs.DatastoreFile;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;

/**
 * Copies an image into a datastore file keeping holes: a 64 KiB chunk that is
 * all zeros is not written, so it stays a hole in the target (which must be new
 * and empty) and a thin image stays thin.
 */
final class SparseCopy {
    static final int CHUNK = 64 * 1024;
    private static final byte[] ZEROS = new byte[CHUNK];

    private SparseCopy() {
    }

    /** @return the number of bytes actually written (non-zero chunks) */
    static long copy(Path source, DatastoreFile target) {
        long written = 0;
        try (FileChannel in = FileChannel.open(source, StandardOpenOption.READ)) {
            long size = in.size();
            byte[] chunk = new byte[CHUNK];
            ByteBuffer buf = ByteBuffer.wrap(chunk);
            long pos = 0;
            while (pos < size) {
                buf.clear();
                buf.limit((int) Math.min(CHUNK, size - pos));
                int n = 0;
                while (buf.hasRemaining()) {
                    int r = in.read(buf, pos + n);
                    if (r < 0) {
                        break;
                    }
                    n += r;
                }
                if (n == 0) {
                    break;
                }
                if (!Arrays.equals(chunk, 0, n, ZEROS, 0, n)) {
                    target.write(ByteBuffer.wrap(chunk, 0, n), pos);
                    written += n;
                }
                pos += n;
            }
            // Trailing zero chunks were skipped; the size makes them a hole that reads as zeros.
            target.setSize(size);
            target.flush();
            return written;
        } catch (IOException e) {
            throw new StorageException(ErrorCode.IO_ERROR, "cannot read image " + source + ": " + e.getMessage(), e);
        }
    }

    /**
     * Copies a disk through its chain into a new disk: only the ranges the source reports as
     * allocated and not known zero are read, and 64 KiB chunks of zeros are not written.
     *
     * @return bytes written
     */
    static long copy(io.strata.api.format.VirtualDisk in, io.strata.api.format.VirtualDisk out) {
        long size = Math.min(in.virtualSize(), out.virtualSize());
        int big = 1 << 20;
        ByteBuffer buf = ByteBuffer.allocate(big);
        byte[] chunk = buf.array();
        long written = 0;
        for (io.strata.api.format.Extent x : in.blockStatus(0, size)) {
            if (!x.allocated() || x.zero()) {
                continue;
            }
            for (long pos = x.offset(); pos < x.offset() + x.length(); pos += big) {
                int n = (int) Math.min(big, x.offset() + x.length() - pos);
                buf.clear().limit(n);
                in.read(buf, pos);
                for (int o = 0; o < n; o += CHUNK) {
                    int len = Math.min(CHUNK, n - o);
                    if (!Arrays.equals(chunk, o, o + len, ZEROS, 0, len)) {
                        out.write(ByteBuffer.wrap(chunk, o, len), pos + o);
                        written += len;
                    }
                }
            }
        }
        return written;
    }
}

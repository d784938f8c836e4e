package io.strata.posix;

import com.sun.jna.LastErrorException;
import com.sun.jna.Native;
import com.sun.jna.Platform;
import com.sun.jna.Pointer;

/**
 * The system calls on the data path, bound with JNA's direct mapping: a call is a native
 * method, not a proxy that looks up and converts its arguments by reflection each time (what
 * {@link LibC} costs, about a microsecond per call, a few percent of the CPU the NBD server
 * spends on 4 KiB requests). Failures throw {@link LastErrorException} with the errno.
 */
final class FastIo {
    static {
        Native.register(FastIo.class, Platform.C_LIBRARY_NAME);
    }

    private FastIo() {
    }

    /** ssize_t pread(int, void *, size_t, off_t), with 64-bit size_t and off_t. */
    static native long pread(int fd, Pointer buf, long count, long offset) throws LastErrorException;

    /** ssize_t pwrite(int, const void *, size_t, off_t), with 64-bit size_t and off_t. */
    static native long pwrite(int fd, Pointer buf, long count, long offset) throws LastErrorException;

    /**
     * ssize_t preadv(int, const struct iovec *, int, off_t); {@code iov} is the address of
     * {@code iovcnt} (base address, length) pairs of 64-bit words in native memory.
     */
    static native long preadv(int fd, long iov, int iovcnt, long offset) throws LastErrorException;

    /** ssize_t pwritev(int, const struct iovec *, int, off_t); {@code iov} as for {@link #preadv}. */
    static native long pwritev(int fd, long iov, int iovcnt, long offset) throws LastErrorException;
}

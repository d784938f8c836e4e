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
 *
 * <p>Callers use the gated methods ({@link #read}, {@link #write}, {@link #readv},
 * {@link #writev}), never the native ones: {@link NativeBindings#release} unregisters this class
 * when the bundle stops, and must not do so under a call in progress.
 */
final class FastIo {
    static {
        register();
    }

    private FastIo() {
    }

    /** Binds the native methods (again, after {@link NativeBindings#release}). */
    static void register() {
        Native.register(FastIo.class, Platform.C_LIBRARY_NAME);
        NativeBindings.fastIoRegistered = true;
    }

    /** {@link #pread} through the gate. */
    static long read(int fd, Pointer buf, long count, long offset) {
        int ticket = NativeBindings.CALLS.enter();
        try {
            return pread(fd, buf, count, offset);
        } finally {
            NativeBindings.CALLS.exit(ticket);
        }
    }

    /** {@link #pwrite} through the gate. */
    static long write(int fd, Pointer buf, long count, long offset) {
        int ticket = NativeBindings.CALLS.enter();
        try {
            return pwrite(fd, buf, count, offset);
        } finally {
            NativeBindings.CALLS.exit(ticket);
        }
    }

    /** {@link #preadv} through the gate. */
    static long readv(int fd, long iov, int iovcnt, long offset) {
        int ticket = NativeBindings.CALLS.enter();
        try {
            return preadv(fd, iov, iovcnt, offset);
        } finally {
            NativeBindings.CALLS.exit(ticket);
        }
    }

    /** {@link #pwritev} through the gate. */
    static long writev(int fd, long iov, int iovcnt, long offset) {
        int ticket = NativeBindings.CALLS.enter();
        try {
            return pwritev(fd, iov, iovcnt, offset);
        } finally {
            NativeBindings.CALLS.exit(ticket);
        }
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

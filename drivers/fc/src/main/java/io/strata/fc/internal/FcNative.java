package io.strata.fc.internal;

import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.NativeLong;
import io.strata.api.ErrorCode;
import io.strata.api.StorageException;

/**
 * The two libc calls the FC paths need beyond {@code io.strata.posix}: {@code fdatasync}
 * and the {@code BLKDISCARD} ioctl. 64-bit Linux only, like the rest of Strata's native code.
 */
interface FcNative extends Library {
    /** {@code _IO(0x12, 119)}: discard a byte range {@code uint64_t[2] {start, length}} of a block device. */
    long BLKDISCARD = 0x1277L;

    int fdatasync(int fd);

    int ioctl(int fd, NativeLong request, long[] range);

    /** @return libc, loaded on first use */
    static FcNative libc() {
        try {
            return Holder.INSTANCE;
        } catch (LinkageError e) {
            throw new StorageException(ErrorCode.INTERNAL, "cannot load libc through JNA: " + e, e);
        }
    }

    /** @return the errno of the last failed call on this thread */
    static int errno() {
        return Native.getLastError();
    }

    /** Loaded on first use, so a missing JNA fails where it is needed. */
    final class Holder {
        static final FcNative INSTANCE = Native.load("c", FcNative.class);

        private Holder() {
        }
    }
}

package io.strata.posix;

import com.sun.jna.LastErrorException;
import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.NativeLong;
import com.sun.jna.Platform;
import com.sun.jna.Pointer;
import com.sun.jna.ptr.IntByReference;
import com.sun.jna.ptr.LongByReference;
import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import java.io.IOException;
import java.lang.ref.Reference;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Map;

/**
 * Linux system calls Strata needs and Java lacks: fallocate, block device ioctls,
 * open-file-description locks, allocated blocks. Every failure becomes a
 * {@link StorageException} naming the path.
 */
public final class Posix {
    private Posix() {
    }

    static LibC libc() {
        if (!Platform.isLinux() || !Platform.is64Bit()) {
            throw new StorageException(ErrorCode.UNSUPPORTED, "Strata's native calls need 64-bit Linux");
        }
        try {
            return LibC.Holder.INSTANCE;
        } catch (LinkageError e) {
            throw new StorageException(ErrorCode.INTERNAL, "cannot load libc through JNA: " + e, e);
        }
    }

    private static StorageException fail(String what, Path path) {
        return Errno.exception(Native.getLastError(), what, path);
    }

    /** @return whether this process runs with effective user id 0 */
    public static boolean isRoot() {
        return libc().geteuid() == 0;
    }

    /**
     * Opens a file descriptor.
     *
     * @param path the file or device node
     * @param writable open read-write rather than read-only
     * @param createNew create the file, failing with {@code ALREADY_EXISTS} if it exists
     * @return the descriptor, to be closed with {@link #close(int)}
     */
    public static int open(Path path, boolean writable, boolean createNew) {
        // O_NOFOLLOW: a symbolic link planted in a datastore directory must never redirect a
        // volume's I/O to a file outside it (ELOOP, reported as INVALID_ARGUMENT).
        int flags = (writable ? LibC.O_RDWR : LibC.O_RDONLY) | LibC.O_CLOEXEC | LibC.O_NOFOLLOW;
        if (createNew) {
            flags |= LibC.O_CREAT | LibC.O_EXCL;
        }
        int fd = libc().open(path.toString(), flags, 0644);
        if (fd < 0) {
            throw fail(createNew ? "create" : "open", path);
        }
        return fd;
    }

    /** The most iovecs one pwritev takes on Linux (UIO_MAXIOV). */
    static final int IOV_MAX = 1024;
    private static final int EINTR = 4;

    /**
     * Writes all of the direct buffers {@code bufs} (pwritev), or fills them (preadv), one
     * after the other from {@code position}, again for the rest after a short transfer. Each
     * buffer's position advances by what was transferred, as after a channel read or write.
     *
     * @return the bytes transferred: all of them, or for a read fewer at the end of the file
     */
    static long transferAll(int fd, ByteBuffer[] bufs, long position, boolean write, Path path) {
        int first = 0;
        long pos = position;
        Map.Entry<ByteBuffer, Long> iovecs = IOVECS.get();
        ByteBuffer iov = iovecs.getKey();
        long iovAddress = iovecs.getValue();
        while (true) {
            while (first < bufs.length && !bufs[first].hasRemaining()) {
                first++;
            }
            if (first == bufs.length) {
                return pos - position;
            }
            int count = 0;
            for (int i = first; i < bufs.length; i++) {
                ByteBuffer b = bufs[i];
                iov.putLong(16 * count, Pointer.nativeValue(Native.getDirectBufferPointer(b)) + b.position());
                iov.putLong(16 * count + 8, b.remaining());
                count++;
            }
            long n;
            try {
                n = write ? FastIo.writev(fd, iovAddress, count, pos) : FastIo.readv(fd, iovAddress, count, pos);
            } catch (LastErrorException e) {
                if (e.getErrorCode() == EINTR) {
                    continue;
                }
                throw Errno.exception(e.getErrorCode(), write ? "write" : "read", path);
            } finally {
                // the iovecs hold bare addresses: the buffers must not be collected during the call
                Reference.reachabilityFence(bufs);
                Reference.reachabilityFence(iov);
            }
            if (n == 0) {
                if (!write) {
                    return pos - position; // the end of the file
                }
                throw new StorageException(ErrorCode.IO_ERROR, "cannot write " + path + ": the write made no progress");
            }
            pos += n;
            for (int i = first; i < bufs.length && n > 0; i++) {
                ByteBuffer b = bufs[i];
                int k = (int) Math.min(n, b.remaining());
                b.position(b.position() + k);
                n -= k;
            }
        }
    }

    /**
     * A thread's {@code struct iovec} array, in native memory and passed by its address: a
     * {@code long[]} argument is copied into memory the JVM allocates and frees on every call
     * (about a microsecond, in profiles of the NBD server's 1 MiB writes), an address is not
     * converted at all. 16 KiB per thread that has made a vectored call, with its address. The
     * value holds JDK classes only, so a thread that outlives this bundle does not keep its
     * class loader.
     */
    private static final ThreadLocal<Map.Entry<ByteBuffer, Long>> IOVECS = ThreadLocal.withInitial(() -> {
        ByteBuffer b = ByteBuffer.allocateDirect(16 * IOV_MAX).order(ByteOrder.nativeOrder());
        return Map.entry(b, Pointer.nativeValue(Native.getDirectBufferPointer(b)));
    });

    /** Closes a descriptor; never throws. */
    public static void close(int fd) {
        if (fd >= 0) {
            libc().close(fd);
        }
    }

    /**
     * @return a path through which Java can open the very file a descriptor refers to,
     *         even if it was renamed since
     */
    public static Path procPath(int fd) {
        return Path.of("/proc/self/fd/" + fd);
    }

    /**
     * Maps a range of a file shared and writable: stores into it are stores into the page cache.
     *
     * @return the address, or null when the kernel refuses (no address space left, a file that
     *         cannot be mapped); the caller then does without
     */
    static Pointer mapShared(int fd, long offset, long length) {
        Pointer p = libc().mmap(null, length, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_SHARED, fd, offset);
        return p == null || Pointer.nativeValue(p) == -1L ? null : p;
    }

    /** Unmaps what {@link #mapShared} mapped; dirty pages stay in the page cache. */
    static void unmap(Pointer address, long length) {
        libc().munmap(address, length);
    }

    /**
     * @return where the first hole at or after {@code offset} starts (the end of the file counts
     *         as one; a filesystem that cannot tell reports only that), or -1 when the call fails
     */
    static long nextHole(int fd, long offset) {
        return libc().lseek(fd, offset, LibC.SEEK_HOLE);
    }

    /** Reserves space for a range (fallocate mode 0); the file grows when the range passes its end. */
    public static void allocate(int fd, long offset, long length, Path path) {
        if (libc().fallocate(fd, 0, offset, length) != 0) {
            throw fail("allocate space in", path);
        }
    }

    /** Deallocates a range, keeping the file size (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE). */
    public static void punchHole(int fd, long offset, long length, Path path) {
        if (libc().fallocate(fd, LibC.FALLOC_FL_PUNCH_HOLE | LibC.FALLOC_FL_KEEP_SIZE, offset, length) != 0) {
            throw fail("punch a hole in", path);
        }
    }

    /** Sets the file size; growing leaves a hole. */
    public static void truncate(int fd, long size, Path path) {
        if (libc().ftruncate(fd, size) != 0) {
            throw fail("set the size of", path);
        }
    }

    /**
     * Takes or releases an open-file-description lock on the whole file. Unlike the
     * POSIX record locks behind FileChannel.lock, such a lock belongs to this
     * descriptor alone: closing another descriptor on the same file does not drop it,
     * and two descriptors in the same process conflict like two processes do.
     *
     * @return true when taken, false when someone else holds a conflicting lock
     */
    public static boolean lock(int fd, boolean exclusive, Path path) {
        return setLock(fd, exclusive ? LibC.F_WRLCK : LibC.F_RDLCK, path);
    }

    /** Releases the lock taken with {@link #lock}. */
    public static void unlock(int fd, Path path) {
        setLock(fd, LibC.F_UNLCK, path);
    }

    private static boolean setLock(int fd, short type, Path path) {
        LibC.Flock fl = new LibC.Flock();
        fl.l_type = type;
        fl.l_whence = 0;
        fl.l_start = 0;
        fl.l_len = 0;
        fl.l_pid = 0;
        if (libc().fcntl(fd, LibC.F_OFD_SETLK, fl) == 0) {
            return true;
        }
        int errno = Native.getLastError();
        if (errno == Errno.EAGAIN || errno == Errno.EACCES) {
            return false;
        }
        if (errno == Errno.EBADF) {
            throw new StorageException(ErrorCode.INVALID_ARGUMENT,
                    "cannot lock " + path + ": an exclusive lock needs the file open for writing");
        }
        throw Errno.exception(errno, "lock", path);
    }

    /** @return bytes allocated to the file behind a descriptor (st_blocks * 512), or -1 when unknown */
    public static long allocatedBytes(int fd) {
        return statxBlocks(fd, "", LibC.AT_EMPTY_PATH);
    }

    /** @return bytes allocated to a file (st_blocks * 512, not following a final symlink), or -1 when unknown */
    public static long allocatedBytes(Path path) {
        return statxBlocks(LibC.AT_FDCWD, path.toString(), LibC.AT_SYMLINK_NOFOLLOW);
    }

    /**
     * One statx buffer per thread: a listing stats every volume file, and a fresh native
     * buffer per call (malloc plus a cleaner registration) cost more than the system call.
     */
    private static final ThreadLocal<Memory> STATX_BUFFER =
            ThreadLocal.withInitial(() -> new Memory(LibC.STATX_SIZE_BYTES));

    private static long statxBlocks(int dirfd, String path, int flags) {
        Memory buf = STATX_BUFFER.get();
        buf.clear();
        try {
            if (libc().statx(dirfd, path, flags, LibC.STATX_BLOCKS, buf) != 0) {
                return -1;
            }
        } catch (UnsatisfiedLinkError e) {
            return -1; // glibc older than 2.28
        }
        if ((buf.getInt(LibC.STATX_OFF_MASK) & LibC.STATX_BLOCKS) == 0) {
            return -1;
        }
        return buf.getLong(LibC.STATX_OFF_BLOCKS) * 512;
    }

    /** @return the size in bytes of a block device (ioctl BLKGETSIZE64) */
    public static long blockDeviceSize(Path node) {
        int fd = open(node, false, false);
        try {
            LongByReference size = new LongByReference();
            if (libc().ioctl(fd, new NativeLong(LibC.BLKGETSIZE64), size) != 0) {
                throw fail("read the size of", node);
            }
            return size.getValue();
        } finally {
            close(fd);
        }
    }

    /** @return the logical sector size of a block device (ioctl BLKSSZGET) */
    public static int logicalSectorSize(Path node) {
        int fd = open(node, false, false);
        try {
            IntByReference size = new IntByReference();
            if (libc().ioctl(fd, new NativeLong(LibC.BLKSSZGET), size) != 0) {
                throw fail("read the sector size of", node);
            }
            return size.getValue();
        } finally {
            close(fd);
        }
    }

    /** Makes a directory's entries durable (creates, renames, deletes inside it). */
    public static void fsyncDirectory(Path dir) {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        } catch (IOException e) {
            throw Errno.exception(e, "sync directory", dir);
        }
    }
}

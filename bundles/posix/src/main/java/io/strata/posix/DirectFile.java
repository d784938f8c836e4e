package io.strata.posix;

import com.sun.jna.LastErrorException;
import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.device.WriteFence;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Objects;
import java.util.concurrent.ConcurrentLinkedDeque;

/**
 * A file or block device opened with {@code O_DIRECT}: reads and writes bypass the
 * host's page cache, so a write that returned is on the storage (or in its volatile
 * cache until {@link #sync()}) and a read sees what other hosts wrote.
 *
 * <p>The kernel wants the offset, the length and the memory address of every request
 * aligned: offset and length to {@link #alignment()}, the address to
 * {@link #memoryAlignment()}. Both come from {@code statx(STATX_DIOALIGN)} (Linux 6.1+);
 * where the kernel does not report them, the logical block size of the block device
 * under the file (or of the device itself) is taken, from sysfs. Callers pass any
 * buffer, heap or direct: a buffer whose address is not aligned is copied through an
 * aligned bounce buffer (at most 1 MiB at a time); offsets and lengths that are not
 * multiples of {@link #alignment()} are refused with {@code INVALID_ARGUMENT}.
 *
 * <p>Thread safe. {@link #close()} refuses new requests at once but closes the
 * descriptor only when the last request in progress returns, so a request stuck in
 * the kernel never sees its descriptor number reused by another file.
 */
public final class DirectFile implements AutoCloseable {
    /** The largest piece copied through one bounce buffer. */
    static final int CHUNK = 1 << 20;
    private static final int POOLED = 4;

    private final Path path;
    private final int fd;
    private final int alignment;
    private final int memoryAlignment;
    private final ConcurrentLinkedDeque<ByteBuffer> bounces = new ConcurrentLinkedDeque<>();
    private int users;
    private boolean closed;

    private DirectFile(Path path, int fd, int alignment, int memoryAlignment) {
        this.path = path;
        this.fd = fd;
        this.alignment = alignment;
        this.memoryAlignment = memoryAlignment;
    }

    /**
     * Opens a file or device node for uncached I/O. Symbolic links are followed (a
     * device is typically named by a {@code /dev/disk/by-id} link).
     *
     * @param path the file or node
     * @param writable read-write rather than read-only
     * @return the open file
     * @throws StorageException {@code UNSUPPORTED} when the filesystem refuses O_DIRECT
     *         (ramfs, some FUSE filesystems, tmpfs before Linux 6.6) or reports it cannot do
     *         direct I/O on this file; otherwise as an open would
     */
    public static DirectFile open(Path path, boolean writable) {
        LibC libc = Posix.libc();
        int flags = (writable ? LibC.O_RDWR : LibC.O_RDONLY) | LibC.O_CLOEXEC | LibC.oDirect();
        int fd = libc.open(path.toString(), flags, 0);
        if (fd < 0) {
            int errno = Native.getLastError();
            if (errno == Errno.EINVAL) {
                throw new StorageException(ErrorCode.UNSUPPORTED, "the filesystem under " + path
                        + " refuses uncached I/O (open with O_DIRECT: " + Errno.describe(errno) + ")");
            }
            throw Errno.exception(errno, "open", path);
        }
        try {
            int[] align = alignment(libc, fd, path);
            return new DirectFile(path, fd, align[0], align[1]);
        } catch (RuntimeException e) {
            libc.close(fd);
            throw e;
        }
    }

    /** @return {offset alignment, memory alignment} */
    private static int[] alignment(LibC libc, int fd, Path path) {
        Memory buf = new Memory(LibC.STATX_SIZE_BYTES);
        buf.clear();
        int rc;
        try {
            rc = libc.statx(fd, "", LibC.AT_EMPTY_PATH, LibC.STATX_TYPE | LibC.STATX_DIOALIGN, buf);
        } catch (UnsatisfiedLinkError e) {
            rc = -1; // glibc older than 2.28
        }
        if (rc != 0) {
            return new int[] {512, 512}; // no statx: the smallest sector there is; a misfit fails with EINVAL
        }
        int mask = buf.getInt(LibC.STATX_OFF_MASK);
        if ((mask & LibC.STATX_DIOALIGN) != 0) {
            int offsetAlign = buf.getInt(LibC.STATX_OFF_DIO_OFFSET_ALIGN);
            int memAlign = buf.getInt(LibC.STATX_OFF_DIO_MEM_ALIGN);
            if (offsetAlign == 0 || memAlign == 0) {
                throw new StorageException(ErrorCode.UNSUPPORTED, "the filesystem under " + path
                        + " cannot do uncached I/O on it (statx reports no direct I/O alignment; "
                        + "e.g. ext4 with data=journal, or an encrypted file)");
            }
            return new int[] {offsetAlign, Math.max(memAlign, 1)};
        }
        boolean block = (buf.getShort(LibC.STATX_OFF_MODE) & LibC.S_IFMT) == LibC.S_IFBLK;
        int major = buf.getInt(block ? LibC.STATX_OFF_RDEV_MAJOR : LibC.STATX_OFF_DEV_MAJOR);
        int minor = buf.getInt(block ? LibC.STATX_OFF_RDEV_MINOR : LibC.STATX_OFF_DEV_MINOR);
        int lbs = logicalBlockSize(Path.of("/sys/dev/block"), major, minor);
        int a = lbs > 0 ? lbs : 512;
        return new int[] {a, a};
    }

    /** @return the logical block size of a block device (its queue, or its disk's for a partition), or -1 */
    static int logicalBlockSize(Path sysDevBlock, int major, int minor) {
        if (major == 0) {
            return -1; // an anonymous device: tmpfs, NFS, overlay
        }
        try {
            Path dev = sysDevBlock.resolve(major + ":" + minor).toRealPath();
            for (Path d : new Path[] {dev, dev.getParent()}) {
                Path q = d.resolve("queue/logical_block_size");
                if (Files.isRegularFile(q)) {
                    return Integer.parseInt(Files.readString(q).trim());
                }
            }
        } catch (IOException | RuntimeException e) {
            // not in sysfs
        }
        return -1;
    }

    /** @return the alignment of offsets and lengths in bytes (a power of two) */
    public int alignment() {
        return alignment;
    }

    /** @return the alignment of buffer addresses in bytes */
    public int memoryAlignment() {
        return memoryAlignment;
    }

    /** @return the path it was opened with */
    public Path path() {
        return path;
    }

    /**
     * @return whether the kernel shows O_DIRECT on the open descriptor
     *         ({@code /proc/self/fdinfo}); for diagnostics and tests
     */
    public boolean isUncached() {
        pin("inspect");
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/fdinfo/" + fd))) {
                if (line.startsWith("flags:")) {
                    return (Integer.parseInt(line.substring(6).trim(), 8) & LibC.oDirect()) != 0;
                }
            }
            return false;
        } catch (IOException | NumberFormatException e) {
            return false;
        } finally {
            unpin();
        }
    }

    /**
     * Reads {@code dst.remaining()} bytes at {@code offset}, filling the buffer.
     *
     * @throws StorageException {@code INVALID_ARGUMENT} for a misaligned offset or length,
     *         {@code IO_ERROR} (also at an unexpected end of data), {@code DEVICE_UNAVAILABLE}
     *         when closed or when the device went away
     */
    public void read(ByteBuffer dst, long offset) {
        transfer(dst, offset, false, null);
    }

    /**
     * Writes all of {@code src} at {@code offset}.
     *
     * @throws StorageException as {@link #read}, {@code DATASTORE_FULL} when the filesystem is
     *         full, {@code READ_ONLY}
     */
    public void write(ByteBuffer src, long offset) {
        transfer(src, offset, true, null);
    }

    /**
     * {@link #write(ByteBuffer, long)}, checking {@code fence} before each {@code pwrite} system
     * call it makes (one per chunk, and again after a short write). When it refuses, the rest of
     * the write is not made and its exception is thrown: the check of a host that may lose its
     * right to write (a lease) runs right before the bytes leave the process.
     */
    public void write(ByteBuffer src, long offset, WriteFence fence) {
        transfer(src, offset, true, Objects.requireNonNull(fence, "fence"));
    }

    /** Makes written data durable (fsync, which also flushes the device's volatile cache). */
    public void sync() {
        pin("sync");
        try {
            if (Posix.libc().fsync(fd) != 0) {
                throw Errno.exception(Native.getLastError(), "sync", path);
            }
        } finally {
            unpin();
        }
    }

    private void transfer(ByteBuffer buf, long offset, boolean write, WriteFence fence) {
        String what = write ? "write" : "read";
        int length = buf.remaining();
        if (offset < 0 || offset % alignment != 0 || length % alignment != 0) {
            throw new StorageException(ErrorCode.INVALID_ARGUMENT, "cannot " + what + " " + path + ": uncached I/O at "
                    + offset + " of " + length + " bytes is not aligned to " + alignment + " bytes");
        }
        pin(what);
        try {
            if (buf.isDirect() && (address(buf) % memoryAlignment) == 0) {
                Pointer p = Native.getDirectBufferPointer(buf).share(buf.position());
                io(p, length, offset, write, fence);
                buf.position(buf.limit());
                return;
            }
            ByteBuffer bounce = bounce();
            try {
                long off = offset;
                while (buf.hasRemaining()) {
                    int n = Math.min(buf.remaining(), CHUNK);
                    bounce.clear();
                    if (write) {
                        ByteBuffer piece = buf.duplicate();
                        piece.limit(piece.position() + n);
                        bounce.put(piece);
                    }
                    io(Native.getDirectBufferPointer(bounce), n, off, write, fence);
                    if (write) {
                        buf.position(buf.position() + n);
                    } else {
                        bounce.position(0).limit(n);
                        buf.put(bounce);
                    }
                    off += n;
                }
            } finally {
                if (bounces.size() < POOLED) {
                    bounces.push(bounce);
                }
            }
        } finally {
            unpin();
        }
    }

    private void io(Pointer p, long length, long offset, boolean write, WriteFence fence) {
        long done = 0;
        while (done < length) {
            if (fence != null) {
                fence.check();
            }
            Pointer at = p.share(done);
            long n;
            int errno = 0;
            try {
                n = write ? FastIo.write(fd, at, length - done, offset + done)
                        : FastIo.read(fd, at, length - done, offset + done);
            } catch (LastErrorException e) {
                n = -1;
                errno = e.getErrorCode();
            }
            if (n < 0) {
                if (errno == Errno.EINTR) {
                    continue;
                }
                if (errno == Errno.EINVAL) {
                    throw new StorageException(ErrorCode.INVALID_ARGUMENT, "cannot " + (write ? "write" : "read")
                            + " " + path + ": the kernel refuses uncached I/O at " + (offset + done) + " of "
                            + (length - done) + " bytes (" + Errno.describe(errno)
                            + "); the storage needs a larger alignment than " + alignment + " bytes");
                }
                throw Errno.exception(errno, write ? "write" : "read", path);
            }
            if (n == 0) {
                throw new StorageException(ErrorCode.IO_ERROR, "cannot " + (write ? "write" : "read") + " " + path
                        + ": unexpected end of data at " + (offset + done));
            }
            done += n;
        }
    }

    private ByteBuffer bounce() {
        ByteBuffer b = bounces.poll();
        if (b != null) {
            return b;
        }
        int a = Math.max(4096, memoryAlignment);
        return ByteBuffer.allocateDirect(CHUNK + a).alignedSlice(a).limit(CHUNK).slice();
    }

    private static long address(ByteBuffer b) {
        return Pointer.nativeValue(Native.getDirectBufferPointer(b)) + b.position();
    }

    private synchronized void pin(String what) {
        if (closed) {
            throw new StorageException(ErrorCode.DEVICE_UNAVAILABLE, "cannot " + what + " " + path + ": it is closed");
        }
        users++;
    }

    private synchronized void unpin() {
        users--;
        if (closed && users == 0) {
            Posix.libc().close(fd);
        }
    }

    /** Refuses new requests; the descriptor closes when the last request in progress returns. Never throws. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (users == 0) {
            Posix.libc().close(fd);
        }
    }
}

package io.strata.fc.internal;

import com.sun.jna.NativeLong;
import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.device.WriteFence;
import io.strata.multipath.PathFailedException;
import io.strata.multipath.PathTransport;
import io.strata.posix.DirectFile;
import io.strata.posix.Errno;
import io.strata.posix.FenceCheck;
import io.strata.posix.Posix;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Objects;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One Fibre Channel path: the SCSI disk {@code H:C:T:L} reached through one HBA port and one
 * remote target port, used through its block device node with {@code O_DIRECT}.
 *
 * <p>The node is opened on first use (I/O or check) and kept open; {@code flush} and
 * {@code unmap} open it briefly again without {@code O_DIRECT} for {@code fdatasync} and
 * {@code BLKDISCARD} (or a punched hole when the "node" is a regular file, as in tests).
 *
 * <p>Failures of the transport are {@link PathFailedException}s, so that the multipath layer
 * retries elsewhere: {@code EIO}, {@code ENXIO}, {@code ENODEV}, {@code ENOLINK},
 * {@code ETIMEDOUT} and the like, and a node that vanished or was replaced (checked with a
 * {@code stat} before every request). Errors the LUN itself reported, the same on every path,
 * stay {@link StorageException}s: a medium error ({@code ENODATA}), a protection information
 * error ({@code EILSEQ}), a target or reservation error ({@code EREMOTEIO}, {@code EBADE}),
 * no space on a thin LUN ({@code ENOSPC}), read-only, unsupported, misaligned or out of range.
 */
final class FcPath implements PathTransport {
    private static final System.Logger LOG = System.getLogger(FcPath.class.getName());
    /** errno values the block layer gives for errors the LUN reported rather than the path (blk_path_error). */
    private static final Set<Integer> DEVICE_ERRNOS = Set.of(61 /* ENODATA */, 84 /* EILSEQ */,
            121 /* EREMOTEIO */, 52 /* EBADE */);
    private static final Pattern ERRNO = Pattern.compile("\\(errno (\\d+)\\)");
    private static final int S_IFMT = 0170000;
    private static final int S_IFBLK = 0060000;
    private static final int S_IFREG = 0100000;

    private final ScsiPath path;
    private final Object lock = new Object();
    /** The open node and what it was when opened; null until first use and after a reconnect. */
    private volatile Handle handle;
    private volatile boolean closed;

    /** The node opened for I/O and its identity (device and inode) at that time. */
    private record Handle(DirectFile file, Object fileKey) {
    }

    FcPath(ScsiPath path) {
        this.path = Objects.requireNonNull(path, "path");
    }

    /** @return what discovery found for this path */
    ScsiPath scsiPath() {
        return path;
    }

    /** @return whether the open node bypasses the page cache (O_DIRECT on its descriptor); for tests */
    boolean uncached() {
        return open().file.isUncached();
    }

    @Override
    public String id() {
        return path.id();
    }

    @Override
    public String transport() {
        return path.transport();
    }

    @Override
    public String identity() {
        return path.identity();
    }

    @Override
    public long size() {
        return path.size();
    }

    @Override
    public int sectorSize() {
        return path.sectorSize();
    }

    @Override
    public void read(ByteBuffer dst, long offset) {
        checkRange(offset, dst.remaining());
        Handle h = open();
        present(h);
        try {
            h.file.read(dst, offset);
        } catch (StorageException e) {
            throw classify(e);
        }
    }

    @Override
    public void write(ByteBuffer src, long offset) {
        write(src, offset, WriteFence.NONE);
    }

    /** Checks {@code fence} right before each {@code pwrite} of the disk node. */
    @Override
    public void write(ByteBuffer src, long offset, WriteFence fence) {
        checkRange(offset, src.remaining());
        Handle h = open();
        present(h);
        FenceCheck checked = new FenceCheck(fence);
        try {
            h.file.write(src, offset, checked);
        } catch (StorageException e) {
            if (checked.refused(e)) {
                throw e; // the host may no longer write: not a failure of this path
            }
            throw classify(e);
        }
    }

    @Override
    public void flush() {
        present(open());
        int fd = openControl();
        try {
            if (FcNative.libc().fdatasync(fd) != 0) {
                throw classify(Errno.exception(FcNative.errno(), "flush (fdatasync)", path.node()));
            }
        } finally {
            Posix.close(fd);
        }
    }

    @Override
    public boolean canUnmap() {
        int type = nodeType();
        if (type == S_IFREG) {
            return true; // a file standing in for a disk: a punched hole
        }
        if (type == S_IFBLK) {
            String max = FcSysfs.read(path.discardMaxBytesFile()).orElse("0");
            try {
                return Long.parseLong(max) > 0;
            } catch (NumberFormatException e) {
                return false;
            }
        }
        return false;
    }

    @Override
    public void unmap(long offset, long length) {
        checkRange(offset, length);
        present(open());
        int type = nodeType();
        if (type != S_IFBLK && type != S_IFREG) {
            throw new StorageException(ErrorCode.UNSUPPORTED, "path " + id() + ": " + path.node()
                    + " is neither a block device nor a file; it cannot unmap");
        }
        if (length == 0) {
            return;
        }
        int fd = openControl();
        try {
            if (type == S_IFREG) {
                Posix.punchHole(fd, offset, length, path.node());
            } else if (FcNative.libc().ioctl(fd, new NativeLong(FcNative.BLKDISCARD),
                    new long[] {offset, length}) != 0) {
                int errno = FcNative.errno();
                if (errno == Errno.EOPNOTSUPP || errno == Errno.ENOTTY) {
                    throw new StorageException(ErrorCode.UNSUPPORTED, "path " + id() + ": LUN " + path.deviceId()
                            + " does not support unmap (BLKDISCARD on " + path.node() + ": "
                            + Errno.describe(errno) + ")");
                }
                throw Errno.exception(errno, "discard a range of", path.node());
            }
        } catch (StorageException e) {
            throw classify(e);
        } finally {
            Posix.close(fd);
        }
    }

    /**
     * Checks the path from sysfs: the HBA port and the remote port must be {@code Online},
     * the SCSI device {@code running}, the node the one opened; then one sector is read.
     */
    @Override
    public void check() {
        if (closed) {
            throw new PathFailedException("path " + id() + " is closed");
        }
        String hostState = FcSysfs.read(path.host().portStateFile()).orElse("gone");
        if (!"Online".equals(hostState)) {
            throw new PathFailedException("path " + id() + ": HBA port " + path.host().name() + " ("
                    + path.host().portName() + ") is " + hostState);
        }
        String rportState = FcSysfs.read(path.rport().portStateFile()).orElse("gone");
        if (!"Online".equals(rportState)) {
            throw new PathFailedException("path " + id() + ": remote port " + path.rport().name() + " ("
                    + path.rport().portName() + ") is " + rportState);
        }
        String deviceState = FcSysfs.read(path.stateFile()).orElse("gone");
        if (!"running".equals(deviceState)) {
            throw new PathFailedException("path " + id() + ": SCSI device " + path.hctl() + " is " + deviceState);
        }
        read(ByteBuffer.allocate(path.sectorSize()), 0);
    }

    /** Opens the node again when it was replaced (the disk went and came back), then checks. */
    @Override
    public void reconnect() {
        synchronized (lock) {
            Handle h = handle;
            if (h != null && !Objects.equals(h.fileKey, fileKey(path.node()))) {
                handle = null;
                h.file.close();
                LOG.log(System.Logger.Level.INFO, "path " + id() + ": " + path.node() + " was replaced; reopening it");
            }
        }
        check();
    }

    @Override
    public void close() {
        synchronized (lock) {
            closed = true;
            Handle h = handle;
            handle = null;
            if (h != null) {
                h.file.close();
            }
        }
    }

    private Handle open() {
        Handle h = handle;
        if (h != null) {
            return h;
        }
        synchronized (lock) {
            if (closed) {
                throw new PathFailedException("path " + id() + " is closed");
            }
            if (handle == null) {
                Object key = fileKey(path.node());
                if (key == null) {
                    throw new PathFailedException("path " + id() + ": " + path.node() + " is gone");
                }
                DirectFile f;
                try {
                    f = DirectFile.open(path.node(), true);
                } catch (StorageException e) {
                    if (e.code() == ErrorCode.UNSUPPORTED) {
                        throw new StorageException(ErrorCode.UNSUPPORTED, "path " + id() + ": " + e.getMessage(), e);
                    }
                    if (e.code() == ErrorCode.PERMISSION_DENIED) {
                        throw new StorageException(ErrorCode.PERMISSION_DENIED, "path " + id() + ": opening "
                                + path.node() + " needs root", e);
                    }
                    throw classify(e);
                }
                if (f.alignment() > path.sectorSize()) {
                    f.close();
                    throw new StorageException(ErrorCode.UNSUPPORTED, "path " + id() + ": uncached I/O on "
                            + path.node() + " must be aligned to " + f.alignment() + " bytes, more than the LUN's "
                            + path.sectorSize() + "-byte sectors");
                }
                handle = new Handle(f, key);
            }
            return handle;
        }
    }

    /** Opens the node without O_DIRECT for fdatasync and discard; the caller closes it. */
    private int openControl() {
        try {
            return Posix.open(path.node(), true, false);
        } catch (StorageException e) {
            throw classify(e);
        }
    }

    /** Fails the path when its node is gone or is not the one opened. */
    private void present(Handle h) {
        Object now = fileKey(path.node());
        if (now == null) {
            throw new PathFailedException("path " + id() + ": " + path.node() + " is gone");
        }
        if (!now.equals(h.fileKey)) {
            throw new PathFailedException("path " + id() + ": " + path.node() + " was replaced by another device");
        }
    }

    private void checkRange(long offset, long length) {
        int s = path.sectorSize();
        if (offset < 0 || length < 0 || offset % s != 0 || length % s != 0) {
            throw new StorageException(ErrorCode.INVALID_ARGUMENT, "path " + id() + ": request at " + offset + " of "
                    + length + " bytes is not aligned to " + s + "-byte sectors");
        }
        if (offset > path.size() || length > path.size() - offset) {
            throw new StorageException(ErrorCode.OUT_OF_RANGE, "LUN " + path.deviceId() + ": request at " + offset
                    + " of " + length + " bytes passes the end (" + path.size() + " bytes)");
        }
    }

    /** @return a path failure for transport errors, the exception itself for errors of the LUN */
    private RuntimeException classify(StorageException e) {
        switch (e.code()) {
            case DEVICE_UNAVAILABLE:
            case FILE_NOT_FOUND:
                return new PathFailedException("path " + id() + ": " + e.getMessage(), e);
            case IO_ERROR:
                Matcher m = ERRNO.matcher(String.valueOf(e.getMessage()));
                if (m.find() && DEVICE_ERRNOS.contains(Integer.parseInt(m.group(1)))) {
                    return new StorageException(ErrorCode.IO_ERROR, "LUN " + path.deviceId() + " through path " + id()
                            + ": " + e.getMessage(), e);
                }
                return new PathFailedException("path " + id() + ": " + e.getMessage(), e);
            default:
                return e;
        }
    }

    /** @return the file type bits of the node ({@code S_IFBLK}, {@code S_IFREG}), 0 when it is gone */
    private int nodeType() {
        try {
            return ((Integer) Files.getAttribute(path.node(), "unix:mode")) & S_IFMT;
        } catch (IOException | RuntimeException e) {
            return 0;
        }
    }

    private static Object fileKey(Path p) {
        try {
            return Files.readAttributes(p, BasicFileAttributes.class).fileKey();
        } catch (IOException e) {
            return null;
        }
    }
}

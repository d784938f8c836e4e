package io.strata.local.internal;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.device.BlockDevice;
import io.strata.api.device.DeviceInfo;
import io.strata.posix.Errno;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Optional;

/** A block device reached through a FileChannel on a device node or a backing file. */
final class ChannelBlockDevice implements BlockDevice {
    private final DeviceInfo info;
    private final Path path;
    private final FileChannel channel;
    private final boolean readOnly;

    ChannelBlockDevice(DeviceInfo info, Path path, boolean readOnly) {
        this.info = info;
        this.path = path;
        this.readOnly = readOnly;
        try {
            this.channel = readOnly ? FileChannel.open(path, StandardOpenOption.READ)
                    : FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE);
        } catch (IOException e) {
            StorageException se = Errno.exception(e, "open", path);
            if (se.code() == ErrorCode.PERMISSION_DENIED) {
                throw new StorageException(ErrorCode.PERMISSION_DENIED,
                        "opening device " + info.ref() + " (" + path + ") needs root or write access to it", e);
            }
            if (se.code() == ErrorCode.FILE_NOT_FOUND) {
                throw new StorageException(ErrorCode.DEVICE_UNAVAILABLE,
                        "device " + info.ref() + ": " + path + " does not exist", e);
            }
            throw se;
        }
    }

    @Override
    public DeviceInfo info() {
        return info;
    }

    @Override
    public Optional<Path> localPath() {
        return Optional.of(path);
    }

    @Override
    public long size() {
        return info.size();
    }

    @Override
    public int sectorSize() {
        return info.sectorSize();
    }

    private void check(long offset, int length) {
        int s = info.sectorSize();
        if (offset < 0 || offset % s != 0 || length % s != 0) {
            throw new StorageException(ErrorCode.INVALID_ARGUMENT, "device " + info.ref() + ": request at "
                    + offset + " of " + length + " bytes is not aligned to " + s + "-byte sectors");
        }
        if (offset > info.size() || length > info.size() - offset) {
            throw new StorageException(ErrorCode.OUT_OF_RANGE, "device " + info.ref() + ": request at " + offset
                    + " of " + length + " bytes passes the end (" + info.size() + " bytes)");
        }
    }

    @Override
    public void read(ByteBuffer dst, long offset) {
        check(offset, dst.remaining());
        long p = offset;
        try {
            while (dst.hasRemaining()) {
                int n = channel.read(dst, p);
                if (n < 0) {
                    throw new StorageException(ErrorCode.IO_ERROR,
                            "device " + info.ref() + ": unexpected end of data at " + p);
                }
                p += n;
            }
        } catch (IOException e) {
            throw Errno.exception(e, "read", path);
        }
    }

    @Override
    public void write(ByteBuffer src, long offset) {
        if (readOnly) {
            throw new StorageException(ErrorCode.READ_ONLY, "device " + info.ref() + " is read-only");
        }
        check(offset, src.remaining());
        long p = offset;
        try {
            while (src.hasRemaining()) {
                p += channel.write(src, p);
            }
        } catch (IOException e) {
            throw Errno.exception(e, "write", path);
        }
    }

    @Override
    public void flush() {
        try {
            channel.force(true);
        } catch (IOException e) {
            throw Errno.exception(e, "flush", path);
        }
    }

    @Override
    public void unmap(long offset, long length) {
        throw new StorageException(ErrorCode.UNSUPPORTED, "device " + info.ref() + " does not support unmap");
    }

    @Override
    public void close() {
        try {
            channel.close();
        } catch (IOException e) {
            // nothing left to do with a device being released
        }
    }
}

package io.strata.fs.ext4.internal;

import io.strata.api.device.BlockDevice;
import io.strata.api.device.DeviceInfo;
import io.strata.api.device.DeviceKind;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Optional;

/** A block device on a file or a device node, reporting the identity it is given (null: none, as before 1.1). */
record TestDevice(String id, Path path, String ident) implements BlockDevice {
    @Override
    public DeviceInfo info() {
        return new DeviceInfo("res", id, DeviceKind.BLOCK, 64L << 20, 512, "test device " + path,
                ident == null ? "" : ident);
    }

    @Override
    public Optional<String> identity() {
        return Optional.ofNullable(ident);
    }

    @Override
    public Optional<Path> localPath() {
        return Optional.of(path);
    }

    @Override
    public long size() {
        return 64L << 20;
    }

    @Override
    public int sectorSize() {
        return 512;
    }

    @Override
    public void read(ByteBuffer dst, long offset) {
        throw new UnsupportedOperationException();
    }

    @Override
    public void write(ByteBuffer src, long offset) {
        throw new UnsupportedOperationException();
    }

    @Override
    public void flush() {
    }

    @Override
    public void unmap(long offset, long length) {
        throw new UnsupportedOperationException();
    }

    @Override
    public void close() {
    }
}

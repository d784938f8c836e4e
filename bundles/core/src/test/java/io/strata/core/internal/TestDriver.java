package io.strata.core.internal;

import io.strata.api.Capability;
import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.device.BlockDevice;
import io.strata.api.device.DeviceInfo;
import io.strata.api.device.DeviceKind;
import io.strata.api.device.FileShare;
import io.strata.api.device.StorageDevice;
import io.strata.api.device.StorageDriver;
import io.strata.api.device.StorageResource;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A driver like the local one: kind=directory offers one file share "dir";
 * kind=file-lun one block device "lun"; kind=multi two shares "a" and "b".
 */
final class TestDriver implements StorageDriver {
    final AtomicInteger attaches = new AtomicInteger();
    final List<TestResource> open = new ArrayList<>();

    @Override
    public String type() {
        return "local";
    }

    @Override
    public String description() {
        return "test driver";
    }

    @Override
    public Set<Capability> capabilities() {
        return Set.of(Capability.FILE_SHARES, Capability.BLOCK_DEVICES);
    }

    @Override
    public Map<String, String> parameters() {
        return Map.of("kind", "directory|file-lun|multi", "path", "where");
    }

    @Override
    public synchronized StorageResource attach(String name, Map<String, String> parameters) {
        String kind = parameters.get("kind");
        String path = parameters.get("path");
        if (kind == null || path == null) {
            throw new StorageException(ErrorCode.INVALID_ARGUMENT, "kind and path are required");
        }
        attaches.incrementAndGet();
        TestResource r = new TestResource(name, Path.of(path), kind, parameters);
        open.add(r);
        return r;
    }

    static final class TestResource implements StorageResource {
        final String name;
        final Path path;
        final String kind;
        final Map<String, String> parameters;
        volatile boolean closed;

        TestResource(String name, Path path, String kind, Map<String, String> parameters) {
            this.name = name;
            this.path = path;
            this.kind = kind;
            this.parameters = parameters;
        }

        @Override
        public String name() {
            return name;
        }

        @Override
        public String driverType() {
            return "local";
        }

        @Override
        public Map<String, String> parameters() {
            return parameters;
        }

        @Override
        public List<DeviceInfo> devices() {
            return switch (kind) {
                case "directory" -> List.of(new DeviceInfo(name, "dir", DeviceKind.FILE_SHARE, -1, 0, path.toString()));
                case "file-lun" -> List.of(new DeviceInfo(name, "lun", DeviceKind.BLOCK, 1 << 20, 512, path.toString()));
                case "multi" -> List.of(new DeviceInfo(name, "a", DeviceKind.FILE_SHARE, -1, 0, "a"),
                        new DeviceInfo(name, "b", DeviceKind.FILE_SHARE, -1, 0, "b"));
                default -> throw new StorageException(ErrorCode.INVALID_ARGUMENT, "kind " + kind);
            };
        }

        @Override
        public StorageDevice openDevice(String deviceId) {
            if (closed) {
                throw new StorageException(ErrorCode.DEVICE_UNAVAILABLE, "resource " + name + " is detached");
            }
            DeviceInfo info = devices().stream().filter(d -> d.id().equals(deviceId)).findFirst()
                    .orElseThrow(() -> new StorageException(ErrorCode.DEVICE_NOT_FOUND, deviceId));
            Path p = info.kind() == DeviceKind.FILE_SHARE && kind.equals("multi") ? path.resolve(deviceId) : path;
            if (info.kind() == DeviceKind.BLOCK) {
                return new Lun(info);
            }
            try {
                Files.createDirectories(p);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            return new Share(info, p);
        }

        @Override
        public void close() {
            closed = true;
        }
    }

    record Share(DeviceInfo info, Path path) implements FileShare {
        @Override
        public Optional<Path> localPath() {
            return Optional.of(path);
        }

        @Override
        public String uri() {
            return path.toUri().toString();
        }

        @Override
        public void close() {
        }
    }

    record Lun(DeviceInfo info) implements BlockDevice {
        @Override
        public Optional<Path> localPath() {
            return Optional.empty();
        }

        @Override
        public long size() {
            return info.size();
        }

        @Override
        public int sectorSize() {
            return 512;
        }

        @Override
        public void read(ByteBuffer dst, long offset) {
        }

        @Override
        public void write(ByteBuffer src, long offset) {
        }

        @Override
        public void flush() {
        }

        @Override
        public void unmap(long offset, long length) {
        }

        @Override
        public void close() {
        }
    }
}

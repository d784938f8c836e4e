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
    /** When set, attach throws it (a server that does not answer); cleared, attach works again. */
    volatile RuntimeException refuseAttach;
    /** The state given by the shares of kind "stateful", as a NAS export gives its server's. */
    volatile io.strata.api.device.DeviceState shareState = io.strata.api.device.DeviceState.ONLINE;
    final List<TestResource> open = new ArrayList<>();
    final String type;

    TestDriver() {
        this("local");
    }

    /** @param type the driver type, for a second driver beside "local" */
    TestDriver(String type) {
        this.type = type;
    }

    @Override
    public String type() {
        return type;
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
        RuntimeException refused = refuseAttach;
        if (refused != null) {
            throw refused;
        }
        attaches.incrementAndGet();
        TestResource r = new TestResource(name, Path.of(path), kind, parameters, type);
        r.driver = this;
        open.add(r);
        return r;
    }

    static final class TestResource implements StorageResource {
        final String name;
        final Path path;
        final String kind;
        final Map<String, String> parameters;
        final String type;
        TestDriver driver;
        volatile boolean closed;

        TestResource(String name, Path path, String kind, Map<String, String> parameters, String type) {
            this.type = type;
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
            return type;
        }

        @Override
        public Map<String, String> parameters() {
            return parameters;
        }

        @Override
        public List<DeviceInfo> devices() {
            return switch (kind) {
                case "directory", "stateful" ->
                    List.of(new DeviceInfo(name, "dir", DeviceKind.FILE_SHARE, -1, 0, path.toString()));
                case "file-lun" -> List.of(new DeviceInfo(name, "lun", DeviceKind.BLOCK, 1 << 20, 512, path.toString()));
                case "mem-luns" -> List.of(
                        new DeviceInfo(name, "m1", DeviceKind.BLOCK, MemLun.SIZE, 512, "memory LUN 1",
                                MemLun.identity(path, "m1")),
                        new DeviceInfo(name, "m2", DeviceKind.BLOCK, MemLun.SIZE, 512, "memory LUN 2",
                                MemLun.identity(path, "m2")));
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
            if (info.kind() == DeviceKind.BLOCK && kind.equals("mem-luns")) {
                MemLun lun = new MemLun(info, MemLun.bytes(path, deviceId), this);
                return lun;
            }
            if (info.kind() == DeviceKind.BLOCK) {
                return new Lun(info);
            }
            try {
                Files.createDirectories(p);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            return kind.equals("stateful") ? new StatefulShare(info, p, driver) : new Share(info, p);
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

    /**
     * A directory share that also tells a state, as a NAS export does ({@link io.strata.api.fs.ShareFiles}):
     * the core reads only {@link #state()}; the test filesystem uses the local path.
     */
    record StatefulShare(DeviceInfo info, Path path, TestDriver driver) implements FileShare,
            io.strata.api.fs.ShareFiles {
        @Override
        public Optional<Path> localPath() {
            return Optional.of(path);
        }

        @Override
        public String uri() {
            return path.toUri().toString();
        }

        @Override
        public io.strata.api.device.DeviceState state() {
            return driver.shareState;
        }

        @Override
        public io.strata.api.device.Subscription addStateListener(
                java.util.function.Consumer<io.strata.api.device.DeviceState> listener) {
            return () -> { };
        }

        private static UnsupportedOperationException unused() {
            return new UnsupportedOperationException("the test filesystem uses the local path");
        }

        @Override
        public List<String> list(String directory) {
            throw unused();
        }

        @Override
        public boolean isDirectory(String p) {
            throw unused();
        }

        @Override
        public io.strata.api.fs.FileStat stat(String p) {
            throw unused();
        }

        @Override
        public io.strata.api.fs.DatastoreFile open(String p, boolean writable) {
            throw unused();
        }

        @Override
        public io.strata.api.fs.DatastoreFile create(String p, boolean exclusive) {
            throw unused();
        }

        @Override
        public void mkdir(String p) {
            throw unused();
        }

        @Override
        public void delete(String p) {
            throw unused();
        }

        @Override
        public void rename(String from, String to) {
            throw unused();
        }

        @Override
        public io.strata.api.fs.SpaceInfo space() {
            throw unused();
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

    /**
     * A block device in memory whose bytes outlive the resource (kept by path and device id), so
     * a detach and re-attach finds the same data; I/O after its resource is closed fails with
     * DEVICE_UNAVAILABLE, as a real driver's would.
     */
    static final class MemLun implements BlockDevice {
        static final int SIZE = 4 << 20;
        static final Map<String, byte[]> DATA = new java.util.concurrent.ConcurrentHashMap<>();
        static final Map<String, String> IDENTITIES = new java.util.concurrent.ConcurrentHashMap<>();
        /**
         * When set, readAsync and writeAsync return at once and do the I/O when this executor
         * runs it, as a driver's I/O thread would; when null they are the interface's default.
         */
        static volatile java.util.concurrent.Executor ASYNC;
        final DeviceInfo info;
        final byte[] bytes;
        final TestResource resource;

        MemLun(DeviceInfo info, byte[] bytes, TestResource resource) {
            this.info = info;
            this.bytes = bytes;
            this.resource = resource;
        }

        static byte[] bytes(Path path, String id) {
            return DATA.computeIfAbsent(path + "/" + id, k -> new byte[SIZE]);
        }

        /** The identity of a LUN; a test may replace it (a different LUN behind the same name). */
        static String identity(Path path, String id) {
            return IDENTITIES.getOrDefault(path + "/" + id, "wwid:naa." + Integer.toHexString((path + id).hashCode()));
        }

        private void live() {
            if (resource.closed) {
                throw new StorageException(ErrorCode.DEVICE_UNAVAILABLE, "resource " + resource.name + " is detached");
            }
        }

        private void range(long offset, int length) {
            if (offset % 512 != 0 || length % 512 != 0) {
                throw new StorageException(ErrorCode.INVALID_ARGUMENT, "unaligned " + offset + "+" + length);
            }
            if (offset < 0 || offset + length > SIZE) {
                throw new StorageException(ErrorCode.OUT_OF_RANGE, offset + "+" + length);
            }
        }

        @Override
        public DeviceInfo info() {
            return info;
        }

        @Override
        public Optional<Path> localPath() {
            return Optional.empty();
        }

        @Override
        public Optional<String> identity() {
            return Optional.of(identity(resource.path, info.id()));
        }

        @Override
        public long size() {
            return SIZE;
        }

        @Override
        public int sectorSize() {
            return 512;
        }

        @Override
        public void read(ByteBuffer dst, long offset) {
            live();
            range(offset, dst.remaining());
            synchronized (bytes) {
                dst.put(bytes, (int) offset, dst.remaining());
            }
        }

        @Override
        public void write(ByteBuffer src, long offset) {
            live();
            range(offset, src.remaining());
            synchronized (bytes) {
                src.get(bytes, (int) offset, src.remaining());
            }
        }

        @Override
        public java.util.concurrent.CompletableFuture<Void> readAsync(ByteBuffer dst, long offset) {
            java.util.concurrent.Executor on = ASYNC;
            return on == null ? BlockDevice.super.readAsync(dst, offset)
                    : java.util.concurrent.CompletableFuture.runAsync(() -> read(dst, offset), on);
        }

        @Override
        public java.util.concurrent.CompletableFuture<Void> writeAsync(ByteBuffer src, long offset) {
            java.util.concurrent.Executor on = ASYNC;
            return on == null ? BlockDevice.super.writeAsync(src, offset)
                    : java.util.concurrent.CompletableFuture.runAsync(() -> write(src, offset), on);
        }

        @Override
        public void flush() {
            live();
        }

        @Override
        public void unmap(long offset, long length) {
            live();
            range(offset, (int) length);
            synchronized (bytes) {
                java.util.Arrays.fill(bytes, (int) offset, (int) (offset + length), (byte) 0);
            }
        }

        @Override
        public void close() {
        }
    }
}

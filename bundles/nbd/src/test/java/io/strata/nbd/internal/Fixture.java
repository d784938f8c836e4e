package io.strata.nbd.internal;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.format.DiskFormat;
import io.strata.api.format.DiskSpec;
import io.strata.api.format.Provisioning;
import io.strata.api.format.VirtualDisk;
import io.strata.api.service.VolumeRef;
import io.strata.qcow2.internal.Qcow2Format;
import io.strata.raw.internal.RawFormat;
import io.strata.testing.LocalFile;
import io.strata.vhd.internal.VhdFormat;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * An NBD server on an ephemeral port of 127.0.0.1 serving real images (the VHD, qcow2 and
 * raw formats as plain classes over files in a temporary directory), with exports kept in
 * memory so a "restart" (a new server on the same store) finds them again.
 */
final class Fixture implements AutoCloseable {
    final Path dir;
    final Map<VolumeRef, Path> images = new HashMap<>();
    final Map<VolumeRef, DiskFormat> formats = new HashMap<>();
    final MemoryStore store = new MemoryStore();
    /** Volumes that refuse to open, as a datastore that went away. */
    final java.util.Set<VolumeRef> unavailable = java.util.concurrent.ConcurrentHashMap.newKeySet();
    NbdService server;
    /** Volumes whose handles fail like a handle of a datastore that went away, while listed in {@link #gone}. */
    final java.util.Set<VolumeRef> broken = java.util.concurrent.ConcurrentHashMap.newKeySet();
    final java.util.Set<VolumeRef> gone = java.util.concurrent.ConcurrentHashMap.newKeySet();
    /** Reads that {@link Breakable} handles answered with a file slice (sent with sendfile). */
    final java.util.concurrent.atomic.AtomicInteger slices = new java.util.concurrent.atomic.AtomicInteger();

    /** Reads and writes of several buffers in one call that {@link Breakable} handles passed on. */
    final java.util.concurrent.atomic.AtomicInteger vectoredReads = new java.util.concurrent.atomic.AtomicInteger();
    final java.util.concurrent.atomic.AtomicInteger vectoredWrites = new java.util.concurrent.atomic.AtomicInteger();

    /** Runs before every read of a {@link Breakable} handle, with its offset (a test may hold it there). */
    volatile java.util.function.LongConsumer beforeRead = off -> { };

    /** A handle that answers DEVICE_UNAVAILABLE while its volume is in {@link #gone}, as the core's do. */
    final class Breakable implements VirtualDisk {
        private final VirtualDisk d;
        private final VolumeRef ref;
        private volatile boolean dead;

        Breakable(VirtualDisk d, VolumeRef ref) {
            this.d = d;
            this.ref = ref;
        }

        private VirtualDisk live() {
            if (gone.contains(ref)) {
                dead = true; // invalidated handles stay dead, even when the datastore returns
            }
            if (dead) {
                throw new StorageException(ErrorCode.DEVICE_UNAVAILABLE, "volume " + ref + " is unavailable: "
                        + "driver 'local' was removed");
            }
            return d;
        }

        @Override
        public String format() {
            return d.format();
        }

        @Override
        public long virtualSize() {
            return d.virtualSize();
        }

        @Override
        public io.strata.api.format.Provisioning provisioning() {
            return d.provisioning();
        }

        @Override
        public boolean readOnly() {
            return d.readOnly();
        }

        @Override
        public void read(java.nio.ByteBuffer dst, long offset) {
            beforeRead.accept(offset);
            live().read(dst, offset);
        }

        @Override
        public java.util.Optional<io.strata.api.fs.FileSlice> slice(long offset, int length) {
            java.util.Optional<io.strata.api.fs.FileSlice> s = live().slice(offset, length);
            if (s.isPresent()) {
                slices.incrementAndGet();
            }
            return s;
        }

        @Override
        public void write(java.nio.ByteBuffer src, long offset) {
            live().write(src, offset);
        }

        @Override
        public void read(java.nio.ByteBuffer[] dsts, long offset) {
            vectoredReads.incrementAndGet();
            live().read(dsts, offset);
        }

        @Override
        public void write(java.nio.ByteBuffer[] srcs, long offset) {
            vectoredWrites.incrementAndGet();
            live().write(srcs, offset);
        }

        @Override
        public void flush() {
            live().flush();
        }

        @Override
        public void trim(long offset, long length) {
            live().trim(offset, length);
        }

        @Override
        public java.util.List<io.strata.api.format.Extent> blockStatus(long offset, long length) {
            return live().blockStatus(offset, length);
        }

        @Override
        public void resize(long newSize) {
            live().resize(newSize);
        }

        @Override
        public long allocatedBytes() {
            return live().allocatedBytes();
        }

        @Override
        public void close() {
            d.close();
        }
    }

    Fixture(Path dir) {
        this.dir = dir;
    }

    static final class MemoryStore implements ExportStore {
        final List<Saved> saved = new ArrayList<>();

        @Override
        public synchronized List<Saved> load() {
            return new ArrayList<>(saved);
        }

        @Override
        public synchronized void save(Saved e) {
            saved.removeIf(s -> s.name().equals(e.name()));
            saved.add(e);
        }

        @Override
        public synchronized void delete(String name) {
            saved.removeIf(s -> s.name().equals(name));
        }
    }

    /** Creates a volume {@code local/<name>} of the format ("vhd" dynamic, "qcow2", "raw"). */
    Path volume(String name, String format, long size) {
        DiskFormat f = switch (format) {
            case "vhd" -> new VhdFormat();
            case "qcow2" -> new Qcow2Format();
            default -> new RawFormat();
        };
        Path p = dir.resolve(name + "." + f.fileExtension());
        f.create(LocalFile.open(p, true), new DiskSpec(size, Provisioning.THIN)).close();
        VolumeRef ref = new VolumeRef("local", name);
        images.put(ref, p);
        formats.put(ref, f);
        return p;
    }

    final Volumes volumes = new Volumes() {
        @Override
        public VirtualDisk open(VolumeRef ref, boolean readOnly) {
            Path p = images.get(ref);
            if (p == null) {
                throw new StorageException(ErrorCode.VOLUME_NOT_FOUND, "volume " + ref + " does not exist");
            }
            if (unavailable.contains(ref) || gone.contains(ref)) {
                throw new StorageException(ErrorCode.DEVICE_UNAVAILABLE, "datastore 'local' is unavailable");
            }
            VirtualDisk d = formats.get(ref).open(io.strata.posix.LocalFile.open(p.getFileName().toString(), p, !readOnly,
                    false, null), readOnly);
            return broken.contains(ref) ? new Breakable(d, ref) : d;
        }

        @Override
        public boolean fastZero(VolumeRef ref) {
            return !(formats.get(ref) instanceof RawFormat);
        }
    };

    NbdService start() throws IOException {
        server = new NbdService(volumes, store, "127.0.0.1", 0, 5, true);
        return server;
    }

    /** A server with these limits (handshake timeout 30 s: tests hold idle connections). */
    NbdService start(NbdService.Limits limits) throws IOException {
        server = new NbdService(volumes, store, "127.0.0.1", 0, 30, true, limits);
        return server;
    }

    /** A server that also listens on a Unix domain socket. */
    NbdService start(LocalSocket socket) throws IOException {
        server = new NbdService(volumes, store, "127.0.0.1", 0, 30, true, NbdService.Limits.DEFAULT, socket);
        return server;
    }

    /** Every byte of volume {@code local/<name>}, read through a fresh read-only handle. */
    byte[] image(String volume) {
        try (VirtualDisk d = volumes.open(new VolumeRef("local", volume), true)) {
            java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate((int) d.virtualSize());
            d.read(b, 0);
            return b.array();
        }
    }

    /** The export's URI through the server's Unix domain socket. */
    String unixUri(String export) {
        return "nbd+unix:///" + export + "?socket=" + server.socketPath();
    }

    String uri(String export) {
        return "nbd://127.0.0.1:" + server.port() + "/" + export;
    }

    @Override
    public void close() {
        if (server != null) {
            server.close();
        }
    }
}

package io.strata.core.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.format.Provisioning;
import io.strata.api.format.VirtualDisk;
import io.strata.api.service.VolumeInfo;
import io.strata.api.service.VolumeRef;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.From;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.Size;

/**
 * Random sequences of volume operations, restarts and driver unbind/rebind
 * against a simple model: every outcome (success or error code) is the one the
 * model predicts, and after each step the listing and the catalog on the
 * datastore agree with the model.
 */
class VolumeModelProperties {
    private static final long SECTOR = 512;

    enum Kind { CREATE, DELETE, RESIZE, OPEN, CLOSE_ALL, RESTART, UNBIND, REBIND }

    /** One step; fields unused by a kind are ignored. */
    record Op(Kind kind, String name, int sectors, Provisioning provisioning, boolean readOnly) {
        @Override
        public String toString() {
            return kind + (name == null ? "" : " " + name) + (kind == Kind.CREATE || kind == Kind.RESIZE
                    ? " " + sectors : "") + (kind == Kind.OPEN ? (readOnly ? " ro" : " rw") : "");
        }
    }

    @Provide
    Arbitrary<Op> ops() {
        Arbitrary<String> names = Arbitraries.of("a", "b", "c");
        return Combinators.combine(
                Arbitraries.of(Kind.CREATE, Kind.CREATE, Kind.CREATE, Kind.DELETE, Kind.RESIZE, Kind.RESIZE,
                        Kind.OPEN, Kind.OPEN, Kind.OPEN, Kind.CLOSE_ALL, Kind.CLOSE_ALL, Kind.RESTART, Kind.UNBIND,
                        Kind.REBIND),
                names, Arbitraries.integers().between(-2, 64), Arbitraries.of(Provisioning.class),
                Arbitraries.of(true, false))
                .as((k, n, s, p, ro) -> new Op(k, k.ordinal() <= Kind.OPEN.ordinal() ? n : null,
                        k == Kind.CREATE ? Math.max(1, s) : s, p, ro));
    }

    @Property(tries = 60)
    void theCoreBehavesLikeTheModel(@ForAll @Size(max = 30) List<@From("ops") Op> ops) throws IOException {
        Path base = Files.isDirectory(Path.of("/dev/shm")) ? Path.of("/dev/shm")
                : Path.of(System.getProperty("java.io.tmpdir"));
        Path root = Files.createTempDirectory(base, "strata-model-");
        Fixture f = Fixture.withDatastore(root);
        Map<String, Long> model = new TreeMap<>();
        Map<String, Integer> writers = new TreeMap<>();
        Map<String, Integer> readers = new TreeMap<>();
        List<VirtualDisk> handles = new ArrayList<>();
        boolean online = true;
        try {
            for (Op op : ops) {
                String name = op.name();
                boolean open = name != null && writers.getOrDefault(name, 0) + readers.getOrDefault(name, 0) > 0;
                boolean exists = name != null && model.containsKey(name);
                long newSize = model.getOrDefault(name == null ? "" : name, SECTOR) + op.sectors() * SECTOR;
                ErrorCode expected = null;
                if (name != null && !online) {
                    expected = ErrorCode.DEVICE_UNAVAILABLE;
                } else if (op.kind() == Kind.CREATE) {
                    expected = exists ? ErrorCode.ALREADY_EXISTS : null;
                } else if (op.kind() == Kind.DELETE) {
                    expected = !exists ? ErrorCode.VOLUME_NOT_FOUND : open ? ErrorCode.VOLUME_IN_USE : null;
                } else if (op.kind() == Kind.RESIZE) {
                    expected = !exists ? ErrorCode.VOLUME_NOT_FOUND : open ? ErrorCode.VOLUME_IN_USE
                            : op.sectors() < 0 ? ErrorCode.INVALID_SIZE : null;
                } else if (op.kind() == Kind.OPEN) {
                    expected = !exists ? ErrorCode.VOLUME_NOT_FOUND
                            : !op.readOnly() && writers.getOrDefault(name, 0) > 0 ? ErrorCode.VOLUME_IN_USE : null;
                }

                ErrorCode actual = null;
                try {
                    switch (op.kind()) {
                        case CREATE -> f.core.create(ref(name), op.sectors() * SECTOR, "tst", op.provisioning());
                        case DELETE -> f.core.delete(ref(name));
                        case RESIZE -> f.core.resize(ref(name), newSize);
                        case OPEN -> {
                            VirtualDisk d = f.core.open(ref(name), op.readOnly());
                            handles.add(d);
                            d.read(ByteBuffer.allocate(16), 0);
                        }
                        case CLOSE_ALL -> handles.forEach(VirtualDisk::close);
                        case RESTART -> f.restart();
                        case UNBIND -> f.core.removeDriver(f.driver);
                        case REBIND -> f.core.addDriver(f.driver, "local", "drv");
                        default -> throw new IllegalStateException();
                    }
                } catch (StorageException e) {
                    actual = e.code();
                }
                ErrorCode exp = expected;
                assertEquals(expected, actual, () -> op + " expected " + exp + " with " + model + ", writers "
                        + writers + ", readers " + readers + ", steps " + ops);

                if (expected == null) {
                    switch (op.kind()) {
                        case CREATE -> model.put(name, op.sectors() * SECTOR);
                        case DELETE -> model.remove(name);
                        case RESIZE -> model.put(name, newSize);
                        case OPEN -> (op.readOnly() ? readers : writers).merge(name, 1, Integer::sum);
                        default -> {
                        }
                    }
                }
                switch (op.kind()) {
                    case CLOSE_ALL -> {
                        handles.clear();
                        writers.clear();
                        readers.clear();
                    }
                    case RESTART, UNBIND -> {
                        // open handles die with the mount and no longer hold their volumes
                        writers.clear();
                        readers.clear();
                        online = op.kind() == Kind.RESTART;
                    }
                    case REBIND -> online = true;
                    default -> {
                    }
                }
                if (online) {
                    Map<String, Long> listed = new TreeMap<>();
                    for (VolumeInfo v : f.core.list("ds1")) {
                        listed.put(v.name(), v.virtualSize());
                    }
                    assertEquals(model, listed, () -> "listing after " + op + " in " + ops);
                    Catalog c = CatalogCodec.decode("ds1", Files.readAllBytes(f.dsDir().resolve(Catalog.FILE)));
                    Map<String, Long> stored = new TreeMap<>();
                    c.volumes().forEach(e -> stored.put(e.name(), e.virtualSize()));
                    assertEquals(model, stored, () -> "catalog after " + op + " in " + ops);
                    assertTrue(c.volumes().stream().allMatch(e -> e.state() == CatalogEntry.State.READY));
                }
            }
        } finally {
            handles.forEach(VirtualDisk::close);
            f.close();
            try (Stream<Path> s = Files.walk(root)) {
                s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    private static VolumeRef ref(String name) {
        return new VolumeRef("ds1", name);
    }
}

package io.strata.core.internal;

import static io.strata.core.internal.Assertions2.fails;
import static io.strata.core.internal.Fixture.ref;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.api.ErrorCode;
import io.strata.api.format.Provisioning;
import io.strata.api.format.VirtualDisk;
import io.strata.api.service.Availability;
import io.strata.api.service.DatastoreInfo;
import io.strata.api.service.VolumeInfo;
import io.strata.api.service.VolumeRef;
import io.strata.api.service.VolumeState;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class VolumeLifecycleTest {
    @TempDir
    Path tmp;
    Fixture f;

    @BeforeEach
    void setUp() {
        f = Fixture.withDatastore(tmp);
    }

    @AfterEach
    void tearDown() {
        f.close();
    }

    @Test
    void createListInfoResizeDelete() throws Exception {
        VolumeInfo v = f.core.create(ref("ds1/vm1"), 1 << 20, "tst", Provisioning.THIN);
        assertEquals("ds1", v.datastore());
        assertEquals("vm1", v.name());
        assertEquals("tst", v.format());
        assertEquals(Provisioning.THIN, v.provisioning());
        assertEquals(1 << 20, v.virtualSize());
        assertEquals("vm1.tst", v.file());
        assertEquals(f.dsDir().resolve("vm1.tst").toString(), v.path());
        assertEquals(VolumeState.READY, v.state());
        assertTrue(v.allocated() > 0);
        assertTrue(Files.exists(f.dsDir().resolve("vm1.tst")));

        f.core.create(ref("ds1/a0"), 4096, "raw", Provisioning.THICK);
        List<VolumeInfo> list = f.core.list("ds1");
        assertEquals(List.of("a0", "vm1"), list.stream().map(VolumeInfo::name).toList());
        assertEquals(list, f.core.list(null));

        VolumeInfo grown = f.core.resize(ref("ds1/vm1"), 2 << 20);
        assertEquals(2 << 20, grown.virtualSize());
        assertEquals(2 << 20, f.core.info(ref("ds1/vm1")).virtualSize());
        try (VirtualDisk d = f.core.open(ref("ds1/vm1"), true)) {
            assertEquals(2 << 20, d.virtualSize());
        }
        fails(ErrorCode.INVALID_SIZE, () -> f.core.resize(ref("ds1/vm1"), 1 << 20));
        fails(ErrorCode.INVALID_SIZE, () -> f.core.resize(ref("ds1/vm1"), (2 << 20) + 1));
        assertEquals(2 << 20, f.core.resize(ref("ds1/vm1"), 2 << 20).virtualSize());

        f.core.delete(ref("ds1/vm1"));
        assertFalse(Files.exists(f.dsDir().resolve("vm1.tst")));
        fails(ErrorCode.VOLUME_NOT_FOUND, () -> f.core.info(ref("ds1/vm1")));
        fails(ErrorCode.VOLUME_NOT_FOUND, () -> f.core.delete(ref("ds1/vm1")));
        assertEquals(List.of("a0"), f.core.list("ds1").stream().map(VolumeInfo::name).toList());
    }

    @Test
    void catalogOnTheDatastoreNamesEveryVolume() throws Exception {
        f.core.create(ref("ds1/vm1"), 1 << 20, "tst", Provisioning.THICK_LAZY);
        String json = Files.readString(f.dsDir().resolve(Catalog.FILE), StandardCharsets.UTF_8);
        assertTrue(json.contains("\"name\" : \"vm1\""), json);
        assertTrue(json.contains("\"state\" : \"READY\""), json);
        assertTrue(json.contains("\"provisioning\" : \"thick-lazy\""), json);
        Catalog c = CatalogCodec.decode("ds1", Files.readAllBytes(f.dsDir().resolve(Catalog.FILE)));
        assertEquals(1, c.volumes().size());
        assertTrue(c.generation() >= 2, "CREATING then READY: " + c.generation());
    }

    @Test
    void thickVolumeThatDoesNotFitIsRefusedBeforeAnyWrite() throws Exception {
        byte[] before = Files.readAllBytes(f.dsDir().resolve(Catalog.FILE));
        long tooBig = Fixture.CAPACITY;
        fails(ErrorCode.DATASTORE_FULL, () -> f.core.create(ref("ds1/big"), tooBig, "tst", Provisioning.THICK));
        fails(ErrorCode.DATASTORE_FULL,
                () -> f.core.create(ref("ds1/big"), tooBig, "tst", Provisioning.THICK_LAZY));
        assertFalse(Files.exists(f.dsDir().resolve("big.tst")));
        assertArrayEquals(before, Files.readAllBytes(f.dsDir().resolve(Catalog.FILE)), "catalog untouched");
        assertEquals(List.of(Catalog.FILE, MountedDatastore.RESERVE), f.core.datastore("ds1").list());
        // Thin may overcommit.
        f.core.create(ref("ds1/thin"), 4 * Fixture.CAPACITY, "tst", Provisioning.THIN);
        DatastoreInfo info = f.core.info("ds1");
        assertEquals(4 * Fixture.CAPACITY, info.provisioned());
        assertTrue(info.overcommitRatio() > 1.0);
    }

    @Test
    void thickGrowthThatDoesNotFitIsRefused() {
        f.core.create(ref("ds1/v"), 1 << 20, "tst", Provisioning.THICK);
        fails(ErrorCode.DATASTORE_FULL, () -> f.core.resize(ref("ds1/v"), Fixture.CAPACITY));
        assertEquals(1 << 20, f.core.info(ref("ds1/v")).virtualSize());
    }

    @Test
    void checksComeInOrder() {
        fails(ErrorCode.INVALID_SIZE, () -> f.core.create(ref("ds1/v"), 0, "tst", Provisioning.THIN));
        fails(ErrorCode.INVALID_SIZE, () -> f.core.create(ref("ds1/v"), 1000, "tst", Provisioning.THIN));
        fails(ErrorCode.FORMAT_NOT_FOUND, () -> f.core.create(ref("ds1/v"), 4096, "qcow9", Provisioning.THIN));
        fails(ErrorCode.SIZE_TOO_LARGE, () -> f.core.create(ref("ds1/v"), 1L << 50, "tst", Provisioning.THIN));
        f.core.create(ref("ds1/v"), 4096, "tst", Provisioning.THIN);
        fails(ErrorCode.ALREADY_EXISTS, () -> f.core.create(ref("ds1/v"), 4096, "tst", Provisioning.THIN));
        fails(ErrorCode.ALREADY_EXISTS, () -> f.core.create(ref("ds1/v"), 4096, "raw", Provisioning.THIN));
        fails(ErrorCode.DATASTORE_NOT_FOUND, () -> f.core.create(ref("nods/v"), 4096, "tst", Provisioning.THIN));
    }

    @Test
    void anInterruptedCreateIsRolledBackAndStaysInterrupted() throws Exception {
        // Ctrl-C in the shell interrupts the command thread while the format writes.
        io.strata.api.format.DiskFormat interrupting = (io.strata.api.format.DiskFormat) java.lang.reflect.Proxy
                .newProxyInstance(getClass().getClassLoader(),
                        new Class<?>[] {io.strata.api.format.DiskFormat.class}, (p, m, a) -> {
                            if (m.getName().equals("create")) {
                                Thread.currentThread().interrupt();
                                throw new io.strata.api.StorageException(ErrorCode.IO_ERROR, "interrupted");
                            }
                            return m.invoke(f.tst, a);
                        });
        f.core.removeFormat(f.tst);
        f.core.addFormat(interrupting, "tst", "io.strata.test.intr");
        byte[] before = Files.readAllBytes(f.dsDir().resolve(Catalog.FILE));
        try {
            fails(ErrorCode.IO_ERROR, () -> f.core.create(ref("ds1/v"), 1 << 20, "tst", Provisioning.THIN));
            assertTrue(Thread.currentThread().isInterrupted(), "the interrupt is kept for the caller");
        } finally {
            Thread.interrupted();
        }
        assertFalse(Files.exists(f.dsDir().resolve("v.tst")));
        assertTrue(f.core.list("ds1").isEmpty());
        Catalog c = CatalogCodec.decode("ds1", Files.readAllBytes(f.dsDir().resolve(Catalog.FILE)));
        assertTrue(c.volumes().isEmpty(), new String(before));
    }

    @Test
    void aStrayFileIsNeverOverwrittenOrDeleted() throws Exception {
        Files.writeString(f.dsDir().resolve("mine.tst"), "user data");
        fails(ErrorCode.ALREADY_EXISTS, () -> f.core.create(ref("ds1/mine"), 4096, "tst", Provisioning.THIN));
        assertEquals("user data", Files.readString(f.dsDir().resolve("mine.tst")));
    }

    @Test
    void capacityAccounting() {
        f.core.create(ref("ds1/a"), 1 << 20, "tst", Provisioning.THICK);
        f.core.create(ref("ds1/b"), 3 << 20, "raw", Provisioning.THIN);
        DatastoreInfo info = f.core.info("ds1");
        assertEquals(Availability.ONLINE, info.state());
        assertEquals("", info.message());
        assertEquals(Fixture.CAPACITY, info.capacity());
        assertEquals(4 << 20, info.provisioned());
        assertEquals(2, info.volumes());
        long files = f.core.list("ds1").stream().mapToLong(VolumeInfo::allocated).sum();
        assertEquals(files, info.allocated());
        assertTrue(info.free() < Fixture.CAPACITY);
        assertEquals((double) (4 << 20) / Fixture.CAPACITY, info.overcommitRatio(), 1e-9);
        assertEquals(f.dsDir().toString(), info.path());
        assertEquals(List.of(info), f.core.list());
    }

    @Test
    void oneWriterManyReaders() {
        f.core.create(ref("ds1/v"), 1 << 20, "tst", Provisioning.THIN);
        VolumeRef v = ref("ds1/v");
        VirtualDisk w = f.core.open(v, false);
        assertEquals(VolumeState.IN_USE, f.core.info(v).state());
        fails(ErrorCode.VOLUME_IN_USE, () -> f.core.open(v, false));
        VirtualDisk r1 = f.core.open(v, true);
        VirtualDisk r2 = f.core.open(v, true);
        w.write(ByteBuffer.wrap("hello".getBytes(StandardCharsets.US_ASCII)), 1000);
        w.flush();
        ByteBuffer b = ByteBuffer.allocate(5);
        r1.read(b, 1000);
        assertEquals("hello", new String(b.array(), StandardCharsets.US_ASCII));
        fails(ErrorCode.READ_ONLY, () -> r2.write(ByteBuffer.allocate(1), 0));
        w.close();
        w.close();
        fails(ErrorCode.INVALID_ARGUMENT, () -> w.read(ByteBuffer.allocate(1), 0));
        VirtualDisk w2 = f.core.open(v, false);
        w2.close();
        r1.close();
        r2.close();
        assertEquals(VolumeState.READY, f.core.info(v).state());
    }

    @Test
    void openVolumesCannotBeDeletedResizedOrHaveTheirDatastoreRemoved() {
        f.core.create(ref("ds1/v"), 1 << 20, "tst", Provisioning.THIN);
        VolumeRef v = ref("ds1/v");
        try (VirtualDisk d = f.core.open(v, true)) {
            fails(ErrorCode.VOLUME_IN_USE, () -> f.core.delete(v));
            fails(ErrorCode.VOLUME_IN_USE, () -> f.core.resize(v, 2 << 20));
            fails(ErrorCode.VOLUME_IN_USE, () -> f.core.remove("ds1"));
            fails(ErrorCode.VOLUME_IN_USE, () -> d.resize(2 << 20));
        }
        f.core.delete(v);
    }

    @Test
    void removingADatastoreKeepsItsFilesAndRecreatingItFindsTheVolumes() {
        f.core.create(ref("ds1/v"), 1 << 20, "tst", Provisioning.THIN);
        fails(ErrorCode.RESOURCE_IN_USE, () -> f.resources.remove("r1"));
        f.core.remove("ds1");
        fails(ErrorCode.DATASTORE_NOT_FOUND, () -> f.core.info("ds1"));
        assertTrue(Files.exists(f.dsDir().resolve("v.tst")));
        f.core.create("ds2", "dir", "r1/dir", Map.of(), false);
        assertEquals(List.of("v"), f.core.list("ds2").stream().map(VolumeInfo::name).toList());
    }
}

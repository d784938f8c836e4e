package io.strata.fs.nfs.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.strata.api.Capability;
import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.device.DeviceInfo;
import io.strata.api.device.DeviceKind;
import io.strata.api.device.FileShare;
import io.strata.api.device.StorageDevice;
import io.strata.api.device.StorageResource;
import io.strata.api.fs.Datastore;
import io.strata.api.fs.DatastoreFile;
import io.strata.nas.internal.NasDriver;
import io.strata.testing.Ganesha;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The nfs layer on the real NAS driver and a private nfs-ganesha. */
class NfsDatastoreTest {
    @TempDir
    static Path dir;
    static Ganesha ganesha;
    NasDriver driver;
    StorageResource resource;
    StorageDevice export;
    final NfsFilesystem layer = new NfsFilesystem();

    @BeforeAll
    static void start() {
        assumeTrue(Ganesha.unavailableReason().isEmpty(), () -> Ganesha.unavailableReason().get());
        ganesha = Ganesha.start(dir);
    }

    @AfterAll
    static void stop() {
        if (ganesha != null) {
            ganesha.close();
        }
    }

    @BeforeEach
    void attach() {
        driver = new NasDriver();
        resource = driver.attach("nas", Map.of("server", "127.0.0.1", "nfsport", Integer.toString(ganesha.nfsPort()),
                "mountport", Integer.toString(ganesha.mountPort())));
        export = resource.openDevice(ganesha.exportPath().substring(1).replace('/', ':'));
    }

    @AfterEach
    void detach() {
        if (resource != null) {
            resource.close();
        }
    }

    static byte[] random(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    @Test
    void aDatastoreInADirectoryOfTheExportKeepsItsFilesThereUnderTheirNames() {
        try (Datastore ds = layer.mount("ds1", export, Map.of("path", "/vm/store1/"))) {
            Path onServer = ganesha.exportDir().resolve("vm/store1");
            assertTrue(Files.isDirectory(onServer), "the directory was made");
            assertTrue(ds.capabilities().contains(Capability.SHARED));
            assertFalse(ds.capabilities().contains(Capability.PREALLOCATE));
            assertTrue(ds.localPath().isEmpty());
            byte[] data = random(3 << 20, 1);
            try (DatastoreFile f = ds.create("disk1.vhd")) {
                assertEquals("disk1.vhd", f.name());
                f.write(ByteBuffer.wrap(data), 0);
                f.flush();
            }
            assertEquals(ErrorCode.ALREADY_EXISTS, assertThrows(StorageException.class, () -> ds.create("disk1.vhd")).code());
            assertEquals(List.of("disk1.vhd"), ds.list());
            assertEquals(data.length, ds.stat("disk1.vhd").size());
            assertArrayEquals(data, ds.readAll("disk1.vhd"));
            assertArrayEquals(data, readFile(onServer.resolve("disk1.vhd")));

            ds.writeAtomically(".strata-catalog", "v1".getBytes());
            ds.writeAtomically(".strata-catalog", "v2".getBytes());
            assertEquals("v2", new String(ds.readAll(".strata-catalog")));
            assertEquals(List.of(".strata-catalog", "disk1.vhd"), ds.list(), "no temporary file left or listed");
            ds.rename("disk1.vhd", "disk2.vhd");
            assertTrue(ds.exists("disk2.vhd"));
            assertFalse(ds.exists("disk1.vhd"));
            try (DatastoreFile f = ds.open("disk2.vhd", false)) {
                assertFalse(f.writable());
                assertEquals(ErrorCode.READ_ONLY, assertThrows(StorageException.class,
                        () -> f.write(ByteBuffer.allocate(512), 0)).code());
            }
            ds.delete("disk2.vhd");
            assertEquals(ErrorCode.FILE_NOT_FOUND, assertThrows(StorageException.class, () -> ds.stat("disk2.vhd")).code());
            assertTrue(ds.space().capacity() > 0);
            assertEquals("vm/store1", ds.details().get("directory"));
        }
    }

    /**
     * The view the core uses on a shared datastore: once the fence refuses, neither file data
     * nor the catalog's atomic write nor a create, rename or delete reaches the server; the
     * datastore itself (the lockspace's path) still writes; closing the view closes both.
     */
    @Test
    void theFencedViewRefusesEveryRequestOnceItsFenceDoesAndClosesWithTheDatastore() {
        Datastore ds = layer.mount("ds4", export, Map.of("path", "fenced"));
        java.util.concurrent.atomic.AtomicBoolean valid = new java.util.concurrent.atomic.AtomicBoolean(true);
        StorageException expired = new StorageException(ErrorCode.DEVICE_UNAVAILABLE, "the lease expired");
        Datastore view = ds.fenced(() -> {
            if (!valid.get()) {
                throw expired;
            }
        });
        Path onServer = ganesha.exportDir().resolve("fenced");
        byte[] data = random(2 << 20, 4);
        view.writeAtomically(".strata-catalog", "v1".getBytes());
        DatastoreFile f = view.create("disk.raw");
        f.write(ByteBuffer.wrap(data), 0);
        f.flush();
        valid.set(false);
        assertTrue(expired == assertThrows(StorageException.class, () -> f.write(ByteBuffer.wrap(random(2 << 20, 5)), 0)));
        assertTrue(expired == assertThrows(StorageException.class,
                () -> view.writeAtomically(".strata-catalog", "v2".getBytes())));
        assertTrue(expired == assertThrows(StorageException.class, () -> view.create("other.raw")));
        assertTrue(expired == assertThrows(StorageException.class, () -> view.rename("disk.raw", "moved.raw")));
        assertTrue(expired == assertThrows(StorageException.class, () -> view.delete("disk.raw")));
        assertArrayEquals(data, readFile(onServer.resolve("disk.raw")));
        assertEquals("v1", new String(readFile(onServer.resolve(".strata-catalog"))));
        assertEquals(List.of(".strata-catalog", "disk.raw"), ds.list(), "nothing made, renamed or left behind");
        ds.writeAtomically(".strata-lockspace-test", "renewed".getBytes()); // unfenced
        assertEquals("renewed", new String(readFile(onServer.resolve(".strata-lockspace-test"))));
        view.close();
        assertEquals(ErrorCode.DEVICE_UNAVAILABLE, assertThrows(StorageException.class, ds::list).code());
        assertEquals(ErrorCode.DEVICE_UNAVAILABLE, assertThrows(StorageException.class,
                () -> f.read(ByteBuffer.allocate(512), 0)).code(), "the view's files closed with it");
    }

    private static byte[] readFile(Path p) {
        try {
            return Files.readAllBytes(p);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    @Test
    void namesThatWouldLeaveTheDatastoreAndPathsThatWouldLeaveTheExportAreRefused() {
        try (Datastore ds = layer.mount("ds2", export, Map.of())) {
            for (String bad : List.of("../x", "a/b", "..", ".strata-tmp-x", "x\u0001", "")) {
                assertEquals(ErrorCode.INVALID_NAME, assertThrows(StorageException.class, () -> ds.create(bad), bad).code(),
                        bad);
            }
        }
        for (String bad : List.of("../up", "a/../../b", "a//b")) {
            assertEquals(ErrorCode.INVALID_NAME, assertThrows(StorageException.class,
                    () -> layer.mount("ds3", export, Map.of("path", bad)), bad).code(), bad);
        }
        assertEquals(ErrorCode.INVALID_ARGUMENT, assertThrows(StorageException.class,
                () -> layer.mount("ds3", export, Map.of("shared", "true"))).code());
        assertEquals(ErrorCode.UNSUPPORTED, assertThrows(StorageException.class,
                () -> layer.format(export, Map.of(), false)).code());
    }

    @Test
    void aDeviceThatIsNotANasExportIsRefused() {
        FileShare local = new FileShare() {
            @Override
            public DeviceInfo info() {
                return new DeviceInfo("local", "dir", DeviceKind.FILE_SHARE, 0, 512, "a directory");
            }

            @Override
            public Optional<Path> localPath() {
                return Optional.of(dir);
            }

            @Override
            public String uri() {
                return dir.toUri().toString();
            }

            @Override
            public void close() {
            }
        };
        StorageException e = assertThrows(StorageException.class, () -> layer.mount("ds4", local, Map.of()));
        assertEquals(ErrorCode.INVALID_ARGUMENT, e.code());
        assertTrue(e.getMessage().contains("not a NAS export"), e.getMessage());
    }
}

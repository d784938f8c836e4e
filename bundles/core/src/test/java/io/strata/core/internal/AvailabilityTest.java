package io.strata.core.internal;

import static io.strata.core.internal.Assertions2.fails;
import static io.strata.core.internal.Fixture.ref;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.format.Provisioning;
import io.strata.api.format.VirtualDisk;
import io.strata.api.service.Availability;
import io.strata.api.service.VolumeInfo;
import io.strata.api.service.VolumeRef;
import io.strata.api.service.VolumeState;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Plugins going away and coming back: UNAVAILABLE with everything kept, then ONLINE by itself. */
class AvailabilityTest {
    @TempDir
    Path tmp;
    Fixture f;
    final VolumeRef v = ref("ds1/v");
    final byte[] data = {9, 8, 7, 6, 5};

    @BeforeEach
    void setUp() {
        f = Fixture.withDatastore(tmp);
        f.core.create(v, 1 << 20, "tst", Provisioning.THIN);
        try (VirtualDisk d = f.core.open(v, false)) {
            d.write(ByteBuffer.wrap(data), 12345);
        }
    }

    @AfterEach
    void tearDown() {
        f.close();
    }

    @Test
    void driverGoesAwayAndComesBack() throws Exception {
        VirtualDisk handle = f.core.open(v, false);
        TestDriver.TestResource attached = f.driver.open.get(0);

        f.core.removeDriver(f.driver);

        assertEquals(Availability.UNAVAILABLE, f.resources.resource("r1").state());
        assertTrue(f.resources.resource("r1").message().contains("driver 'local' is not installed"));
        assertTrue(attached.closed, "resource detached");
        assertEquals(Availability.UNAVAILABLE, f.core.info("ds1").state());
        assertTrue(f.core.info("ds1").message().contains("resource 'r1' is unavailable"),
                f.core.info("ds1").message());
        assertTrue(f.fs.mounted.get(0).closed(), "datastore unmounted");
        StorageException e = fails(ErrorCode.DEVICE_UNAVAILABLE, () -> handle.read(ByteBuffer.allocate(5), 12345));
        assertTrue(e.getMessage().contains("ds1/v"), e.getMessage());
        fails(ErrorCode.DEVICE_UNAVAILABLE, () -> handle.write(ByteBuffer.allocate(5), 0));
        fails(ErrorCode.DEVICE_UNAVAILABLE, handle::flush);
        fails(ErrorCode.DEVICE_UNAVAILABLE, () -> f.core.open(v, true));
        fails(ErrorCode.DEVICE_UNAVAILABLE, () -> f.core.create(ref("ds1/w"), 4096, "tst", Provisioning.THIN));
        fails(ErrorCode.DEVICE_UNAVAILABLE, () -> f.core.delete(v));
        fails(ErrorCode.DEVICE_UNAVAILABLE, () -> f.core.datastore("ds1"));
        List<VolumeInfo> listed = f.core.list("ds1");
        assertEquals(1, listed.size());
        assertEquals(VolumeState.UNAVAILABLE, listed.get(0).state());
        assertEquals(1 << 20, f.core.info(v).virtualSize());
        assertEquals(1, f.core.info("ds1").volumes());
        assertTrue(Files.exists(f.dsDir().resolve("v.tst")), "nothing deleted");
        assertEquals(2, f.store.load(ConfigStore.RESOURCE_FACTORY_PID).size()
                + f.store.load(ConfigStore.DATASTORE_FACTORY_PID).size(), "configuration kept");

        f.core.addDriver(f.driver, "local", "io.strata.test.driver");

        assertEquals(Availability.ONLINE, f.resources.resource("r1").state());
        assertEquals(Availability.ONLINE, f.core.info("ds1").state());
        assertEquals(VolumeState.READY, f.core.info(v).state());
        fails(ErrorCode.DEVICE_UNAVAILABLE, () -> handle.read(ByteBuffer.allocate(5), 12345));
        try (VirtualDisk d = f.core.open(v, false)) {
            ByteBuffer b = ByteBuffer.allocate(5);
            d.read(b, 12345);
            assertArrayEquals(data, b.array(), "data intact");
        }
        handle.close();
        fails(ErrorCode.INVALID_ARGUMENT, () -> handle.read(ByteBuffer.allocate(5), 12345));
    }

    @Test
    void filesystemGoesAwayAndComesBack() {
        VirtualDisk reader = f.core.open(v, true);
        f.core.removeFilesystem(f.fs);
        assertEquals(Availability.ONLINE, f.resources.resource("r1").state(), "the resource does not need it");
        assertEquals(Availability.UNAVAILABLE, f.core.info("ds1").state());
        assertEquals("filesystem 'dir' is not installed", f.core.info("ds1").message());
        fails(ErrorCode.DEVICE_UNAVAILABLE, () -> reader.read(ByteBuffer.allocate(1), 0));
        f.core.addFilesystem(f.fs, "dir", "io.strata.test.fs");
        assertEquals(Availability.ONLINE, f.core.info("ds1").state());
        try (VirtualDisk d = f.core.open(v, true)) {
            ByteBuffer b = ByteBuffer.allocate(5);
            d.read(b, 12345);
            assertArrayEquals(data, b.array());
        }
        reader.close();
    }

    @Test
    void formatGoesAwayAndComesBack() {
        VirtualDisk handle = f.core.open(v, false);
        f.core.removeFormat(f.tst);
        assertEquals(Availability.ONLINE, f.core.info("ds1").state());
        assertEquals(VolumeState.UNAVAILABLE, f.core.info(v).state());
        fails(ErrorCode.DEVICE_UNAVAILABLE, () -> handle.read(ByteBuffer.allocate(1), 0));
        fails(ErrorCode.FORMAT_NOT_FOUND, () -> f.core.open(v, true));
        fails(ErrorCode.FORMAT_NOT_FOUND, () -> f.core.create(ref("ds1/w"), 4096, "tst", Provisioning.THIN));
        assertTrue(f.resources.plugins().stream().noneMatch(p -> p.type().equals("tst")));
        f.core.addFormat(f.tst, "tst", "io.strata.test.tst");
        assertEquals(VolumeState.READY, f.core.info(v).state());
        try (VirtualDisk d = f.core.open(v, false)) {
            ByteBuffer b = ByteBuffer.allocate(5);
            d.read(b, 12345);
            assertArrayEquals(data, b.array());
        }
        handle.close();
    }

    @Test
    void pluginsAreListedWithTheirBundles() {
        var plugins = f.resources.plugins();
        assertEquals(List.of("local", "dir", "raw", "rdm", "tst"), plugins.stream().map(p -> p.type()).toList());
        assertEquals("io.strata.test.driver", plugins.get(0).bundle());
    }

    @Test
    void aSecondServiceOfTheSameTypeTakesOver() {
        TestDriver other = new TestDriver();
        f.core.addDriver(other, "local", "io.strata.test.other");
        assertEquals(0, other.attaches.get());
        f.core.removeDriver(f.driver);
        assertEquals(1, other.attaches.get());
        assertEquals(Availability.ONLINE, f.core.info("ds1").state());
    }

    @Test
    @Timeout(60)
    void ioRacingWithUnbindAndRebindSeesOnlyDeviceUnavailable() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(3);
        AtomicBoolean stop = new AtomicBoolean();
        Map<String, Integer> unexpected = new ConcurrentHashMap<>();
        try {
            Future<?> io = pool.submit(() -> {
                while (!stop.get()) {
                    try (VirtualDisk d = f.core.open(v, true)) {
                        for (int i = 0; i < 50 && !stop.get(); i++) {
                            d.read(ByteBuffer.allocate(4096), 8192);
                        }
                    } catch (StorageException e) {
                        if (e.code() != ErrorCode.DEVICE_UNAVAILABLE && e.code() != ErrorCode.FORMAT_NOT_FOUND) {
                            unexpected.merge(e.toUserString(), 1, Integer::sum);
                        }
                    }
                }
            });
            Future<?> lister = pool.submit(() -> {
                while (!stop.get()) {
                    f.core.list(null);
                    f.core.list();
                    f.resources.resources();
                }
            });
            for (int i = 0; i < 200; i++) {
                if (i % 2 == 0) {
                    f.core.removeDriver(f.driver);
                    f.core.addDriver(f.driver, "local", "io.strata.test.driver");
                } else {
                    f.core.removeFormat(f.tst);
                    f.core.addFormat(f.tst, "tst", "io.strata.test.tst");
                }
            }
            stop.set(true);
            io.get(30, TimeUnit.SECONDS);
            lister.get(30, TimeUnit.SECONDS);
        } finally {
            stop.set(true);
            pool.shutdownNow();
        }
        assertTrue(unexpected.isEmpty(), unexpected.toString());
        assertEquals(Availability.ONLINE, f.core.info("ds1").state());
        assertFalse(f.core.list("ds1").isEmpty());
        try (VirtualDisk d = f.core.open(v, true)) {
            ByteBuffer b = ByteBuffer.allocate(5);
            d.read(b, 12345);
            assertArrayEquals(data, b.array());
        }
    }
}

package io.strata.core.internal;

import static io.strata.core.internal.Assertions2.fails;
import static io.strata.core.internal.Fixture.ref;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.device.DeviceState;
import io.strata.api.format.Provisioning;
import io.strata.api.format.VirtualDisk;
import io.strata.api.service.Availability;
import io.strata.api.service.DatastoreInfo;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Map;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A datastore follows the state its driver gives the device under it (a NAS export whose server
 * went away, an iSCSI LUN with no path), and what failed to attach or mount is tried again on a
 * timer until it works, with nobody touching a plugin or the configuration.
 */
@Timeout(120)
class DeviceStateTest {
    @TempDir
    Path tmp;
    Fixture f;

    @AfterEach
    void tearDown() {
        if (f != null) {
            f.close();
        }
    }

    private void statefulDatastore(CoreSettings settings) {
        f = new Fixture(tmp, settings);
        f.resources.add("nas", "local", Map.of("kind", "stateful", "path", tmp.resolve("export").toString()));
        f.core.create("ds1", "dir", "nas", Map.of(), false);
    }

    private CoreSettings settings(long retryMillis) {
        return new CoreSettings(false, "local", tmp.resolve("default"), tmp.resolve("state")).withRetry(retryMillis);
    }

    @Test
    void datastoreStateFollowsItsDevice() {
        statefulDatastore(settings(0));
        f.core.create(ref("ds1/v"), 1 << 20, "tst", Provisioning.THIN);
        DatastoreInfo online = f.core.info("ds1");
        assertEquals(Availability.ONLINE, online.state());
        assertEquals("", online.message());
        assertTrue(online.capacity() > 0, "space measured: " + online);

        try (VirtualDisk d = f.core.open(ref("ds1/v"), false)) {
            d.write(ByteBuffer.wrap(new byte[4096]), 0);
        }
        assertTrue(f.core.list("ds1").get(0).allocated() > 0, "allocation asked of the device");

        // Not answering, I/O retried: still ONLINE, said so, figures kept from the last measure.
        f.driver.shareState = DeviceState.DEGRADED;
        DatastoreInfo degraded = f.core.info("ds1");
        assertEquals(Availability.ONLINE, degraded.state());
        assertTrue(degraded.message().contains("not answering"), degraded.message());
        assertEquals(online.capacity(), degraded.capacity());
        assertEquals(1, degraded.volumes());
        // volume-list does not ask a device that does not answer for each file's allocation
        assertEquals(0, f.core.list("ds1").get(0).allocated());
        assertEquals(io.strata.api.service.VolumeState.READY, f.core.list("ds1").get(0).state());

        // Past the driver's limit: UNAVAILABLE, with the volumes still counted from the catalog.
        f.driver.shareState = DeviceState.OFFLINE;
        DatastoreInfo offline = f.core.info("ds1");
        assertEquals(Availability.UNAVAILABLE, offline.state());
        assertTrue(offline.message().contains("DEVICE_UNAVAILABLE"), offline.message());
        assertTrue(offline.message().contains("nas/dir"), offline.message());
        assertEquals(1, offline.volumes());
        assertEquals(1 << 20, offline.provisioned());
        assertEquals(Availability.UNAVAILABLE, f.core.list().get(0).state());
        assertEquals(io.strata.api.service.VolumeState.UNAVAILABLE, f.core.list("ds1").get(0).state());

        // Back: ONLINE by itself, the mount never dropped.
        f.driver.shareState = DeviceState.ONLINE;
        DatastoreInfo back = f.core.info("ds1");
        assertEquals(Availability.ONLINE, back.state());
        assertEquals("", back.message());
        assertEquals(io.strata.api.service.VolumeState.READY, f.core.list("ds1").get(0).state());
        try (VirtualDisk d = f.core.open(ref("ds1/v"), false)) {
            d.write(ByteBuffer.wrap(new byte[] {1, 2, 3}), 0);
            ByteBuffer b = ByteBuffer.allocate(3);
            d.read(b, 0);
            assertArrayEquals(new byte[] {1, 2, 3}, b.array());
        }
    }

    /** The NAS server stops answering for good: the resource is detached and cannot attach again. */
    private void serverGone() {
        f.core.removeDriver(f.driver);
        f.driver.refuseAttach = new StorageException(ErrorCode.DEVICE_UNAVAILABLE, "server 127.0.0.1 does not answer");
        f.core.addDriver(f.driver, "local", "io.strata.test.driver");
        assertEquals(Availability.UNAVAILABLE, f.core.info("ds1").state());
        assertTrue(f.resources.resource("nas").message().contains("does not answer"),
                f.resources.resource("nas").message());
    }

    @Test
    void resourceThatFailedToAttachIsTriedAgainOnATimer() throws Exception {
        statefulDatastore(settings(500));
        f.core.create(ref("ds1/v"), 1 << 20, "tst", Provisioning.THIN);
        serverGone();
        int before = f.driver.attaches.get();

        f.driver.refuseAttach = null;
        await(() -> f.core.info("ds1").state() == Availability.ONLINE, "ds1 online after the server came back");
        assertEquals(before + 1, f.driver.attaches.get(), "attached once, by the timer");
        try (VirtualDisk d = f.core.open(ref("ds1/v"), true)) {
            assertEquals(1 << 20, d.virtualSize());
        }
    }

    @Test
    void withoutTimedRetriesItWaitsForAChange() throws Exception {
        statefulDatastore(settings(0));
        serverGone();
        f.driver.refuseAttach = null;
        Thread.sleep(1500);
        assertEquals(Availability.UNAVAILABLE, f.core.info("ds1").state(), "retry 0: nothing tries again");
        f.core.removeDriver(f.driver);
        f.core.addDriver(f.driver, "local", "io.strata.test.driver");
        assertEquals(Availability.ONLINE, f.core.info("ds1").state(), "a plugin change tries again");
    }

    private static void await(BooleanSupplier condition, String what) throws InterruptedException {
        long end = System.nanoTime() + 60_000_000_000L;
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > end) {
                throw new AssertionError("not within 60 s: " + what);
            }
            Thread.sleep(50);
        }
    }
}

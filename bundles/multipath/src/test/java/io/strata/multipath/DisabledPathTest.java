package io.strata.multipath;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.device.BlockDevice;
import io.strata.api.device.DeviceState;
import io.strata.api.device.PathInfo;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class DisabledPathTest {
    @Test
    void aDisabledPathGetsNoIoAndNoChecks() {
        try (Fixture f = new Fixture(List.of("a", "b"), "policy", "round-robin", "no-path-retry", "0")) {
            BlockDevice d = f.open();
            f.mp.setPathEnabled("a", false);
            for (int i = 0; i < 10; i++) {
                Fixture.writeSector(d, i, i);
            }
            assertEquals(0, f.path("a").writes.get());
            assertEquals(10, f.path("b").writes.get());
            f.mp.checkNow();
            assertEquals(0, f.path("a").checks.get());
            assertEquals(1, f.path("b").checks.get());
            PathInfo a = f.info("a");
            assertFalse(a.enabled());
            assertFalse(a.active());
            assertEquals(DeviceState.ONLINE, d.state(), "all enabled paths are up");

            f.mp.setPathEnabled("b", false);
            assertEquals(DeviceState.OFFLINE, d.state());
            StorageException e = assertThrows(StorageException.class, () -> Fixture.writeSector(d, 0, 1));
            assertEquals(ErrorCode.DEVICE_UNAVAILABLE, e.code());

            f.mp.setPathEnabled("a", true);
            Fixture.writeSector(d, 0, 1);
            assertEquals(1, f.path("a").writes.get());
            assertTrue(f.info("a").active());
        }
    }

    @Test
    void ioInFlightOnAPathBeingDisabledCompletes() throws Exception {
        ExecutorService pool = Executors.newSingleThreadExecutor();
        try (Fixture f = new Fixture(List.of("a", "b"), "policy", "fixed")) {
            BlockDevice d = f.open();
            CountDownLatch entered = new CountDownLatch(1);
            CountDownLatch gate = new CountDownLatch(1);
            f.path("a").beforeIo = p -> {
                entered.countDown();
                try {
                    gate.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            };
            Future<?> job = pool.submit(() -> Fixture.writeSector(d, 3, 3));
            assertTrue(entered.await(Fixture.WAIT_MS, TimeUnit.MILLISECONDS));
            f.mp.setPathEnabled("a", false);
            f.path("a").beforeIo = null;
            Fixture.writeSector(d, 4, 4);
            assertEquals(1, f.path("b").writes.get(), "new I/O avoids the disabled path");
            gate.countDown();
            job.get(Fixture.WAIT_MS, TimeUnit.MILLISECONDS);
            assertEquals(1, f.path("a").writes.get(), "the I/O under way completed on it");
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void unknownPathIsNotFound() {
        try (Fixture f = new Fixture(List.of("a"))) {
            StorageException e = assertThrows(StorageException.class, () -> f.mp.setPathEnabled("zz", false));
            assertEquals(ErrorCode.DEVICE_NOT_FOUND, e.code());
            assertTrue(e.getMessage().contains("zz"));
        }
    }
}

package io.strata.multipath;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.api.device.BlockDevice;
import io.strata.api.device.DeviceState;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class CheckerTest {
    private final ExecutorService pool = Executors.newCachedThreadPool();

    @AfterEach
    void stop() {
        pool.shutdownNow();
    }

    @Test
    void checkerFailsAndRestoresPaths() {
        try (Fixture f = new Fixture(List.of("a", "b"))) {
            BlockDevice d = f.open();
            f.path("a").checkMode = FakePath.Mode.FAIL;
            f.mp.checkNow();
            assertEquals(DeviceState.OFFLINE, f.info("a").state());
            assertEquals(1, f.info("a").errors());
            assertEquals(DeviceState.DEGRADED, d.state());
            assertEquals(0, f.path("a").reconnects.get(), "an up path is only checked");

            f.path("a").checkMode = FakePath.Mode.OK;
            f.mp.checkNow();
            assertEquals(1, f.path("a").reconnects.get(), "a failed path is reconnected");
            assertEquals(DeviceState.ONLINE, f.info("a").state());
            assertEquals(DeviceState.ONLINE, d.state());
        }
    }

    @Test
    void aHangingCheckCountsAsFailedAndDoesNotHoldTheOthers() throws Exception {
        try (Fixture f = new Fixture(List.of("a", "b"), "checker-interval", "1", "policy", "round-robin")) {
            BlockDevice d = f.open();
            f.path("b").ioMode = FakePath.Mode.FAIL;
            Fixture.writeSector(d, 0, 1);
            Fixture.writeSector(d, 0, 1);
            assertEquals(DeviceState.OFFLINE, f.info("b").state());
            f.path("b").ioMode = FakePath.Mode.OK;
            f.path("a").checkMode = FakePath.Mode.HANG;

            Future<?> round = pool.submit(f.mp::checkNow);
            // the limit is 2 x checker-interval on the clock: move it on until the round gives up
            long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(Fixture.WAIT_MS);
            while (!round.isDone() && System.nanoTime() - end < 0) {
                f.clock.advanceSeconds(1);
                Thread.sleep(5);
            }
            round.get(Fixture.WAIT_MS, TimeUnit.MILLISECONDS);
            assertEquals(DeviceState.OFFLINE, f.info("a").state());
            assertTrue(f.info("a").errors() >= 1);
            assertEquals(DeviceState.ONLINE, f.info("b").state(), "b's check completed while a's hung");

            f.mp.checkNow();
            assertEquals(1, f.path("a").checks.get(), "no second check while the first still hangs");
            assertEquals(DeviceState.OFFLINE, f.info("a").state());
            int before = f.path("b").writes.get();
            Fixture.writeSector(d, 1, 2);
            Fixture.writeSector(d, 2, 2);
            assertEquals(before + 2, f.path("b").writes.get());
        }
    }

    @Test
    void theCheckerThreadFollowsTheClock() {
        try (Fixture f = new Fixture(List.of("a", "b"), "checker-interval", "5")) {
            f.path("a").checkMode = FakePath.Mode.FAIL;
            f.clock.advanceSeconds(5);
            Fixture.await("the checker thread finds a down", () -> f.info("a").state() == DeviceState.OFFLINE);
            f.path("a").checkMode = FakePath.Mode.OK;
            f.clock.advanceSeconds(5);
            Fixture.await("the checker thread finds a up", () -> f.info("a").state() == DeviceState.ONLINE);
            Fixture.await("b was checked in both rounds", () -> f.path("b").checks.get() >= 2);
            assertEquals(1, f.path("a").reconnects.get());
        }
    }
}

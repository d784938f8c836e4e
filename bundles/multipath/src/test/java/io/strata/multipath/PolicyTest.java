package io.strata.multipath;

import static io.strata.multipath.Fixture.writeSector;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.api.device.BlockDevice;
import io.strata.api.device.DeviceState;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class PolicyTest {
    private final ExecutorService pool = Executors.newCachedThreadPool();

    @AfterEach
    void stop() {
        pool.shutdownNow();
    }

    private static void writes(BlockDevice d, int n) {
        for (int i = 0; i < n; i++) {
            writeSector(d, i % 32, i);
        }
    }

    @Test
    void roundRobinSpreadsOverAllPaths() {
        try (Fixture f = new Fixture(List.of("a", "b", "c"), "policy", "round-robin")) {
            writes(f.open(), 30);
            for (FakePath p : f.paths) {
                assertEquals(10, p.writes.get(), "writes on " + p.id);
            }
            assertTrue(f.mp.paths().stream().allMatch(p -> p.active()));
            assertEquals(10, f.info("a").ios());
        }
    }

    /** Holds the first I/O that reaches any path of {@code f}; returns the path holding it once held. */
    private FakePath holdOne(Fixture f, BlockDevice d, CountDownLatch gate, Future<?>[] job) throws Exception {
        AtomicReference<FakePath> held = new AtomicReference<>();
        CountDownLatch entered = new CountDownLatch(1);
        for (FakePath p : f.paths) {
            p.beforeIo = path -> {
                if (held.compareAndSet(null, path)) {
                    entered.countDown();
                    try {
                        gate.await();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }
            };
        }
        job[0] = pool.submit(() -> writeSector(d, 40, 1));
        assertTrue(entered.await(Fixture.WAIT_MS, TimeUnit.MILLISECONDS));
        return held.get();
    }

    private void busyPathIsAvoided(String policy) throws Exception {
        try (Fixture f = new Fixture(List.of("a", "b"), "policy", policy)) {
            BlockDevice d = f.open();
            CountDownLatch gate = new CountDownLatch(1);
            Future<?>[] job = new Future<?>[1];
            FakePath busy = holdOne(f, d, gate, job);
            FakePath idle = busy == f.path("a") ? f.path("b") : f.path("a");
            assertEquals(1, f.info(busy.id).inFlight());
            writes(d, 10);
            assertEquals(10, idle.writes.get(), "all I/O goes to the idle path");
            assertEquals(0, busy.writes.get());
            gate.countDown();
            job[0].get(Fixture.WAIT_MS, TimeUnit.MILLISECONDS);
            assertEquals(1, busy.writes.get());
            assertEquals(0, f.info(busy.id).inFlight());
        }
    }

    @Test
    void queueLengthPrefersTheIdlePath() throws Exception {
        busyPathIsAvoided("queue-length");
    }

    @Test
    void serviceTimeCountsIoInFlight() throws Exception {
        busyPathIsAvoided("service-time");
    }

    @Test
    void serviceTimePrefersTheFasterPath() {
        try (Fixture f = new Fixture(List.of("a", "b"))) {
            FakePath slow = f.path("a");
            FakePath fast = f.path("b");
            slow.beforeIo = p -> f.clock.advance(Duration.ofMillis(50));
            fast.beforeIo = p -> f.clock.advance(Duration.ofMillis(1));
            writes(f.open(), 100);
            assertTrue(fast.writes.get() >= 90, "fast path got " + fast.writes.get());
            assertTrue(slow.writes.get() >= 1, "the slow path was tried");
        }
    }

    @Test
    void mruSticksToOnePathAndMovesOnlyWhenItFails() {
        try (Fixture f = new Fixture(List.of("a", "b"), "policy", "mru", "failback", "manual")) {
            BlockDevice d = f.open();
            writes(d, 20);
            assertEquals(20, f.path("a").writes.get());
            assertEquals(0, f.path("b").writes.get());
            assertTrue(f.info("a").active());
            assertFalse(f.info("b").active());

            f.path("a").ioMode = FakePath.Mode.FAIL;
            writes(d, 20);
            assertEquals(20, f.path("b").writes.get());
            assertEquals(DeviceState.OFFLINE, f.info("a").state());

            f.path("a").ioMode = FakePath.Mode.OK;
            f.mp.checkNow();
            assertEquals(DeviceState.ONLINE, f.info("a").state());
            writes(d, 20);
            assertEquals(40, f.path("b").writes.get(), "mru stays on the path it uses");
            assertEquals(20, f.path("a").writes.get());

            f.mp.setPathEnabled("a", true); // manual failback request
            writes(d, 5);
            assertEquals(25, f.path("a").writes.get());
        }
    }

    @Test
    void mruFailsBackToTheOriginalPathWithFailbackImmediate() {
        try (Fixture f = new Fixture(List.of("a", "b"), "policy", "mru")) {
            BlockDevice d = f.open();
            writes(d, 3);
            f.path("a").ioMode = FakePath.Mode.FAIL;
            writes(d, 3);
            assertEquals(3, f.path("b").writes.get());
            f.path("a").ioMode = FakePath.Mode.OK;
            f.mp.checkNow();
            writes(d, 4);
            assertEquals(7, f.path("a").writes.get());
            assertEquals(3, f.path("b").writes.get());
        }
    }

    /** Fixed with preferred b: fails over to a, b comes back at the checker round; returns the fixture. */
    private Fixture fixedFailedOver(String failback) {
        Fixture f = new Fixture(List.of("a", "b", "c"), "policy", "fixed", "preferred", "b", "failback", failback);
        BlockDevice d = f.open();
        writes(d, 5);
        assertEquals(5, f.path("b").writes.get(), "the preferred path is used");
        assertTrue(f.info("b").active());
        f.path("b").ioMode = FakePath.Mode.FAIL;
        writes(d, 5);
        assertEquals(5, f.path("a").writes.get(), "fails over to the first other path");
        assertTrue(f.info("a").active());
        f.path("b").ioMode = FakePath.Mode.OK;
        f.mp.checkNow();
        assertEquals(DeviceState.ONLINE, f.info("b").state());
        return f;
    }

    @Test
    void fixedReturnsToThePreferredPathAtOnce() {
        try (Fixture f = fixedFailedOver("immediate")) {
            assertTrue(f.info("b").active());
            writes(f.open(), 5);
            assertEquals(10, f.path("b").writes.get());
            assertEquals(5, f.path("a").writes.get());
            assertEquals(0, f.path("c").writes.get());
        }
    }

    @Test
    void fixedWithManualFailbackWaitsForARequest() {
        try (Fixture f = fixedFailedOver("manual")) {
            BlockDevice d = f.open();
            f.clock.advanceSeconds(3600 * 24);
            writes(d, 5);
            assertEquals(10, f.path("a").writes.get());
            f.mp.reconfigure(Map.of()); // manual request
            writes(d, 5);
            assertEquals(10, f.path("b").writes.get());
            assertEquals(10, f.path("a").writes.get());
        }
    }

    @Test
    void fixedWithDelayedFailbackWaitsUntilThePathStayedUp() {
        try (Fixture f = fixedFailedOver("10")) {
            BlockDevice d = f.open();
            f.clock.advanceSeconds(9);
            writes(d, 5);
            assertEquals(10, f.path("a").writes.get(), "not up for 10 s yet");
            assertFalse(f.info("b").active());
            f.clock.advanceSeconds(1);
            assertTrue(f.info("b").active());
            writes(d, 5);
            assertEquals(10, f.path("b").writes.get());
            assertEquals(10, f.path("a").writes.get());
        }
    }

    @Test
    void reconfigureChangesThePolicy() {
        try (Fixture f = new Fixture(List.of("a", "b"), "policy", "fixed")) {
            BlockDevice d = f.open();
            writes(d, 4);
            assertEquals(4, f.path("a").writes.get());
            f.mp.reconfigure(Map.of("policy", "round-robin"));
            writes(d, 4);
            assertEquals(6, f.path("a").writes.get());
            assertEquals(2, f.path("b").writes.get());
            f.mp.reconfigure(Map.of("policy", "fixed", "preferred", "x,b"));
            writes(d, 4);
            assertEquals(6, f.path("b").writes.get());
            assertNotNull(f.info("b"));
        }
    }
}

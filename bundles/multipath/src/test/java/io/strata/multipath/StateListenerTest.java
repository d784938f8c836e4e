package io.strata.multipath;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.api.device.BlockDevice;
import io.strata.api.device.DeviceState;
import io.strata.api.device.Subscription;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class StateListenerTest {
    private static DeviceState next(BlockingQueue<DeviceState> q) throws InterruptedException {
        return q.poll(Fixture.WAIT_MS, TimeUnit.MILLISECONDS);
    }

    @Test
    void listenersFollowEveryChange() throws Exception {
        try (Fixture f = new Fixture(List.of("a", "b"))) {
            BlockDevice d = f.open();
            BlockingQueue<DeviceState> states = new LinkedBlockingQueue<>();
            d.addStateListener(states::add);
            assertEquals(DeviceState.ONLINE, d.state());
            f.path("a").checkMode = FakePath.Mode.FAIL;
            f.mp.checkNow();
            assertEquals(DeviceState.DEGRADED, next(states));
            f.path("b").checkMode = FakePath.Mode.FAIL;
            f.mp.checkNow();
            assertEquals(DeviceState.OFFLINE, next(states));
            f.path("b").checkMode = FakePath.Mode.OK;
            f.mp.checkNow();
            assertEquals(DeviceState.DEGRADED, next(states));
            f.path("a").checkMode = FakePath.Mode.OK;
            f.mp.checkNow();
            assertEquals(DeviceState.ONLINE, next(states));
            f.mp.setPathEnabled("a", false);
            f.mp.setPathEnabled("b", false);
            assertEquals(DeviceState.OFFLINE, next(states));
            assertEquals(DeviceState.OFFLINE, d.state());
        }
    }

    @Test
    void aBlockingListenerHoldsNeitherIoNorTheCheckerAndClosedOnesAreNotCalled() throws Exception {
        try (Fixture f = new Fixture(List.of("a", "b"))) {
            BlockDevice d = f.open();
            CountDownLatch gate = new CountDownLatch(1);
            BlockingQueue<DeviceState> closedOne = new LinkedBlockingQueue<>();
            BlockingQueue<DeviceState> later = new LinkedBlockingQueue<>();
            d.addStateListener(s -> {
                try {
                    gate.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
            Subscription sub = d.addStateListener(closedOne::add);
            d.addStateListener(later::add);
            sub.close();
            sub.close();
            f.path("a").ioMode = FakePath.Mode.FAIL;
            Fixture.writeSector(d, 0, 1); // fails over; the listener call must not hold it
            f.path("a").ioMode = FakePath.Mode.OK;
            f.mp.checkNow();
            assertEquals(DeviceState.ONLINE, d.state());
            gate.countDown();
            assertEquals(DeviceState.DEGRADED, next(later));
            assertEquals(DeviceState.ONLINE, next(later));
            assertTrue(closedOne.isEmpty(), "a closed subscription is not called");
        }
    }

    @Test
    void closingTheHandleEndsItsListeners() throws Exception {
        try (Fixture f = new Fixture(List.of("a", "b"))) {
            BlockDevice first = f.open();
            BlockDevice second = f.open();
            BlockingQueue<DeviceState> a = new LinkedBlockingQueue<>();
            BlockingQueue<DeviceState> b = new LinkedBlockingQueue<>();
            first.addStateListener(a::add);
            second.addStateListener(b::add);
            first.close();
            assertEquals(DeviceState.OFFLINE, first.state());
            f.mp.setPathEnabled("a", false);
            f.path("b").checkMode = FakePath.Mode.FAIL;
            f.mp.checkNow();
            assertEquals(DeviceState.OFFLINE, next(b));
            assertTrue(a.isEmpty());
            assertFalse(f.path("a").closed, "closing a handle closes no path");
        }
    }
}

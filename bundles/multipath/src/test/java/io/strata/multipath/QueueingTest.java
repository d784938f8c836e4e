package io.strata.multipath;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.device.BlockDevice;
import io.strata.api.device.DeviceState;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class QueueingTest {
    private final ExecutorService pool = Executors.newCachedThreadPool();

    @AfterEach
    void stop() {
        pool.shutdownNow();
    }

    /** Starts a write of sector 5 on another thread and returns once it waits for a path. */
    private Future<?> queuedWrite(Fixture f, BlockDevice d, int value) {
        AtomicReference<Thread> writer = new AtomicReference<>();
        Future<?> job = pool.submit(() -> {
            writer.set(Thread.currentThread());
            Fixture.writeSector(d, 5, value);
            return null;
        });
        Fixture.await("the write waits for a path",
                () -> writer.get() != null && f.clock.hasWaited(writer.get()) || job.isDone());
        assertFalse(job.isDone(), "the write waits");
        return job;
    }

    @Test
    void ioWaitsForNoPathRetryThenFails() throws Exception {
        try (Fixture f = new Fixture(List.of("a", "b"))) {
            BlockDevice d = f.open();
            BlockingQueue<DeviceState> states = new LinkedBlockingQueue<>();
            d.addStateListener(states::add);
            f.path("a").ioMode = FakePath.Mode.FAIL;
            f.path("b").ioMode = FakePath.Mode.FAIL;
            f.path("a").checkMode = FakePath.Mode.FAIL;
            f.path("b").checkMode = FakePath.Mode.FAIL;

            Future<?> job = queuedWrite(f, d, 1);
            assertEquals(DeviceState.OFFLINE, d.state());
            assertEquals(DeviceState.DEGRADED, states.poll(Fixture.WAIT_MS, TimeUnit.MILLISECONDS));
            assertEquals(DeviceState.OFFLINE, states.poll(Fixture.WAIT_MS, TimeUnit.MILLISECONDS));
            assertTrue(f.mp.paths().stream().noneMatch(p -> p.active()));

            f.clock.advanceSeconds(29);
            f.mp.checkNow(); // still no path
            assertFalse(job.isDone(), "still within no-path-retry");
            f.clock.advanceSeconds(2);
            ExecutionException e = assertThrows(ExecutionException.class,
                    () -> job.get(Fixture.WAIT_MS, TimeUnit.MILLISECONDS));
            StorageException se = assertInstanceOf(StorageException.class, e.getCause());
            assertEquals(ErrorCode.DEVICE_UNAVAILABLE, se.code());
            assertTrue(se.getMessage().contains("res1/lun0"), se.getMessage());
            assertTrue(f.path("a").reconnects.get() >= 1, "the checker tries to reconnect failed paths");
        }
    }

    @Test
    void queuedIoProceedsWhenAPathReturns() throws Exception {
        try (Fixture f = new Fixture(List.of("a", "b"))) {
            BlockDevice d = f.open();
            f.path("a").ioMode = FakePath.Mode.FAIL;
            f.path("b").ioMode = FakePath.Mode.FAIL;
            f.path("a").checkMode = FakePath.Mode.FAIL;
            Future<?> job = queuedWrite(f, d, 0x77);
            f.clock.advanceSeconds(20);
            f.path("b").ioMode = FakePath.Mode.OK;
            f.mp.checkNow();
            job.get(Fixture.WAIT_MS, TimeUnit.MILLISECONDS);
            assertArrayEquals(Fixture.sectorOf(0x77).array(), f.lun.bytes(5 * Fixture.SECTOR, Fixture.SECTOR));
            assertEquals(DeviceState.DEGRADED, d.state());
            assertEquals(DeviceState.ONLINE, f.info("b").state());
            assertEquals(DeviceState.OFFLINE, f.info("a").state());
        }
    }

    @Test
    void noPathRetryZeroFailsAtOnce() {
        try (Fixture f = new Fixture(List.of("a"), "no-path-retry", "0")) {
            BlockDevice d = f.open();
            f.path("a").ioMode = FakePath.Mode.FAIL;
            StorageException e = assertThrows(StorageException.class, () -> Fixture.writeSector(d, 0, 1));
            assertEquals(ErrorCode.DEVICE_UNAVAILABLE, e.code());
            assertEquals(DeviceState.OFFLINE, d.state());
        }
    }

    @Test
    void closingTheMultipathFailsQueuedIo() throws Exception {
        Fixture f = new Fixture(List.of("a"));
        BlockDevice d = f.open();
        f.path("a").ioMode = FakePath.Mode.FAIL;
        Future<?> job = queuedWrite(f, d, 1);
        f.mp.close();
        ExecutionException e = assertThrows(ExecutionException.class,
                () -> job.get(Fixture.WAIT_MS, TimeUnit.MILLISECONDS));
        assertEquals(ErrorCode.DEVICE_UNAVAILABLE, ((StorageException) e.getCause()).code());
        f.close();
    }
}

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
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Reads and writes started with {@code readAsync}/{@code writeAsync}: they run on the paths'
 * own I/O threads, move to another path when theirs fails, and wait for a path (on a retry
 * thread, never on a path's thread) when none is usable.
 */
class AsyncIoTest {
    private static final int IOS = 300;
    private final ExecutorService io = Executors.newFixedThreadPool(2, r -> new Thread(r, "fake-path-io"));

    @AfterEach
    void stop() {
        io.shutdownNow();
    }

    private Fixture fixture(String... params) {
        Fixture f = new Fixture(IOS, List.of("a", "b"), params);
        for (FakePath p : f.paths) {
            p.asyncOn = io;
        }
        return f;
    }

    private static void awaitQuietly(CountDownLatch latch) {
        try {
            latch.await(Fixture.WAIT_MS, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static ByteBuffer pattern(int i) {
        ByteBuffer b = ByteBuffer.allocateDirect(Fixture.SECTOR);
        for (int k = 0; k < Fixture.SECTOR; k++) {
            b.put((byte) (i * 13 + k));
        }
        return b.flip();
    }

    @Test
    void writesInFlightMoveToTheOtherPathWhenOneFails() throws Exception {
        try (Fixture f = fixture("policy", "round-robin")) {
            BlockDevice d = f.open();
            FakePath victim = f.path("b");
            List<CompletableFuture<Void>> writes = new ArrayList<>();
            List<ByteBuffer> sources = new ArrayList<>();
            for (int i = 0; i < IOS; i++) {
                if (i == IOS / 3) {
                    victim.ioMode = FakePath.Mode.PARTIAL; // drops what it gets half way through
                }
                ByteBuffer src = pattern(i);
                sources.add(src);
                writes.add(d.writeAsync(src, (long) i * Fixture.SECTOR));
            }
            CompletableFuture.allOf(writes.toArray(new CompletableFuture<?>[0])).get(Fixture.WAIT_MS,
                    TimeUnit.MILLISECONDS); // throws if any write failed
            assertTrue(f.path("a").asyncCalls.get() > 0 && victim.asyncCalls.get() > 0, "both paths were used");
            assertEquals(DeviceState.OFFLINE, f.info("b").state());
            assertTrue(f.info("b").errors() >= 1);
            assertEquals(DeviceState.DEGRADED, d.state());
            for (int i = 0; i < IOS; i++) {
                assertEquals(0, sources.get(i).remaining(), "write " + i + " consumed its buffer");
                ByteBuffer back = ByteBuffer.allocateDirect(Fixture.SECTOR);
                d.readAsync(back, (long) i * Fixture.SECTOR).get(Fixture.WAIT_MS, TimeUnit.MILLISECONDS);
                assertEquals(0, back.remaining(), "read " + i + " filled its buffer");
                byte[] got = new byte[Fixture.SECTOR];
                back.flip().get(got);
                byte[] want = new byte[Fixture.SECTOR];
                pattern(i).get(want);
                assertArrayEquals(want, got, "sector " + i);
            }
        }
    }

    @Test
    void theDevicesOwnErrorsPassThroughAndLeaveThePathUp() {
        try (Fixture f = fixture("policy", "round-robin")) {
            BlockDevice d = f.open();
            CountDownLatch attached = new CountDownLatch(1);
            for (FakePath p : f.paths) {
                p.deviceError = new StorageException(ErrorCode.IO_ERROR, "medium error at LBA 3");
                // the I/O completes only once the test has attached to it, so that what it
                // attaches runs on the thread that completes the I/O
                p.beforeIo = path -> awaitQuietly(attached);
            }
            AtomicReference<String> completedOn = new AtomicReference<>();
            CompletableFuture<Void> read = d.readAsync(ByteBuffer.allocateDirect(Fixture.SECTOR), 3 * Fixture.SECTOR)
                    .whenComplete((v, e) -> completedOn.set(Thread.currentThread().getName()));
            attached.countDown();
            ExecutionException e = assertThrows(ExecutionException.class,
                    () -> read.get(Fixture.WAIT_MS, TimeUnit.MILLISECONDS));
            StorageException se = assertInstanceOf(StorageException.class, e.getCause());
            assertEquals(ErrorCode.IO_ERROR, se.code());
            assertEquals("fake-path-io", completedOn.get(), "completed on the path's thread, not retried");
            assertEquals(DeviceState.ONLINE, d.state());
        }
    }

    @Test
    void withNoUsablePathIoWaitsForNoPathRetryOnARetryThreadThenFails() throws Exception {
        try (Fixture f = fixture()) {
            BlockDevice d = f.open();
            for (FakePath p : f.paths) {
                p.ioMode = FakePath.Mode.FAIL;
                p.checkMode = FakePath.Mode.FAIL;
            }
            AtomicReference<Thread> retrier = new AtomicReference<>();
            CompletableFuture<Void> write = d.writeAsync(pattern(1), 0)
                    .whenComplete((v, e) -> retrier.set(Thread.currentThread()));
            Fixture.await("the write waits for a path on a retry thread",
                    () -> f.clock.hasWaited("strata-multipath-retry-res1") || write.isDone());
            assertFalse(write.isDone(), "the write waits");
            f.clock.advanceSeconds(29);
            f.mp.checkNow(); // still no path
            assertFalse(write.isDone(), "still within no-path-retry");
            f.clock.advanceSeconds(2);
            ExecutionException e = assertThrows(ExecutionException.class,
                    () -> write.get(Fixture.WAIT_MS, TimeUnit.MILLISECONDS));
            assertEquals(ErrorCode.DEVICE_UNAVAILABLE, assertInstanceOf(StorageException.class, e.getCause()).code());
            assertTrue(retrier.get().getName().startsWith("strata-multipath-retry-res1"), retrier.get().getName());
        }
    }

    @Test
    void aQueuedAsyncWriteCompletesWhenAPathReturns() throws Exception {
        try (Fixture f = fixture()) {
            BlockDevice d = f.open();
            for (FakePath p : f.paths) {
                p.ioMode = FakePath.Mode.FAIL;
                p.checkMode = FakePath.Mode.FAIL;
            }
            CompletableFuture<Void> write = d.writeAsync(pattern(7), 5 * Fixture.SECTOR);
            Fixture.await("the write waits for a path on a retry thread",
                    () -> f.clock.hasWaited("strata-multipath-retry-res1") || write.isDone());
            assertFalse(write.isDone());
            f.path("b").ioMode = FakePath.Mode.OK;
            f.path("b").checkMode = FakePath.Mode.OK;
            f.mp.checkNow();
            write.get(Fixture.WAIT_MS, TimeUnit.MILLISECONDS);
            byte[] want = new byte[Fixture.SECTOR];
            pattern(7).get(want);
            assertArrayEquals(want, f.lun.bytes(5 * Fixture.SECTOR, Fixture.SECTOR));
        }
    }

    @Test
    void aClosedHandleRefusesAtOnce() {
        try (Fixture f = fixture()) {
            BlockDevice d = f.open();
            d.close();
            StorageException e = assertThrows(StorageException.class,
                    () -> d.readAsync(ByteBuffer.allocateDirect(Fixture.SECTOR), 0));
            assertEquals(ErrorCode.DEVICE_UNAVAILABLE, e.code());
        }
    }
}

package io.strata.local.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.device.BlockDevice;
import io.strata.api.device.DeviceInfo;
import io.strata.api.device.DeviceKind;
import io.strata.api.device.DeviceState;
import io.strata.api.device.WriteFence;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Writes behind a {@link WriteFence} (the lease of a shared datastore): the fence is checked in
 * the thread that makes the system calls, right before each of them, on real files, buffered and
 * {@code O_DIRECT}. A write whose thread stopped between the caller's check and the system call
 * (a frozen process) is not issued once the fence closed, nor is the rest of a write made in
 * pieces; a refusal is the fence's error and leaves the device online.
 */
class WriteFenceTest {
    private static final StorageException LOST = new StorageException(ErrorCode.DEVICE_UNAVAILABLE,
            "this host's lease expired");

    @TempDir
    Path tmp;

    private Path file(String name, int size) throws Exception {
        Path f = tmp.resolve(name);
        try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
            raf.setLength(size);
        }
        return f;
    }

    private static byte[] random(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    /** A fence that lets {@code passes} checks through, then refuses every one. */
    private static WriteFence passing(int passes, AtomicInteger checks) {
        return () -> {
            if (checks.incrementAndGet() > passes) {
                throw LOST;
            }
        };
    }

    /** A backend whose fenced writes stop, before they go on to the real one, until released. */
    private static final class Stopping extends DeviceStateTest.StallingBackend {
        final CountDownLatch stopped = new CountDownLatch(1);
        final CountDownLatch resume = new CountDownLatch(1);

        Stopping(LocalBlockDevice.Backend real) {
            super(real);
        }

        @Override
        public void write(ByteBuffer src, long offset, WriteFence fence) {
            stopped.countDown();
            try {
                resume.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            real.write(src, offset, fence);
        }
    }

    @ParameterizedTest(name = "time limit {0} ms")
    @ValueSource(longs = {0, 60_000})
    void aWriteStoppedBeforeItsSystemCallIsNotIssuedOnceTheFenceCloses(long limitMillis) throws Exception {
        Path f = file("lun.img", 1 << 20);
        DeviceInfo info = new DeviceInfo("t", "lun", DeviceKind.BLOCK, 1 << 20, 512, "test LUN", "uuid:fence");
        Stopping backend = new Stopping(LocalBlockDevice.ChannelBackend.open(info, f, false));
        AtomicBoolean mayWrite = new AtomicBoolean(true);
        WriteFence lease = () -> {
            if (!mayWrite.get()) {
                throw LOST;
            }
        };
        try (LocalBlockDevice d = new LocalBlockDevice(info, f, false, limitMillis, LocalBlockDevice.MAX_STUCK, backend)) {
            byte[] data = random(64 << 10, 1);
            // the caller's check passes; the write's thread then stops before its system call
            CompletableFuture<Void> w = CompletableFuture.runAsync(() -> d.write(ByteBuffer.wrap(data), 4096, lease));
            assertTrue(backend.stopped.await(60, TimeUnit.SECONDS), "the write reached the backend");
            mayWrite.set(false); // the lease expires while it is stopped; another host may take over
            backend.resume.countDown();
            ExecutionException e = assertThrows(ExecutionException.class, () -> w.get(60, TimeUnit.SECONDS));
            assertSame(LOST, e.getCause(), "the fence's own error");
            assertArrayEquals(new byte[64 << 10], Arrays.copyOfRange(Files.readAllBytes(f), 4096, 4096 + (64 << 10)),
                    "nothing of the write reached the file");
            assertEquals(DeviceState.ONLINE, d.state(), "a refused write is no failure of the device");
            // a write while the lease holds goes through as before
            mayWrite.set(true);
            d.write(ByteBuffer.wrap(data), 4096, lease);
            assertArrayEquals(data, Arrays.copyOfRange(Files.readAllBytes(f), 4096, 4096 + (64 << 10)));
        }
    }

    /**
     * A write given up on (its time limit passed) before its worker thread even started it, as
     * when the process was stopped or the machine overloaded, is dropped: issued late, it would
     * land after the caller was told it failed and, on shared storage, after the lease's
     * assumption that an I/O not done within its limit never is.
     */
    @Test
    void aWriteGivenUpBeforeItStartedIsNeverIssued() throws Exception {
        Path f = file("lun.img", 1 << 20);
        DeviceInfo info = new DeviceInfo("t", "lun", DeviceKind.BLOCK, 1 << 20, 512, "test LUN", "uuid:late");
        CountDownLatch go = new CountDownLatch(1);
        java.util.concurrent.ThreadFactory late = r -> {
            Thread t = new Thread(() -> {
                try {
                    go.await(); // the worker thread exists but does not run yet
                } catch (InterruptedException e) {
                    return;
                }
                r.run();
            }, "late worker");
            t.setDaemon(true);
            return t;
        };
        try (LocalBlockDevice d = new LocalBlockDevice(info, f, false, 300, LocalBlockDevice.MAX_STUCK,
                LocalBlockDevice.ChannelBackend.open(info, f, false), late)) {
            byte[] data = random(8192, 4);
            StorageException e = assertThrows(StorageException.class, () -> d.write(ByteBuffer.wrap(data), 0));
            assertEquals(ErrorCode.DEVICE_UNAVAILABLE, e.code(), e.getMessage());
            assertEquals(1, d.stuckIos(), "counted as stuck while its worker has not run");
            go.countDown();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (d.stuckIos() > 0 && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
            assertEquals(0, d.stuckIos(), "the worker ran and let it go");
            assertArrayEquals(new byte[8192], Arrays.copyOf(Files.readAllBytes(f), 8192), "it was never written");
        }
    }

    @Test
    void aBufferedWriteInPiecesStopsAtThePieceTheFenceRefuses() throws Exception {
        Path f = file("lun.img", 4 << 20);
        BlockDevice d = (BlockDevice) new LocalDriver().attach("lun", Map.of("kind", "file-lun", "path", f.toString()))
                .openDevice("lun");
        try (d) {
            assertFalse(((LocalBlockDevice) d).uncached());
            byte[] data = random(1 << 20, 2);
            AtomicInteger checks = new AtomicInteger();
            StorageException e = assertThrows(StorageException.class,
                    () -> d.write(ByteBuffer.wrap(data), 1 << 20, passing(1, checks)));
            assertSame(LOST, e);
            assertEquals(2, checks.get(), "checked before the first piece and before the second");
            byte[] now = Files.readAllBytes(f);
            int piece = LocalBlockDevice.ChannelBackend.MAX_PIECE;
            assertArrayEquals(Arrays.copyOf(data, piece), Arrays.copyOfRange(now, 1 << 20, (1 << 20) + piece),
                    "the first piece was written before the fence closed");
            assertArrayEquals(new byte[(1 << 20) - piece], Arrays.copyOfRange(now, (1 << 20) + piece, 2 << 20),
                    "nothing after it");
            assertEquals(DeviceState.ONLINE, d.state());
            // asynchronous, refused at once: nothing written, the future carries the fence's error
            checks.set(0);
            ExecutionException ae = assertThrows(ExecutionException.class,
                    () -> d.writeAsync(ByteBuffer.wrap(data), 3 << 20, passing(0, checks)).get(60, TimeUnit.SECONDS));
            assertSame(LOST, ae.getCause());
            assertArrayEquals(new byte[1 << 20], Arrays.copyOfRange(Files.readAllBytes(f), 3 << 20, 4 << 20));
        }
    }

    @Test
    void anUncachedWriteChecksTheFenceBeforeEachSystemCall() throws Exception {
        Path f = file("lun.img", 8 << 20);
        BlockDevice d = (BlockDevice) new LocalDriver().attach("lun", Map.of("kind", "file-lun", "path", f.toString(),
                "direct", "true", "io.timeout.ms", "60000")).openDevice("lun");
        try (d) {
            assertTrue(((LocalBlockDevice) d).uncached(), "the descriptor carries O_DIRECT");
            byte[] data = random(3 << 20, 3);
            AtomicInteger checks = new AtomicInteger();
            // a heap buffer goes through 1 MiB bounce chunks: one system call each
            StorageException e = assertThrows(StorageException.class,
                    () -> d.write(ByteBuffer.wrap(data), 1 << 20, passing(1, checks)));
            assertSame(LOST, e);
            assertEquals(2, checks.get());
            byte[] now = Files.readAllBytes(f);
            assertArrayEquals(Arrays.copyOf(data, 1 << 20), Arrays.copyOfRange(now, 1 << 20, 2 << 20));
            assertArrayEquals(new byte[2 << 20], Arrays.copyOfRange(now, 2 << 20, 4 << 20));
            assertEquals(DeviceState.ONLINE, d.state());
            checks.set(0);
            d.write(ByteBuffer.wrap(data), 4 << 20, passing(100, checks));
            assertArrayEquals(data, Arrays.copyOfRange(Files.readAllBytes(f), 4 << 20, 7 << 20));
            assertEquals(3, checks.get(), "three chunks, three checks");
        }
    }
}

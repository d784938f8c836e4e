package io.strata.posix;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.device.WriteFence;
import io.strata.api.fs.Datastore;
import io.strata.api.fs.DatastoreFile;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The fenced view of a shared directory datastore ({@link LocalDirectoryDatastore#fenced}) on
 * real files: the host's lease check runs again in the thread that makes each system call
 * changing a file, after the file's own turns, so a write that passed its caller's check and
 * then waited (for its turn behind another large write, or stopped) issues nothing once the
 * lease has expired.
 */
class FencedDirectoryTest {
    private static final int MIB = 1 << 20;
    @TempDir
    Path dir;

    /** The lease: valid until {@link #expire}; refusals are what the core's lease check throws. */
    private static final class Lease implements WriteFence {
        final AtomicBoolean valid = new AtomicBoolean(true);

        void expire() {
            valid.set(false);
        }

        @Override
        public void check() {
            if (!valid.get()) {
                throw new StorageException(ErrorCode.DEVICE_UNAVAILABLE, "host h fenced itself in lockspace 'ds'");
            }
        }
    }

    private static ByteBuffer filled(int n, int value) {
        ByteBuffer b = ByteBuffer.allocateDirect(n);
        while (b.hasRemaining()) {
            b.put((byte) value);
        }
        return b.flip();
    }

    private static byte[] read(DatastoreFile f, long at, int n) {
        ByteBuffer b = ByteBuffer.allocate(n);
        f.read(b, at);
        return b.array();
    }

    @Test
    void aLargeWriteThatWaitedForItsTurnIsRefusedOnceTheLeaseExpired() throws Exception {
        Lease lease = new Lease();
        CountDownLatch inFirst = new CountDownLatch(1);
        CountDownLatch releaseFirst = new CountDownLatch(1);
        // The first writer's check holds it inside its turn, as a slow pwrite would.
        WriteFence slowFirst = () -> {
            if (Thread.currentThread().getName().equals("first") && inFirst.getCount() > 0) {
                inFirst.countDown();
                try {
                    releaseFirst.await();
                } catch (InterruptedException e) {
                    throw new AssertionError(e);
                }
                return; // it had passed its check
            }
            lease.check();
        };
        LocalDirectoryDatastore ds = new LocalDirectoryDatastore("ds", "dir", dir, null, true);
        try {
            Datastore view = ds.fenced(slowFirst);
            DatastoreFile f = view.create("vm.img");
            f.setSize(4L * MIB);
            LocalFile local = (LocalFile) f;
            CompletableFuture<Void> first = new CompletableFuture<>();
            Thread t1 = new Thread(() -> {
                try {
                    f.write(filled(MIB, 0x11), 0);
                    first.complete(null);
                } catch (Throwable e) {
                    first.completeExceptionally(e);
                }
            }, "first");
            t1.start();
            assertTrue(inFirst.await(30, TimeUnit.SECONDS));
            // The second writer passed its caller's check (the lease was valid) and waits its turn.
            lease.check();
            CompletableFuture<Void> second = new CompletableFuture<>();
            Thread t2 = new Thread(() -> {
                try {
                    f.write(filled(MIB, 0x22), MIB);
                    second.complete(null);
                } catch (Throwable e) {
                    second.completeExceptionally(e);
                }
            }, "second");
            t2.start();
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (local.turnWaits() == 0 && System.nanoTime() < end) {
                Thread.sleep(5);
            }
            assertEquals(1, local.turnWaits(), "the second write waits for its turn");
            lease.expire(); // the lease runs out while it waits; another host may take the file next
            releaseFirst.countDown();
            first.get(30, TimeUnit.SECONDS);
            Exception refused = assertThrows(Exception.class, () -> second.get(30, TimeUnit.SECONDS));
            StorageException e = (StorageException) refused.getCause();
            assertEquals(ErrorCode.DEVICE_UNAVAILABLE, e.code(), e.getMessage());
            byte[] ones = new byte[MIB];
            Arrays.fill(ones, (byte) 0x11);
            assertArrayEquals(ones, read(f, 0, MIB), "the write that passed its check landed");
            assertArrayEquals(new byte[MIB], read(f, MIB, MIB), "not one byte of the refused write");
        } finally {
            ds.close();
        }
    }

    @Test
    void everyChangeThroughTheViewIsRefusedOnceTheLeaseExpired() throws Exception {
        Lease lease = new Lease();
        LocalDirectoryDatastore ds = new LocalDirectoryDatastore("ds", "dir", dir, null, true);
        Datastore view = ds.fenced(lease);
        DatastoreFile f = view.create("a.img");
        f.setSize(2L * MIB);
        f.write(filled(4096, 0x33), 0);
        view.writeAtomically("b.json", new byte[] {1, 2, 3});
        DatastoreFile reader = view.open("a.img", false);
        lease.expire();

        assertRefused(() -> f.write(filled(4096, 0x44), 0));
        assertRefused(() -> f.write(ByteBuffer.wrap(new byte[4096]), 8192)); // a heap buffer too
        assertRefused(() -> f.write(new ByteBuffer[] {filled(4096, 0x44), filled(4096, 0x44)}, 0));
        assertRefused(() -> f.setSize(MIB));
        assertRefused(() -> f.allocate(0, 2L * MIB));
        assertRefused(() -> f.punchHole(0, 4096));
        assertRefused(() -> view.writeAtomically("b.json", new byte[] {9}));
        assertRefused(() -> view.rename("b.json", "c.json"));
        assertRefused(() -> view.delete("a.img"));
        assertRefused(() -> view.open("a.img", true).write(filled(4096, 0x44), 0));

        // nothing changed, and reading still works (reads change nothing)
        byte[] threes = new byte[4096];
        Arrays.fill(threes, (byte) 0x33);
        assertArrayEquals(threes, read(reader, 0, 4096));
        assertEquals(2L * MIB, Files.size(dir.resolve("a.img")));
        assertArrayEquals(new byte[] {1, 2, 3}, Files.readAllBytes(dir.resolve("b.json")));
        assertFalse(Files.exists(dir.resolve("c.json")));
        try (var names = Files.list(dir)) {
            assertTrue(names.noneMatch(p -> p.getFileName().toString().startsWith(LocalDirectoryDatastore.TEMP_PREFIX)),
                    "no temporary file left by the refused atomic write");
        }

        // the datastore itself is not fenced (the core writes its lockspace through it)
        DatastoreFile direct = ds.open("a.img", true);
        direct.write(filled(4096, 0x55), 0);
        direct.close();
        // the view shares the mount: closing it closes the datastore and every file
        view.close();
        assertEquals(0, ds.openFileCount());
        StorageException closed = assertThrows(StorageException.class, () -> ds.open("a.img", false));
        assertEquals(ErrorCode.DEVICE_UNAVAILABLE, closed.code());
        assertSame(ErrorCode.DEVICE_UNAVAILABLE,
                assertThrows(StorageException.class, () -> view.open("a.img", false)).code());
    }

    private static void assertRefused(Runnable r) {
        StorageException e = assertThrows(StorageException.class, r::run);
        assertEquals(ErrorCode.DEVICE_UNAVAILABLE, e.code(), e.getMessage());
        assertTrue(e.getMessage().contains("fenced itself"), e.getMessage());
    }
}

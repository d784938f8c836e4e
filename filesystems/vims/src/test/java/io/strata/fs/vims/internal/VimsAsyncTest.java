package io.strata.fs.vims.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.fs.DatastoreFile;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A VIMS file's asynchronous reads and writes: pieces in blocks that are allocated and written
 * go to the device's asynchronous calls (an iSCSI LUN keeps many under way); first writes,
 * unaligned pieces and holes another host may have filled run the blocking path on the
 * filesystem's own threads, never in the caller's; the fence refuses a write at once. Asserted
 * on the calls and threads the device saw and on every byte.
 */
class VimsAsyncTest {
    static final int MIB = 1024 * 1024;
    @TempDir
    Path dir;
    TestDevice dev;
    Vims fs;
    final ExecutorService driver = Executors.newFixedThreadPool(4, r -> {
        Thread t = new Thread(r, "driver-io");
        t.setDaemon(true);
        return t;
    });
    final Set<String> blocking = ConcurrentHashMap.newKeySet();

    @BeforeEach
    void setUp() {
        dev = new TestDevice(dir.resolve("lun"), 512L * MIB, "uuid:test-lun");
        new VimsFilesystem().format(dev, Map.of("max-files", "64", "max-hosts", "4", "cluster-size", "16M"), false);
        fs = Vims.mount("ds", dev, Hosts.host("a"));
        dev.asyncIo = driver;
    }

    @AfterEach
    void tearDown() {
        fs.close();
        dev.close();
        driver.shutdownNow();
    }

    /**
     * The threads that made blocking device calls, less the background ones: the lease
     * library's heartbeat and the mount's maintenance thread ({@code strata-vims-ds}).
     */
    Set<String> blockingCallers() {
        Set<String> s = new java.util.TreeSet<>(blocking);
        s.removeIf(n -> n.startsWith("strata-lease-") || n.equals("strata-vims-ds"));
        return s;
    }

    static byte[] random(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    static byte[] readAsync(DatastoreFile f, long pos, int n) {
        ByteBuffer b = ByteBuffer.allocateDirect(n);
        f.readAsync(b, pos).join();
        assertFalse(b.hasRemaining(), "the buffer is at its limit once the read is done");
        byte[] out = new byte[n];
        b.flip().get(out);
        return out;
    }

    static void writeAsync(DatastoreFile f, byte[] model, long pos, byte[] data) {
        ByteBuffer b = ByteBuffer.wrap(data);
        f.writeAsync(b, pos).join();
        assertFalse(b.hasRemaining(), "the buffer is at its limit once the write is done");
        System.arraycopy(data, 0, model, (int) pos, data.length);
    }

    static byte[] part(byte[] model, long pos, int n) {
        byte[] b = new byte[n];
        System.arraycopy(model, (int) pos, b, 0, n);
        return b;
    }

    @Test
    void writtenBlocksGoToTheDeviceWithoutWaitingAndTheRestRunsOnTheFilesystemsThreads() {
        byte[] model = new byte[8 * MIB];
        try (DatastoreFile f = fs.create("disk.vhd")) {
            assertTrue(f.concurrentIo());
            f.setSize(model.length);
            dev.blockingThreads = blocking;

            // A first write into a hole allocates: the blocking path, on the filesystem's threads.
            writeAsync(f, model, 4096, random(8192, 1));
            assertEquals(Set.of("strata-vims-io-ds"), blockingCallers(), "the allocation ran on VIMS's own threads");

            // The block is written now: reads and writes there go to the device as they are.
            blocking.clear();
            long async0 = dev.asyncCalls.get();
            writeAsync(f, model, 65536, random(4096, 2));
            assertArrayEquals(part(model, 0, 128 * 1024), readAsync(f, 0, 128 * 1024));
            assertEquals(async0 + 2, dev.asyncCalls.get());
            // A hole of a file this host writes reads as zeros with no I/O at all.
            assertArrayEquals(new byte[65536], readAsync(f, 5L * MIB, 65536));
            assertEquals(async0 + 2, dev.asyncCalls.get());
            assertEquals(Set.of(), blockingCallers(), "no blocking device call for those");

            // A write and a read across two written blocks that lie one after the other on the
            // device: one device request for both.
            writeAsync(f, model, MIB, random(2 * MIB, 3)); // allocates blocks 1 and 2 (blocking path)
            blocking.clear();
            async0 = dev.asyncCalls.get();
            writeAsync(f, model, 2L * MIB - 8192, random(16384, 4)); // blocks 1 and 2, both written
            assertEquals(async0 + 1, dev.asyncCalls.get());
            assertArrayEquals(part(model, MIB, 2 * MIB), readAsync(f, MIB, 2 * MIB));
            assertEquals(async0 + 2, dev.asyncCalls.get());
            assertEquals(Set.of(), blockingCallers());
            // Blocks allocated in the other order (6, then 5) are not one run: a request per block.
            writeAsync(f, model, 6L * MIB, random(MIB, 11));
            writeAsync(f, model, 5L * MIB, random(MIB, 12));
            async0 = dev.asyncCalls.get();
            writeAsync(f, model, 6L * MIB - 4096, random(8192, 13));
            assertEquals(async0 + 2, dev.asyncCalls.get());
            assertArrayEquals(part(model, 5L * MIB, 2 * MIB), readAsync(f, 5L * MIB, 2 * MIB));
            assertEquals(async0 + 4, dev.asyncCalls.get());

            // Not sector aligned: the blocking path (read-modify-write), on VIMS's threads.
            writeAsync(f, model, 4096 + 7, random(100, 5));
            assertArrayEquals(part(model, 4000, 300), readAsync(f, 4000, 300));
            assertEquals(Set.of("strata-vims-io-ds"), blockingCallers());

            // Many at once, allocating and not: every byte where it belongs.
            Random r = new Random(6);
            List<CompletableFuture<Void>> all = new ArrayList<>();
            for (int i = 0; i < 32; i++) {
                int len = 512 * (1 + r.nextInt(128));
                long pos = (long) i * (model.length / 32) + 512L * r.nextInt(256);
                byte[] data = random(len, 100 + i);
                System.arraycopy(data, 0, model, (int) pos, len);
                all.add(f.writeAsync(ByteBuffer.wrap(data), pos));
            }
            CompletableFuture.allOf(all.toArray(CompletableFuture[]::new)).join();
            assertFalse(blocking.contains("main"), "no blocking device call in the caller's thread");
            f.flush();
            assertArrayEquals(model, readAsync(f, 0, model.length));

            // Past the end: the read fails, as the blocking read would say so.
            CompletionException e = assertThrows(CompletionException.class,
                    () -> f.readAsync(ByteBuffer.allocate(8192), model.length - 4096).join());
            assertEquals(ErrorCode.IO_ERROR, ((StorageException) e.getCause()).code());
        }
        try (DatastoreFile f = fs.open("disk.vhd", false)) {
            byte[] b = new byte[model.length];
            f.read(ByteBuffer.wrap(b), 0);
            assertArrayEquals(model, b, "what the asynchronous writes left, reopened");
        }
        assertTrue(fs.check(false).clean());
    }

    @Test
    void aFencedHostsWriteIsRefusedAtOnceAndWritesNothing() {
        try (DatastoreFile f = fs.create("disk.vhd")) {
            f.write(ByteBuffer.wrap(random(MIB, 7)), 0);
            f.flush();
            long writes = dev.writes.get();
            fs.disk.guard(() -> false, "this host's heartbeat expired");
            StorageException e = assertThrows(StorageException.class,
                    () -> f.writeAsync(ByteBuffer.wrap(random(4096, 8)), 4096));
            assertEquals(ErrorCode.DEVICE_UNAVAILABLE, e.code());
            CompletionException slow = assertThrows(CompletionException.class,
                    () -> f.writeAsync(ByteBuffer.wrap(random(4096, 9)), 4L * MIB).join());
            assertEquals(ErrorCode.DEVICE_UNAVAILABLE, ((StorageException) slow.getCause()).code());
            assertEquals(writes, dev.writes.get(), "nothing reached the device");
            fs.disk.guard(() -> true, "");
        }
    }

    @Test
    void aReaderOnAnotherHostSeesBlocksTheWriterFilledSinceItOpenedTheFile() {
        TestDevice devB = new TestDevice(dir.resolve("lun"), 512L * MIB, "uuid:test-lun");
        devB.asyncIo = driver;
        Vims b = Vims.mount("ds", devB, Hosts.host("b"));
        try (DatastoreFile w = fs.create("base.vhd")) {
            w.setSize(4L * MIB);
            w.flush();
            try (DatastoreFile r = b.open("base.vhd", false)) {
                assertArrayEquals(new byte[4096], readAsync(r, MIB, 4096), "a hole, before the writer fills it");
                byte[] data = random(MIB, 10);
                w.write(ByteBuffer.wrap(data), MIB);
                w.flush();
                assertArrayEquals(part(data, 0, 4096), readAsync(r, MIB, 4096),
                        "the reader's view of the mapping is refreshed for a hole");
                assertArrayEquals(part(data, 4096, 65536), readAsync(r, MIB + 4096, 65536));
            }
        } finally {
            b.close();
            devB.close();
        }
    }
}

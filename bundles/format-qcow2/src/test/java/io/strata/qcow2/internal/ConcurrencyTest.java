package io.strata.qcow2.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.api.format.CheckReport;
import io.strata.api.format.DiskSpec;
import io.strata.api.format.Provisioning;
import io.strata.api.format.VirtualDisk;
import io.strata.testing.MemoryFile;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Many threads on one disk: writers that allocate in the same L2 tables, readers, an L2
 * cache small enough to evict constantly, and populate racing guest writes (a cluster the
 * guest wrote must never be overwritten with the parent's older data).
 */
class ConcurrencyTest {
    private static final int CS = 65536;
    private static final int THREADS = 4;

    @AfterEach
    void restoreCache() {
        Qcow2Disk.l2CacheBytes = 32L << 20;
    }

    /** Each writer owns every THREADS-th cluster; versions are written in order, so the last one must win. */
    @Test
    void writersReadersAndEvictionAgreeWithTheModel() throws Exception {
        Qcow2Disk.l2CacheBytes = 16L * CS; // 16 tables: the 40 tables below evict all the time
        long size = 20L << 30;
        int clusters = 40 * 64; // spread over 40 L2 tables (512 MiB each)
        Qcow2Format format = new Qcow2Format();
        MemoryFile f = new MemoryFile("c.qcow2");
        byte[][] last = new byte[clusters][];
        try (VirtualDisk d = format.create(f, new DiskSpec(size, Provisioning.THIN))) {
            runAll(THREADS + 2, t -> {
                Random r = new Random(t);
                for (int i = 0; i < 600; i++) {
                    int c = r.nextInt(clusters);
                    long off = clusterOffset(c);
                    if (t >= THREADS) {
                        byte[] b = new byte[512];
                        d.read(ByteBuffer.wrap(b), off + r.nextInt(CS - 512));
                        continue;
                    }
                    c = c - c % THREADS + t;
                    byte[] data = new byte[CS];
                    r.nextBytes(data);
                    d.write(ByteBuffer.wrap(data, 0, CS / 2), clusterOffset(c));
                    d.write(ByteBuffer.wrap(data, CS / 2, CS / 2), clusterOffset(c) + CS / 2);
                    last[c] = data;
                }
            });
            for (int c = 0; c < clusters; c++) {
                byte[] got = new byte[CS];
                d.read(ByteBuffer.wrap(got), clusterOffset(c));
                assertArrayEquals(last[c] == null ? new byte[CS] : last[c], got, "cluster " + c);
            }
        }
        CheckReport r = format.check(f, null, false);
        assertTrue(r.clean(), r.toString());
    }

    /**
     * A lookup that misses the cache reads its table without the lock, so a flush (and an
     * eviction) can run while it reads. Here one does: the table is read, then another thread
     * gives it a new entry, flushes and evicts it, and only then does the first copy reach the
     * cache. That copy lacks the new entry, so it must not enter the cache: the lookup reads
     * the table again under the lock. Had the stale copy gone in, the cluster written would
     * read as zeros and its next write would take a new cluster, losing this one (the model
     * test above once found half a cluster of zeros that way).
     */
    @Test
    void aTableReadBeforeAFlushWroteItDoesNotEnterTheCacheStale() throws Exception {
        Qcow2Disk.l2CacheBytes = 16L * CS;
        long span = (long) CS / 8 * CS; // guest bytes one L2 table maps
        int tables = 40;
        AllocationTest.GateFile f = new AllocationTest.GateFile(new MemoryFile("g.qcow2"), (byte) 0x5a);
        byte[] data = new byte[4096];
        data[1] = 1; // never the marker: the gate holds no write
        byte[] later = new byte[4096];
        Arrays.fill(later, (byte) 0x33);
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try (Qcow2Disk d = (Qcow2Disk) new Qcow2Format().create(f, new DiskSpec(tables * span, Provisioning.THIN))) {
            for (int t = 0; t < tables; t++) {
                d.write(ByteBuffer.wrap(data), t * span);
            }
            d.flush();
            d.evictClean();
            long at = 7 * span;
            assertFalse(d.l2Cached(at));
            Future<byte[]> reader = pool.submit(() -> {
                f.readGate = Thread.currentThread(); // held after its first read: the table's
                byte[] b = new byte[data.length];
                d.read(ByteBuffer.wrap(b), at);
                return b;
            });
            assertTrue(f.readEntered.await(30, TimeUnit.SECONDS), "the table is read");
            // Meanwhile: a new cluster in the same table, flushed, and the table evicted. None of
            // it waits for the reader (it holds no lock while it reads).
            pool.submit(() -> {
                d.write(ByteBuffer.wrap(later), at + CS);
                d.flush();
                d.evictClean();
                return null;
            }).get(30, TimeUnit.SECONDS);
            assertFalse(d.l2Cached(at));
            f.readRelease.countDown();
            assertArrayEquals(data, reader.get(30, TimeUnit.SECONDS));
            assertTrue(d.l2Cached(at));
            byte[] got = new byte[later.length];
            d.read(ByteBuffer.wrap(got), at + CS);
            assertArrayEquals(later, got, "the entry the flush wrote is in the cached table");
        } finally {
            f.readRelease.countDown();
            pool.shutdownNow();
        }
        assertTrue(new Qcow2Format().check(f.inner, null, false).clean());
    }

    private static long clusterOffset(int c) {
        // 64 clusters in each of 40 L2 tables, spaced out
        return ((long) (c / 64) << 29) + (long) (c % 64) * 3 * CS;
    }

    @Test
    void populateNeverOverwritesGuestWrites() throws Exception {
        Qcow2Format format = new Qcow2Format();
        Fixtures.MemoryStore store = new Fixtures.MemoryStore();
        int clusters = 256;
        byte[] parent = new byte[clusters * CS];
        Arrays.fill(parent, (byte) 0x7e);
        try (VirtualDisk p = format.create(store.file("p.qcow2"), new DiskSpec((long) clusters * CS,
                Provisioning.THIN))) {
            p.write(ByteBuffer.wrap(parent), 0);
        }
        byte[][] last = new byte[clusters][];
        MemoryFile cf = store.file("c.qcow2");
        try (VirtualDisk c = format.createChild(cf, "p.qcow2", store)) {
            runAll(THREADS + 1, t -> {
                if (t == THREADS) {
                    for (int pass = 0; pass < 3; pass++) {
                        for (int k = 0; k < clusters; k += 8) {
                            c.populate((long) k * CS, 8L * CS);
                        }
                    }
                    return;
                }
                Random r = new Random(100 + t);
                for (int i = 0; i < 150; i++) {
                    int k = r.nextInt(clusters / THREADS) * THREADS + t;
                    byte[] data = new byte[100];
                    r.nextBytes(data);
                    int at = r.nextInt(CS - 100);
                    c.write(ByteBuffer.wrap(data), (long) k * CS + at);
                    byte[] cur = last[k] == null ? Arrays.copyOfRange(parent, k * CS, (k + 1) * CS) : last[k];
                    System.arraycopy(data, 0, cur, at, 100);
                    last[k] = cur;
                }
            });
            for (int k = 0; k < clusters; k++) {
                byte[] got = new byte[CS];
                c.read(ByteBuffer.wrap(got), (long) k * CS);
                byte[] want = last[k] == null ? Arrays.copyOfRange(parent, k * CS, (k + 1) * CS) : last[k];
                assertArrayEquals(want, got, "cluster " + k);
            }
            assertTrue(c.layerStatus(0, (long) clusters * CS).stream().allMatch(e -> e.allocated()));
        }
        CheckReport r = format.check(cf, store, false);
        assertTrue(r.clean(), r.toString());
    }

    interface Body {
        void run(int thread) throws Exception;
    }

    private static void runAll(int n, Body body) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(n);
        try {
            List<Future<?>> fs = new ArrayList<>();
            for (int t = 0; t < n; t++) {
                int id = t;
                fs.add(pool.submit(() -> {
                    body.run(id);
                    return null;
                }));
            }
            for (Future<?> f : fs) {
                f.get(120, TimeUnit.SECONDS);
            }
        } finally {
            pool.shutdownNow();
        }
    }
}

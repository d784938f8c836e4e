package io.strata.vhd.internal;

import io.strata.testing.LocalFile;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.strata.api.format.DiskSpec;
import io.strata.api.format.Provisioning;
import io.strata.api.format.VirtualDisk;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Many threads write interleaved 64 KiB chunks, so several race to allocate the
 * same block, while readers read concurrently; afterwards every chunk holds its
 * pattern, in this process and after reopening.
 */
class ConcurrencyTest {
    private static final int CHUNK = 64 << 10;
    private static final long SIZE = 48L << 20;

    @TempDir
    Path dir;

    private static byte[] chunkPattern(int chunk) {
        byte[] b = new byte[CHUNK];
        Arrays.fill(b, (byte) (chunk * 31 + 7));
        b[0] = (byte) chunk;
        b[CHUNK - 1] = (byte) (chunk >> 8);
        return b;
    }

    @Test
    void racingAllocationsKeepEveryWrite() throws Exception {
        VhdFormat format = new VhdFormat();
        Path p = dir.resolve("c.vhd");
        int chunks = (int) (SIZE / CHUNK);
        int threads = 8;
        try (VirtualDisk d = format.create(LocalFile.open(p, true), new DiskSpec(SIZE, Provisioning.THIN))) {
            ExecutorService pool = Executors.newFixedThreadPool(threads + 2);
            List<Future<?>> futures = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                final int tid = t;
                futures.add(pool.submit(() -> {
                    for (int c = tid; c < chunks; c += threads) {
                        d.write(ByteBuffer.wrap(chunkPattern(c)), (long) c * CHUNK);
                    }
                }));
            }
            for (int r = 0; r < 2; r++) {
                futures.add(pool.submit(() -> {
                    ByteBuffer b = ByteBuffer.allocateDirect(CHUNK);
                    for (int i = 0; i < 500; i++) {
                        b.clear();
                        d.read(b, (long) (i * 7919 % chunks) * CHUNK);
                    }
                }));
            }
            for (Future<?> f : futures) {
                f.get(120, TimeUnit.SECONDS);
            }
            pool.shutdown();
            verify(d, chunks);
            assertEquals(SIZE / (2 << 20), ((DynamicVhdDisk) d).allocatedBlocks());
        }
        try (VirtualDisk d = format.open(LocalFile.open(p, false), true)) {
            verify(d, chunks);
        }
    }

    private static void verify(VirtualDisk d, int chunks) {
        for (int c = 0; c < chunks; c++) {
            ByteBuffer b = ByteBuffer.allocate(CHUNK);
            d.read(b, (long) c * CHUNK);
            assertArrayEquals(chunkPattern(c), b.array(), "chunk " + c);
        }
    }

    /**
     * The same race on a differencing child: threads write unaligned, interleaved
     * pieces (their edges share sectors with the neighbours' pieces, so every write
     * does a read-modify-write from the parent) while readers read and a flusher
     * flushes; afterwards every byte is the writer's, or the parent's where nobody
     * wrote, also after reopening.
     */
    @Test
    void racingWritersInAChildKeepEveryByte() throws Exception {
        VhdFormat format = new VhdFormat();
        Path parent = dir.resolve("p.vhd");
        Path child = dir.resolve("c.vhd");
        io.strata.api.format.BackingResolver resolver = name -> LocalFile.open(dir.resolve(name), false);
        long size = 16L << 20;
        byte[] model = new byte[(int) size];
        new java.util.Random(3).nextBytes(model);
        try (VirtualDisk p = format.create(LocalFile.open(parent, true), new DiskSpec(size, Provisioning.THIN))) {
            p.write(ByteBuffer.wrap(model), 0);
        }
        int piece = 3000; // not a sector multiple: neighbours share edge sectors
        int pieces = (int) (size / piece) - 1;
        int threads = 6;
        try (VirtualDisk c = format.createChild(LocalFile.open(child, true), "p.vhd", resolver)) {
            ExecutorService pool = Executors.newFixedThreadPool(threads + 2);
            List<Future<?>> futures = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                final int tid = t;
                futures.add(pool.submit(() -> {
                    for (int k = tid; k < pieces; k += threads) {
                        if (k % 3 == 0) {
                            continue; // leave some pieces to the parent
                        }
                        byte[] b = new byte[piece];
                        Arrays.fill(b, (byte) (k * 7 + 1));
                        c.write(ByteBuffer.wrap(b), (long) k * piece + 1);
                        if (k % 97 == 0) {
                            c.flush();
                        }
                    }
                }));
            }
            futures.add(pool.submit(() -> {
                ByteBuffer b = ByteBuffer.allocate(CHUNK);
                for (int i = 0; i < 300; i++) {
                    b.clear();
                    c.read(b, (long) (i * 7919 % (size / CHUNK)) * CHUNK);
                }
            }));
            for (Future<?> f : futures) {
                f.get(120, TimeUnit.SECONDS);
            }
            pool.shutdown();
            for (int k = 0; k < pieces; k++) {
                if (k % 3 != 0) {
                    Arrays.fill(model, k * piece + 1, (k + 1) * piece + 1, (byte) (k * 7 + 1));
                }
            }
            ByteBuffer all = ByteBuffer.allocate((int) size);
            c.read(all, 0);
            assertArrayEquals(model, all.array());
        }
        try (VirtualDisk c = format.open(LocalFile.open(child, false), true, resolver)) {
            ByteBuffer all = ByteBuffer.allocate((int) size);
            c.read(all, 0);
            assertArrayEquals(model, all.array());
        }
    }
}

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
}

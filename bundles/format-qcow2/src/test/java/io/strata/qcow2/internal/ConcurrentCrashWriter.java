package io.strata.qcow2.internal;

import io.strata.api.format.VirtualDisk;
import io.strata.testing.LocalFile;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * The child process of {@link CrashKillTest}'s concurrent case: {@link #THREADS} threads
 * write 4 KiB blocks into one image at once, each into its own blocks (block % THREADS ==
 * thread), so every 64 KiB cluster is allocated by several writers racing. Each thread
 * flushes after every {@link #FLUSH_EVERY} writes and then prints {@code ACK <thread> <op
 * index>}. The parent kills it with SIGKILL.
 */
public final class ConcurrentCrashWriter {
    static final int THREADS = 4;
    static final int FLUSH_EVERY = 24;
    static final int BLOCK = 4096;

    private ConcurrentCrashWriter() {
    }

    /** @return the block thread {@code t} writes in its op {@code i} */
    static long block(long seed, int t, int i, long size) {
        long perThread = size / BLOCK / THREADS;
        long k = (long) (new Random(seed * 7_368_787L + t * 1_000_003L + i).nextDouble() * perThread);
        return k * THREADS + t;
    }

    static byte[] data(long seed, int t, int i) {
        byte[] b = new byte[BLOCK];
        new Random(seed * 31 + t * 65_537L + i * 3L).nextBytes(b);
        return b;
    }

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        String image = args[1];
        long seed = Long.parseLong(args[2]);
        Qcow2Format format = new Qcow2Format();
        try (VirtualDisk d = format.open(LocalFile.open(dir.resolve(image), true), false, Fixtures.dir(dir))) {
            long size = d.virtualSize();
            System.out.println("READY");
            System.out.flush();
            List<Thread> threads = new ArrayList<>();
            for (int t = 0; t < THREADS; t++) {
                int id = t;
                Thread th = new Thread(() -> {
                    for (int i = 0; ; i++) {
                        d.write(ByteBuffer.wrap(data(seed, id, i)), block(seed, id, i, size) * BLOCK);
                        if (i % FLUSH_EVERY == FLUSH_EVERY - 1) {
                            d.flush();
                            synchronized (System.out) {
                                System.out.println("ACK " + id + " " + i);
                                System.out.flush();
                            }
                        }
                    }
                });
                th.start();
                threads.add(th);
            }
            for (Thread th : threads) {
                th.join();
            }
        }
    }
}

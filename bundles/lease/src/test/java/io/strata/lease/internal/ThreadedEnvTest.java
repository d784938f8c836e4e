package io.strata.lease.internal;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.lease.LeaseClock;
import io.strata.lease.SectorStore;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ThreadedEnvTest {
    /**
     * What a caller logs when the engine never answers: the loop thread's state and where it
     * is, here held in a task that waits on a latch.
     */
    @Test
    void theLoopStateSaysWhereTheLoopIs(@TempDir Path dir) throws Exception {
        SectorStore store = Stores.path(dir.resolve("lockspace"), 512, 8); // the loop state reads none of it
        ThreadedEnv env = new ThreadedEnv(store, LeaseClock.SYSTEM, "diag");
        env.schedule(TimeUnit.SECONDS.toNanos(30), () -> { }); // before the loop runs: timers are the loop's
        env.start();
        CountDownLatch inside = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        try {
            env.execute(() -> {
                inside.countDown();
                try {
                    release.await(60, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
            assertTrue(inside.await(30, TimeUnit.SECONDS), "the loop never ran the task");
            String s = env.loopState();
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (!s.contains("TIMED_WAITING") && System.nanoTime() - end < 0) { // until it waits
                Thread.sleep(10);
                s = env.loopState();
            }
            assertTrue(s.startsWith("loop thread 'strata-lease-diag' TIMED_WAITING"), s);
            assertTrue(s.contains("1 timer(s) waiting"), s);
            assertTrue(s.contains("ThreadedEnvTest"), s); // the task's frame, on the loop's stack
        } finally {
            release.countDown();
            env.stop();
            store.close();
        }
    }
}

package io.strata.lease.internal;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.lease.LeaseClock;
import io.strata.lease.SectorStore;
import java.nio.ByteBuffer;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class ThreadedEnvTest {
    /** No storage: the loop state needs none. */
    private static final SectorStore NONE = new SectorStore() {
        @Override
        public int sectorSize() {
            return 512;
        }

        @Override
        public long sectors() {
            return 0;
        }

        @Override
        public void read(long sector, ByteBuffer dst) {
            throw new UnsupportedOperationException();
        }

        @Override
        public void write(long sector, ByteBuffer src) {
            throw new UnsupportedOperationException();
        }

        @Override
        public void close() {
        }
    };

    /**
     * What a caller logs when the engine never answers: the loop thread's state and where it
     * is, here held in a task that waits on a latch.
     */
    @Test
    void theLoopStateSaysWhereTheLoopIs() throws Exception {
        ThreadedEnv env = new ThreadedEnv(NONE, LeaseClock.SYSTEM, "diag");
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
            env.schedule(TimeUnit.SECONDS.toNanos(30), () -> { });
            assertTrue(inside.await(30, TimeUnit.SECONDS), "the loop never ran the task");
            String s = env.loopState();
            assertTrue(s.startsWith("loop thread 'strata-lease-diag' WAITING") || s.startsWith(
                    "loop thread 'strata-lease-diag' TIMED_WAITING"), s);
            assertTrue(s.contains("1 timer(s) waiting"), s);
            assertTrue(s.contains("ThreadedEnvTest"), s); // the task's frame, on the loop's stack
        } finally {
            release.countDown();
            env.stop();
        }
    }
}

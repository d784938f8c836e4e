package io.strata.vhd.internal;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Where an asynchronous request to a disk on a latency-bound file
 * ({@link io.strata.api.fs.DatastoreFile#concurrentIo()}) goes when it cannot be started without
 * waiting (a block to allocate, a differencing block whose bitmap is not cached or not full):
 * the blocking path runs here, so the caller (an NBD connection's thread) keeps dispatching.
 * Idle threads end after a few seconds.
 */
final class SlowIo {
    /** As many requests as an NBD connection keeps in flight. */
    private static final int THREADS = 32;
    private static final AtomicInteger COUNT = new AtomicInteger();
    private static final ThreadPoolExecutor POOL = new ThreadPoolExecutor(THREADS, THREADS, 5, TimeUnit.SECONDS,
            new LinkedBlockingQueue<>(), r -> {
                Thread t = new Thread(r, "strata-vhd-io-" + COUNT.incrementAndGet());
                t.setDaemon(true);
                return t;
            });

    static {
        POOL.allowCoreThreadTimeOut(true);
    }

    private SlowIo() {
    }

    static CompletableFuture<Void> run(Runnable blocking) {
        return CompletableFuture.runAsync(blocking, POOL);
    }
}

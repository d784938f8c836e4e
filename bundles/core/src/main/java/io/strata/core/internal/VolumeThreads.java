package io.strata.core.internal;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Threads that run the blocking reads and writes of disks whose files wait on a round trip
 * ({@link io.strata.api.fs.DatastoreFile#concurrentIo()}: a VHD on VIMS on an iSCSI LUN) when a
 * front end asks for them without waiting ({@code readAsync}/{@code writeAsync}): so a client's
 * requests are under way side by side, as a mapped LUN's are. Idle threads end after a few
 * seconds, so an idle host keeps none.
 */
final class VolumeThreads {
    /** As many requests as an NBD connection keeps in flight. */
    static final int THREADS = 32;
    private static final AtomicInteger COUNT = new AtomicInteger();
    private static final ThreadPoolExecutor POOL;

    static {
        POOL = new ThreadPoolExecutor(THREADS, THREADS, 5, TimeUnit.SECONDS, new LinkedBlockingQueue<>(), r -> {
            Thread t = new Thread(r, "strata-volume-io-" + COUNT.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        POOL.allowCoreThreadTimeOut(true);
    }

    private VolumeThreads() {
    }

    static ExecutorService pool() {
        return POOL;
    }
}

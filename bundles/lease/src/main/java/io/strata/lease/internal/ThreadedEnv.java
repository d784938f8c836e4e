package io.strata.lease.internal;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.lease.LeaseClock;
import io.strata.lease.SectorStore;
import java.nio.ByteBuffer;
import java.util.PriorityQueue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The production {@link Env}: one loop thread runs the engine (timers and I/O completions),
 * blocking sector I/O runs on a small pool, so a stuck write only holds its pool thread while
 * the loop keeps watching the fence deadline. With {@link LeaseClock#SYSTEM} the loop parks
 * until its next timer and is unparked when work arrives (never interrupted, so no
 * interruptible channel of a logger can be closed under it); with another clock it waits in
 * short {@link LeaseClock#sleep} slices.
 */
public final class ThreadedEnv implements Env {
    private static final Logger LOG = LoggerFactory.getLogger("io.strata.lease");
    /** I/O threads per lockspace: beyond that, stuck I/O makes further I/O fail at once. */
    private static final int MAX_IO_THREADS = 16;
    /** Longest wait of the loop with a clock other than the system's, in its nanoseconds. */
    private static final long SLICE = TimeUnit.MILLISECONDS.toNanos(5);

    private final SectorStore store;
    private final LeaseClock clock;
    private final String name;
    private final ConcurrentLinkedQueue<Runnable> tasks = new ConcurrentLinkedQueue<>();
    private final PriorityQueue<TimerTask> timers = new PriorityQueue<>();
    private final ThreadPoolExecutor ioPool;
    private final Thread loop;
    private volatile boolean stopped;
    private long timerSeq;

    private final class TimerTask implements Timer, Comparable<TimerTask> {
        final long at;
        final long seq;
        final Runnable task;
        volatile boolean cancelled;

        TimerTask(long at, long seq, Runnable task) {
            this.at = at;
            this.seq = seq;
            this.task = task;
        }

        @Override
        public void cancel() {
            cancelled = true;
        }

        @Override
        public int compareTo(TimerTask o) {
            int c = Long.compare(at - o.at, 0);
            return c != 0 ? c : Long.compare(seq, o.seq);
        }
    }

    /**
     * @param store the shared storage
     * @param clock the clock
     * @param name the lockspace name, for thread names
     */
    public ThreadedEnv(SectorStore store, LeaseClock clock, String name) {
        this.store = store;
        this.clock = clock;
        this.name = name;
        AtomicInteger n = new AtomicInteger();
        this.ioPool = new ThreadPoolExecutor(0, MAX_IO_THREADS, 30, TimeUnit.SECONDS, new SynchronousQueue<>(), r -> {
            Thread t = new Thread(r, "strata-lease-" + name + "-io-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        this.loop = new Thread(this::run, "strata-lease-" + name);
        this.loop.setDaemon(true);
    }

    /** Starts the loop thread. */
    public void start() {
        loop.start();
    }

    /** Stops the loop and lets the I/O threads end (a stuck one ends when its I/O returns). */
    public void stop() {
        stopped = true;
        LockSupport.unpark(loop);
        ioPool.shutdown();
    }

    /**
     * For a report when an operation never completed: the loop thread's state and stack, and what
     * waits for it (read without the loop's help, so only roughly current).
     */
    String loopState() {
        StringBuilder b = new StringBuilder("loop thread '").append(loop.getName()).append("' ")
                .append(loop.getState()).append(", ").append(tasks.size()).append(" task(s) and about ")
                .append(timers.size()).append(" timer(s) waiting, ").append(ioPool.getActiveCount())
                .append(" I/O(s) running");
        for (StackTraceElement e : loop.getStackTrace()) {
            b.append("\n\tat ").append(e);
        }
        return b.toString();
    }

    /** @return whether the caller runs on the loop thread */
    public boolean onLoop() {
        return Thread.currentThread() == loop;
    }

    /** Runs {@code task} on the loop, from any thread. */
    public void execute(Runnable task) {
        tasks.add(task);
        if (!onLoop()) {
            LockSupport.unpark(loop);
        }
    }

    private void run() {
        while (!stopped) {
            Runnable r;
            while ((r = tasks.poll()) != null) {
                runSafely(r);
            }
            long now = clock.nanoTime();
            TimerTask t;
            while ((t = timers.peek()) != null && (t.cancelled || now - t.at >= 0)) {
                timers.poll();
                if (!t.cancelled) {
                    runSafely(t.task);
                }
                if (!tasks.isEmpty()) {
                    break;
                }
            }
            if (!tasks.isEmpty() || stopped) {
                continue;
            }
            t = timers.peek();
            long wait = t == null ? TimeUnit.SECONDS.toNanos(1) : Math.min(t.at - now, TimeUnit.SECONDS.toNanos(1));
            if (wait <= 0) {
                continue;
            }
            if (clock == LeaseClock.SYSTEM) {
                LockSupport.parkNanos(this, wait);
            } else {
                try {
                    clock.sleep(Math.min(wait, SLICE));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
        }
    }

    private void runSafely(Runnable r) {
        try {
            r.run();
        } catch (RuntimeException | Error e) {
            LOG.error("internal error in the lease loop of lockspace '{}'", name, e);
        }
    }

    @Override
    public long now() {
        return clock.nanoTime();
    }

    @Override
    public Timer schedule(long delayNanos, Runnable task) {
        TimerTask t = new TimerTask(clock.nanoTime() + delayNanos, timerSeq++, task);
        timers.add(t);
        return t;
    }

    @Override
    public void read(long sector, int count, IoCallback callback) {
        submit(callback, () -> {
            ByteBuffer b = ByteBuffer.allocate(count * store.sectorSize());
            store.read(sector, b);
            return b.array();
        });
    }

    @Override
    public void write(long sector, byte[] data, IoCallback callback) {
        submit(callback, () -> {
            store.write(sector, ByteBuffer.wrap(data));
            return null;
        });
    }

    private interface Io {
        byte[] run();
    }

    private void submit(IoCallback callback, Io io) {
        try {
            ioPool.execute(() -> {
                byte[] result;
                try {
                    result = io.run();
                } catch (StorageException e) {
                    execute(() -> callback.done(null, e));
                    return;
                } catch (RuntimeException e) {
                    execute(() -> callback.done(null, new StorageException(ErrorCode.IO_ERROR,
                            "lease I/O on lockspace '" + name + "' failed: " + e, e)));
                    return;
                }
                execute(() -> callback.done(result, null));
            });
        } catch (RejectedExecutionException e) {
            execute(() -> callback.done(null, new StorageException(ErrorCode.IO_ERROR, stopped
                    ? "lockspace '" + name + "' is closed"
                    : "too many lease I/Os of lockspace '" + name + "' are stuck")));
        }
    }

    @Override
    public void runFenceListener(Runnable listener) {
        if (listener == null) {
            return;
        }
        Thread t = new Thread(() -> {
            try {
                listener.run();
            } catch (RuntimeException | Error e) {
                LOG.error("the fence listener of lockspace '{}' failed", name, e);
            }
        }, "strata-lease-" + name + "-fence");
        t.setDaemon(true);
        t.start();
    }

    @Override
    public long wallMillis() {
        return System.currentTimeMillis();
    }

    @Override
    public long random(long bound) {
        return ThreadLocalRandom.current().nextLong(Math.max(1, bound));
    }

    @Override
    public Logger log() {
        return LOG;
    }
}

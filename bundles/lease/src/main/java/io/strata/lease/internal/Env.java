package io.strata.lease.internal;

import io.strata.api.StorageException;
import org.slf4j.Logger;

/**
 * Everything the lease algorithms ({@link Engine}) need from the outside world. All callbacks
 * and timer tasks run on one thread (the event loop), one at a time, so the engine needs no
 * locks; only {@link Engine#valid()} and the published slot view are read from other threads.
 *
 * <p>Production uses {@link ThreadedEnv} (a loop thread, blocking I/O on a small pool);
 * the tests drive the very same engine with a deterministic discrete-event simulation.
 */
public interface Env {
    /** A scheduled task that can be cancelled. */
    interface Timer {
        /** Prevents the task from running if it has not run yet. */
        void cancel();
    }

    /** Completion of an asynchronous I/O. */
    interface IoCallback {
        /**
         * @param data for a read, the bytes read; for a write, null
         * @param error the failure, or null
         */
        void done(byte[] data, StorageException error);
    }

    /** @return this host's monotonic clock, in nanoseconds (thread-safe) */
    long now();

    /** Runs {@code task} on the loop after {@code delayNanos} of this host's clock. */
    Timer schedule(long delayNanos, Runnable task);

    /** Reads {@code count} sectors from {@code sector}; completes on the loop, maybe never. */
    void read(long sector, int count, IoCallback callback);

    /** Writes whole sectors at {@code sector}; completes on the loop, maybe never. */
    void write(long sector, byte[] data, IoCallback callback);

    /** Runs the fence listener, off the loop (it may block). */
    void runFenceListener(Runnable listener);

    /** @return the wall clock in milliseconds, written into records for people only */
    long wallMillis();

    /** @return a pseudo-random number in [0, bound) for back-off jitter */
    long random(long bound);

    /** @return where the engine logs */
    Logger log();
}

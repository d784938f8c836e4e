package io.strata.multipath;

import java.util.concurrent.TimeUnit;
import org.osgi.annotation.versioning.ConsumerType;

/**
 * Time as the multipath layer sees it: the checker's schedule, the {@code no-path-retry}
 * deadline of queued I/O, the {@code failback} delay and the time limit of a path check are
 * all measured with {@link #nanoTime()}. Production uses {@link #SYSTEM}; tests pass a clock
 * they move forward by hand.
 *
 * <p>The layer never sleeps on such a clock: a thread that waits for a point in its time
 * blocks for at most {@link #waitSlice} real nanoseconds (or until it is woken by an event,
 * such as a path coming back), then reads {@link #nanoTime()} again.
 */
@ConsumerType
@FunctionalInterface
public interface MultipathClock {
    /** The JVM's monotonic clock; waits block for as long as they need. */
    MultipathClock SYSTEM = new MultipathClock() {
        @Override
        public long nanoTime() {
            return System.nanoTime();
        }

        @Override
        public long waitSlice(long nanos) {
            return nanos;
        }

        @Override
        public String toString() {
            return "MultipathClock.SYSTEM";
        }
    };

    /** @return a monotonic time in nanoseconds; only differences mean anything */
    long nanoTime();

    /**
     * How long a thread that waits for {@code nanos} of this clock blocks in real time before
     * it reads the clock again. The default, for clocks that tests move by hand, is at most
     * 2 ms, so a waiter notices soon when a test moves the clock past its deadline.
     *
     * @param nanos how long, in this clock's nanoseconds, the thread still has to wait (positive)
     * @return real nanoseconds to block, positive
     */
    default long waitSlice(long nanos) {
        return Math.max(1, Math.min(nanos, TimeUnit.MILLISECONDS.toNanos(2)));
    }
}

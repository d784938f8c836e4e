package io.strata.lease;

import org.osgi.annotation.versioning.ConsumerType;

/**
 * The passage of time as the lease algorithms see it: a monotonic clock and a way to
 * wait. Production uses {@link #SYSTEM}; tests drive a simulated one.
 */
@ConsumerType
public interface LeaseClock {
    /** @return a monotonic time in nanoseconds; only differences mean anything */
    long nanoTime();

    /**
     * Waits for {@code nanos}.
     *
     * @throws InterruptedException when the waiting thread is interrupted
     */
    void sleep(long nanos) throws InterruptedException;

    /** The JVM's monotonic clock and {@link Thread#sleep}. */
    LeaseClock SYSTEM = new LeaseClock() {
        @Override
        public long nanoTime() {
            return System.nanoTime();
        }

        @Override
        public void sleep(long nanos) throws InterruptedException {
            if (nanos > 0) {
                Thread.sleep(nanos / 1_000_000, (int) (nanos % 1_000_000));
            }
        }
    };
}

package io.strata.multipath;

import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The multipath layer's view of one path: its transport, whether it is up and enabled, and
 * its counters. The flags are written under the lock of its {@link DeviceGroup}; counters
 * are atomic.
 */
final class PathEntry {
    /** Service-time samples older than this halve in weight for each such period. */
    static final long ESTIMATE_HALF_LIFE = 1_000_000_000L;

    final PathTransport transport;
    final String id;
    final DeviceGroup device;
    final AtomicLong ios = new AtomicLong();
    final AtomicLong errors = new AtomicLong();
    final AtomicInteger inFlight = new AtomicInteger();
    /** Increases on every failure, so that a check that started before one does not undo it. */
    final AtomicLong failures = new AtomicLong();
    private final AtomicLong serviceTime = new AtomicLong();
    private volatile long lastSample;

    volatile boolean up = true;
    volatile boolean enabled = true;
    volatile boolean removed;
    /** Clock time since when the path has been usable, for the failback delay. */
    volatile long usableSince;
    /** The checker's check of this path still running, or null (checker thread only). */
    Future<?> check;

    PathEntry(DeviceGroup device, PathTransport transport, long now) {
        this.device = device;
        this.transport = transport;
        this.id = transport.id();
        this.usableSince = now;
    }

    /** @return whether new I/O may go to it */
    boolean usable() {
        return up && enabled && !removed;
    }

    /** Records an I/O that completed in {@code nanos}. */
    void completed(long nanos, long now) {
        ios.incrementAndGet();
        long sample = Math.max(1, nanos);
        serviceTime.updateAndGet(old -> old == 0 ? sample : old + (sample - old) / 8);
        lastSample = now;
    }

    /**
     * @param now the clock's time
     * @return the recent average service time in nanoseconds, 0 when unknown; an estimate
     *         not refreshed for a while halves every {@link #ESTIMATE_HALF_LIFE}, so a path
     *         that was slow once is tried again later
     */
    long serviceEstimate(long now) {
        long est = serviceTime.get();
        if (est == 0) {
            return 0;
        }
        long halvings = Math.max(0, now - lastSample) / ESTIMATE_HALF_LIFE;
        return halvings >= 62 ? 0 : est >> halvings;
    }

    /** Forgets the service-time estimate (a path that comes back starts afresh). */
    void resetEstimate() {
        serviceTime.set(0);
    }

    @Override
    public String toString() {
        return id;
    }
}

package io.strata.core.internal;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.service.IoStats;
import io.strata.api.service.QosLimits;
import io.strata.api.service.VolumeRef;
import io.strata.api.service.VolumeStats;
import java.time.Instant;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;

/**
 * One volume's I/O accounting and QoS, shared by all its handles on this host and kept
 * while the core runs (a handle closed and reopened, a datastore remounted, keep counting).
 *
 * <p>On the I/O path: {@link #admit} (a volatile read when no limit is set, else the token
 * buckets), then {@link #begin}/{@link #end} around the request: two {@code nanoTime}
 * calls, three {@link LongAdder} additions, one wait-free HdrHistogram {@link Recorder}
 * record and the in-flight counter. Rates come from marks of the totals that the first
 * completion of each second takes, not from per-request window counters.
 */
final class VolumeIo {
    /** Seconds the rates are averaged over. */
    static final int WINDOW = 10;
    private static final int SLOTS = WINDOW + 1;

    final VolumeRef ref;
    private final Ticker ticker;
    final Direction read = new Direction();
    final Direction write = new Direction();
    private final LongAdder flushes = new LongAdder();
    private final AtomicInteger inFlight = new AtomicInteger();
    private final LongAdder throttledNanos = new LongAdder();
    /** Nanoseconds requests were in progress, summed at completion (for the average queue depth). */
    private final LongAdder busyNanos = new LongAdder();
    /**
     * The counters as they stood when each of the last {@value #SLOTS} seconds began, taken
     * by the first completion of that second: the rates are differences of these marks, so
     * a request adds only to the totals. Guarded by itself.
     */
    private final long[][] marks = new long[SLOTS][];
    private final long[] markSecond = new long[SLOTS];
    private volatile long lastSecond = Long.MIN_VALUE;
    private volatile Instant since = Instant.now();
    private volatile QosLimits limits = QosLimits.NONE;
    private volatile Limiter limiter;

    VolumeIo(VolumeRef ref, Ticker ticker) {
        this.ref = ref;
        this.ticker = ticker;
        java.util.Arrays.fill(markSecond, Long.MIN_VALUE);
    }

    /** Reads or writes: totals and a latency histogram. */
    static final class Direction {
        final LongAdder ops = new LongAdder();
        final LongAdder bytes = new LongAdder();
        private final Recorder recorder = new Recorder(3);
        /** What the recorder gave since the last reset; guarded by this. */
        private Histogram total;

        void record(long nanos, long n) {
            ops.increment();
            bytes.add(n);
            recorder.recordValue(Math.max(1, nanos));
        }

        synchronized IoStats stats(double iops, double bytesPerSecond) {
            Histogram h = recorder.getIntervalHistogram();
            if (total == null) {
                total = h;
            } else {
                total.add(h);
            }
            return new IoStats(ops.sum(), bytes.sum(), iops, bytesPerSecond, micros(total.getValueAtPercentile(50)),
                    micros(total.getValueAtPercentile(99)), micros(total.getValueAtPercentile(99.9)),
                    micros(total.getMaxValue()));
        }

        synchronized void reset() {
            recorder.reset();
            total = null;
            ops.reset();
            bytes.reset();
        }
    }

    private static double micros(long nanos) {
        return nanos / 1000.0;
    }

    /** Marks the counters at the start of {@code second} if nobody has yet (one volatile read otherwise). */
    private void tick(long second) {
        if (second == lastSecond) {
            return;
        }
        synchronized (marks) {
            if (second <= lastSecond) {
                return;
            }
            int i = (int) Math.floorMod(second, SLOTS);
            markSecond[i] = second;
            marks[i] = new long[] {read.ops.sum(), read.bytes.sum(), write.ops.sum(), write.bytes.sum(),
                    busyNanos.sum()};
            lastSecond = second;
        }
    }

    /** Must hold {@link #marks}: the counters when {@code second} began (the first mark at or after it). */
    private long[] markAt(long second, long now) {
        for (long s = second; s <= now; s++) {
            int i = (int) Math.floorMod(s, SLOTS);
            if (markSecond[i] == s) {
                return marks[i];
            }
        }
        throw new IllegalStateException("no mark up to " + now); // tick(now) made one
    }

    // ---------------------------------------------------------------- the I/O path

    /**
     * Waits for the QoS tokens of one request.
     *
     * @throws StorageException {@code CANCELLED} when the waiting thread is interrupted
     */
    void admit(boolean isWrite, long bytes) {
        Limiter l = limiter;
        if (l == null) {
            return;
        }
        long wait = l.take(isWrite, bytes, ticker.nanoTime());
        if (wait > 0) {
            throttledNanos.add(wait);
            try {
                ticker.sleepNanos(wait);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new StorageException(ErrorCode.CANCELLED, "interrupted while waiting for the QoS limit of "
                        + ref);
            }
        }
    }

    /** @return whether QoS limits this volume, so that {@link #admit} may wait */
    boolean limited() {
        return limiter != null;
    }

    long begin() {
        inFlight.incrementAndGet();
        return ticker.nanoTime();
    }

    void end(Direction d, long start, long bytes) {
        long now = ticker.nanoTime();
        tick(now / 1_000_000_000L);
        long nanos = now - start;
        d.record(nanos, bytes);
        busyNanos.add(nanos);
        inFlight.decrementAndGet();
    }

    void flushed(long start) {
        long now = ticker.nanoTime();
        tick(now / 1_000_000_000L);
        flushes.increment();
        busyNanos.add(now - start);
        inFlight.decrementAndGet();
    }

    /** A request that failed: it leaves the queue, it is not counted. */
    void failed() {
        inFlight.decrementAndGet();
    }

    // ---------------------------------------------------------------- management

    QosLimits limits() {
        return limits;
    }

    VolumeIo withLimits(QosLimits l) {
        limits(l);
        return this;
    }

    void limits(QosLimits l) {
        limits = l;
        limiter = l.limited() ? new Limiter(l, ticker.nanoTime()) : null;
    }

    VolumeStats stats() {
        long now = ticker.nanoTime() / 1_000_000_000L;
        tick(now);
        long[] a;
        long[] b;
        synchronized (marks) {
            a = markAt(now - WINDOW, now);
            b = markAt(now, now);
        }
        return new VolumeStats(ref, since, WINDOW,
                read.stats(rate(a, b, 0), rate(a, b, 1)), write.stats(rate(a, b, 2), rate(a, b, 3)), flushes.sum(),
                Math.max(0, inFlight.get()), (b[4] - a[4]) / (WINDOW * 1e9), throttledNanos.sum() / 1_000_000,
                limits);
    }

    private static double rate(long[] from, long[] to, int k) {
        return (to[k] - from[k]) / (double) WINDOW;
    }

    void reset() {
        read.reset();
        write.reset();
        flushes.reset();
        throttledNanos.reset();
        busyNanos.reset();
        synchronized (marks) {
            java.util.Arrays.fill(markSecond, Long.MIN_VALUE);
            lastSecond = Long.MIN_VALUE;
        }
        since = Instant.now();
    }

    /** The buckets of a set of limits; absent limits have none. */
    private static final class Limiter {
        private final TokenBucket iops;
        private final TokenBucket readIops;
        private final TokenBucket writeIops;
        private final TokenBucket bps;

        Limiter(QosLimits l, long now) {
            double burst = l.burstSeconds();
            iops = l.iops() > 0 ? new TokenBucket(l.iops(), burst, now) : null;
            readIops = l.readIops() > 0 ? new TokenBucket(l.readIops(), burst, now) : null;
            writeIops = l.writeIops() > 0 ? new TokenBucket(l.writeIops(), burst, now) : null;
            bps = l.bps() > 0 ? new TokenBucket(l.bps(), burst, now) : null;
        }

        long take(boolean isWrite, long bytes, long now) {
            long wait = 0;
            if (iops != null) {
                wait = Math.max(wait, iops.take(1, now));
            }
            TokenBucket dir = isWrite ? writeIops : readIops;
            if (dir != null) {
                wait = Math.max(wait, dir.take(1, now));
            }
            if (bps != null && bytes > 0) {
                wait = Math.max(wait, bps.take(bytes, now));
            }
            return wait;
        }
    }
}

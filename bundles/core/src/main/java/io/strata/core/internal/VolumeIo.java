package io.strata.core.internal;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.service.IoStats;
import io.strata.api.service.QosLimits;
import io.strata.api.service.VolumeRef;
import io.strata.api.service.VolumeStats;
import java.time.Instant;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.LongAdder;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;

/**
 * One volume's I/O accounting and QoS, shared by all its handles on this host and kept
 * while the core runs (a handle closed and reopened, a datastore remounted, keep counting).
 *
 * <p>On the I/O path: {@link #admit} (a volatile read when no limit is set, else the token
 * buckets), then {@link #begin}/{@link #end} around the request: two {@code nanoTime}
 * calls, a few {@link LongAdder} increments and one wait-free HdrHistogram
 * {@link Recorder} record per request.
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
    /** Per second of completion: nanoseconds requests were in progress (for the average queue depth). */
    private final AtomicLongArray busy = new AtomicLongArray(SLOTS);
    private final AtomicLongArray busyStamp = new AtomicLongArray(SLOTS);
    private volatile Instant since = Instant.now();
    private volatile QosLimits limits = QosLimits.NONE;
    private volatile Limiter limiter;

    VolumeIo(VolumeRef ref, Ticker ticker) {
        this.ref = ref;
        this.ticker = ticker;
    }

    /** Reads or writes: counters, a per-second window and a latency histogram. */
    final class Direction {
        final LongAdder ops = new LongAdder();
        final LongAdder bytes = new LongAdder();
        private final AtomicLongArray slotOps = new AtomicLongArray(SLOTS);
        private final AtomicLongArray slotBytes = new AtomicLongArray(SLOTS);
        private final AtomicLongArray slotStamp = new AtomicLongArray(SLOTS);
        private final Recorder recorder = new Recorder(3);
        /** What the recorder gave since the last reset; guarded by this. */
        private Histogram total;

        void record(long nanos, long n, long second) {
            ops.increment();
            bytes.add(n);
            int i = (int) (second % SLOTS);
            roll(slotStamp, i, second, slotOps, slotBytes);
            slotOps.incrementAndGet(i);
            slotBytes.addAndGet(i, n);
            recorder.recordValue(Math.max(1, nanos));
        }

        synchronized IoStats stats(long nowSecond) {
            Histogram h = recorder.getIntervalHistogram();
            if (total == null) {
                total = h;
            } else {
                total.add(h);
            }
            long o = 0;
            long b = 0;
            for (long s = nowSecond - WINDOW; s < nowSecond; s++) {
                int i = (int) (Math.floorMod(s, SLOTS));
                if (slotStamp.get(i) == s) {
                    o += slotOps.get(i);
                    b += slotBytes.get(i);
                }
            }
            return new IoStats(ops.sum(), bytes.sum(), o / (double) WINDOW, b / (double) WINDOW,
                    micros(total.getValueAtPercentile(50)), micros(total.getValueAtPercentile(99)),
                    micros(total.getValueAtPercentile(99.9)), micros(total.getMaxValue()));
        }

        synchronized void reset() {
            recorder.reset();
            total = null;
            ops.reset();
            bytes.reset();
            for (int i = 0; i < SLOTS; i++) {
                slotStamp.set(i, -1);
            }
        }
    }

    private static double micros(long nanos) {
        return nanos / 1000.0;
    }

    /** Moves slot {@code i} to {@code second}, clearing what an older second left there. */
    private static void roll(AtomicLongArray stamps, int i, long second, AtomicLongArray... values) {
        long s = stamps.get(i);
        if (s != second && stamps.compareAndSet(i, s, second)) {
            for (AtomicLongArray v : values) {
                v.set(i, 0);
            }
        }
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

    long begin() {
        inFlight.incrementAndGet();
        return ticker.nanoTime();
    }

    void end(Direction d, long start, long bytes) {
        long now = ticker.nanoTime();
        long nanos = now - start;
        long second = now / 1_000_000_000L;
        d.record(nanos, bytes, second);
        int i = (int) (second % SLOTS);
        roll(busyStamp, i, second, busy);
        busy.addAndGet(i, nanos);
        inFlight.decrementAndGet();
    }

    void flushed(long start) {
        flushes.increment();
        long now = ticker.nanoTime();
        long second = now / 1_000_000_000L;
        int i = (int) (second % SLOTS);
        roll(busyStamp, i, second, busy);
        busy.addAndGet(i, now - start);
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
        long nowSecond = ticker.nanoTime() / 1_000_000_000L;
        long b = 0;
        for (long s = nowSecond - WINDOW; s < nowSecond; s++) {
            int i = (int) Math.floorMod(s, SLOTS);
            if (busyStamp.get(i) == s) {
                b += busy.get(i);
            }
        }
        return new VolumeStats(ref, since, WINDOW, read.stats(nowSecond), write.stats(nowSecond), flushes.sum(),
                Math.max(0, inFlight.get()), b / (WINDOW * 1e9), throttledNanos.sum() / 1_000_000, limits);
    }

    void reset() {
        read.reset();
        write.reset();
        flushes.reset();
        throttledNanos.reset();
        for (int i = 0; i < SLOTS; i++) {
            busyStamp.set(i, -1);
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

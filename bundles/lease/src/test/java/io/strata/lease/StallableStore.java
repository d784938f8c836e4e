package io.strata.lease;

import java.nio.ByteBuffer;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A store whose I/O can be stalled (held inside read/write until resumed), as a hung path
 * to the storage would; counts the writes that start.
 */
final class StallableStore implements SectorStore {
    private final SectorStore inner;
    private volatile CountDownLatch gate;
    final AtomicLong writesStarted = new AtomicLong();

    StallableStore(SectorStore inner) {
        this.inner = inner;
    }

    /** From now on every I/O blocks until {@link #resume()}. */
    synchronized void stall() {
        if (gate == null) {
            gate = new CountDownLatch(1);
        }
    }

    /** Lets the blocked I/O (and all later I/O) through. */
    synchronized void resume() {
        if (gate != null) {
            gate.countDown();
            gate = null;
        }
    }

    private void pass() {
        CountDownLatch g = gate;
        if (g != null) {
            try {
                // bounded, so a forgotten stall cannot keep threads forever
                g.await(120, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    @Override
    public int sectorSize() {
        return inner.sectorSize();
    }

    @Override
    public long sectors() {
        return inner.sectors();
    }

    @Override
    public void read(long sector, ByteBuffer dst) {
        pass();
        inner.read(sector, dst);
    }

    @Override
    public void write(long sector, ByteBuffer src) {
        writesStarted.incrementAndGet();
        pass();
        inner.write(sector, src);
    }

    @Override
    public void close() {
        resume();
        inner.close();
    }

    @Override
    public String toString() {
        return inner.toString();
    }
}

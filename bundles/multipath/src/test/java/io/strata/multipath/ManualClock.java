package io.strata.multipath;

import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/** A clock tests move by hand; it remembers which threads waited on it. */
final class ManualClock implements MultipathClock {
    private final AtomicLong now = new AtomicLong(1_000_000_000_000L);
    private final Set<Thread> waiters = ConcurrentHashMap.newKeySet();

    @Override
    public long nanoTime() {
        return now.get();
    }

    @Override
    public long waitSlice(long nanos) {
        waiters.add(Thread.currentThread());
        return MultipathClock.super.waitSlice(nanos);
    }

    void advance(Duration d) {
        now.addAndGet(d.toNanos());
    }

    void advanceSeconds(long seconds) {
        advance(Duration.ofSeconds(seconds));
    }

    /** @return whether a thread whose name starts with {@code prefix} has waited for this clock's time */
    boolean hasWaited(String prefix) {
        return waiters.stream().anyMatch(t -> t.getName().startsWith(prefix));
    }

    /** @return whether {@code t} has waited for this clock's time */
    boolean hasWaited(Thread t) {
        return waiters.contains(t);
    }
}

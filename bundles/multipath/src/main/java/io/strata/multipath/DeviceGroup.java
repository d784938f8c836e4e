package io.strata.multipath;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.device.DeviceState;
import io.strata.api.device.PersistentReservations;
import io.strata.api.device.Subscription;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One multipath device: the paths that reach one LUN, the path selector, the state and its
 * listeners, and the loop that runs an I/O on a path, moves it to another when the path
 * fails and queues it while no path is usable.
 */
final class DeviceGroup {
    private static final Logger LOG = LoggerFactory.getLogger("io.strata.multipath");

    final String id;
    final String identity;
    final int sectorSize;
    volatile long size;
    /** Open handles; guarded by the owner's structure lock. */
    int handles;

    private final Multipath owner;
    private final ReentrantLock lock = new ReentrantLock();
    /** Signalled when a path may have become usable, and on close. */
    private final Condition changed = lock.newCondition();
    private final List<Listener> listeners = new CopyOnWriteArrayList<>();
    /** The paths, sorted by id; replaced, never modified, under the lock. */
    private volatile List<PathEntry> paths = List.of();
    private volatile DeviceState state = DeviceState.OFFLINE;
    private volatile boolean closed;
    /** The key this host registered for persistent reservations, 0 for none. */
    private volatile long reservationKey;
    /** The path of a failover policy in use (under the lock). */
    private PathEntry current;
    /** For mru: the path the device used first, where failback returns (under the lock). */
    private PathEntry original;
    /** Rotates round-robin and breaks ties (under the lock). */
    private long rotation;

    /** A state listener of a handle. */
    private record Listener(Consumer<DeviceState> consumer, AtomicBoolean active) implements Subscription {
        @Override
        public void close() {
            active.set(false);
        }
    }

    DeviceGroup(Multipath owner, String id, String identity, int sectorSize, long size) {
        this.owner = owner;
        this.id = id;
        this.identity = identity;
        this.sectorSize = sectorSize;
        this.size = size;
    }

    /** @return the paths, sorted by id */
    List<PathEntry> paths() {
        return paths;
    }

    /** @return the current state */
    DeviceState state() {
        return state;
    }

    void addPath(PathEntry p) {
        lock.lock();
        try {
            List<PathEntry> next = new ArrayList<>(paths);
            next.add(p);
            next.sort((a, b) -> a.id.compareTo(b.id));
            paths = List.copyOf(next);
            size = p.transport.size();
            updateState();
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    void removePath(PathEntry p) {
        lock.lock();
        try {
            p.removed = true;
            List<PathEntry> next = new ArrayList<>(paths);
            next.remove(p);
            paths = List.copyOf(next);
            if (current == p) {
                current = null;
            }
            if (original == p) {
                original = null;
            }
            updateState();
        } finally {
            lock.unlock();
        }
    }

    /**
     * Marks a path failed after an I/O or a check failed on it.
     *
     * @param p the path
     * @param what what failed, for the log
     * @param cause the failure
     */
    void failed(PathEntry p, String what, Throwable cause) {
        boolean wasUp;
        lock.lock();
        try {
            p.errors.incrementAndGet();
            p.failures.incrementAndGet();
            wasUp = p.up;
            p.up = false;
            updateState();
        } finally {
            lock.unlock();
        }
        if (p.removed || owner.isClosed()) {
            LOG.debug("multipath {}: {} failed on removed path {} of device {}", owner.resource(), what, p.id, id,
                    cause);
        } else if (wasUp) {
            LOG.warn("multipath {}: path {} of device {} failed ({}: {}); its I/O moves to the other paths",
                    owner.resource(), p.id, id, what, cause.toString());
        } else {
            LOG.debug("multipath {}: path {} of device {} is still down ({}: {})", owner.resource(), p.id, id,
                    what, cause.toString());
        }
    }

    /**
     * Marks a path up after a check succeeded, unless it failed since the check started.
     *
     * @param p the path
     * @param failuresBefore {@link PathEntry#failures} when the check started
     * @param now the clock's time
     */
    void checked(PathEntry p, long failuresBefore, long now) {
        lock.lock();
        try {
            if (p.removed || p.failures.get() != failuresBefore || p.up) {
                return;
            }
            p.up = true;
            p.usableSince = now;
            p.resetEstimate();
            LOG.info("multipath {}: path {} of device {} is up again", owner.resource(), p.id, id);
            settle(now);
            updateState();
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** Enables or disables a path; enabling is also a manual failback request. */
    void setEnabled(PathEntry p, boolean enabled, long now) {
        lock.lock();
        try {
            if (p.enabled != enabled) {
                p.enabled = enabled;
                if (enabled) {
                    p.usableSince = now;
                }
                LOG.info("multipath {}: path {} of device {} set {}", owner.resource(), p.id, id,
                        enabled ? "online" : "offline");
            }
            if (enabled) {
                failbackNow(now);
            } else {
                settle(now);
            }
            updateState();
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** Applies new settings: a manual failback request, and the new policy's choice. */
    void reconfigured(long now) {
        lock.lock();
        try {
            failbackNow(now);
        } finally {
            lock.unlock();
        }
    }

    /** Lets the failover policies move to the path they would choose now (the failback delay may have run out). */
    void settle(long now) {
        lock.lock();
        try {
            if (owner.settings().policy().failover()) {
                switchTo(failoverTarget(now));
            }
        } finally {
            lock.unlock();
        }
    }

    private void failbackNow(long now) {
        if (!owner.settings().policy().failover()) {
            return;
        }
        PathEntry home = home();
        if (home != null && home.usable()) {
            switchTo(home);
        } else {
            switchTo(failoverTarget(now));
        }
    }

    private void switchTo(PathEntry target) {
        if (target == null || target == current) {
            return;
        }
        if (current != null) {
            LOG.info("multipath {}: device {} moves from path {} to path {} (policy {})", owner.resource(), id,
                    current.id, target.id, owner.settings().policy().value());
        }
        current = target;
        if (original == null || original.removed) {
            original = target;
        }
    }

    /** @return where failback returns: the preferred path for fixed, the original one for mru (under the lock) */
    private PathEntry home() {
        List<PathEntry> ps = paths;
        if (ps.isEmpty()) {
            return null;
        }
        Settings s = owner.settings();
        if (s.policy() == Policy.FIXED) {
            for (PathEntry p : ps) {
                if (s.preferred().contains(p.id)) {
                    return p;
                }
            }
            return ps.get(0);
        }
        return original != null && !original.removed ? original : null;
    }

    /** @return the path a failover policy uses now, or null when none is usable (under the lock) */
    private PathEntry failoverTarget(long now) {
        PathEntry home = home();
        boolean currentUsable = current != null && current.usable();
        if (home != null && home != current && home.usable()) {
            long failback = owner.settings().failback();
            if (!currentUsable || failback == Settings.FAILBACK_IMMEDIATE
                    || (failback > 0 && now - home.usableSince >= failback)) {
                return home;
            }
        }
        if (currentUsable) {
            return current;
        }
        for (PathEntry p : paths) {
            if (p.usable()) {
                return p;
            }
        }
        return null;
    }

    /**
     * Chooses the path for an I/O and counts the I/O in flight on it.
     *
     * @param now the clock's time
     * @return the path, or null when none is usable
     */
    PathEntry select(long now) {
        lock.lock();
        try {
            Policy policy = owner.settings().policy();
            PathEntry chosen;
            if (policy.failover()) {
                settle(now);
                chosen = current != null && current.usable() ? current : null;
            } else {
                List<PathEntry> usable = usablePaths();
                if (usable.isEmpty()) {
                    return null;
                }
                int n = usable.size();
                int start = (int) Math.floorMod(rotation++, (long) n);
                if (policy == Policy.ROUND_ROBIN) {
                    chosen = usable.get(start);
                } else {
                    long unknown = Long.MAX_VALUE;
                    if (policy == Policy.SERVICE_TIME) {
                        for (PathEntry p : usable) {
                            long e = p.serviceEstimate(now);
                            if (e > 0) {
                                unknown = Math.min(unknown, e);
                            }
                        }
                        unknown = unknown == Long.MAX_VALUE ? 1 : unknown;
                    }
                    chosen = null;
                    long best = Long.MAX_VALUE;
                    for (int i = 0; i < n; i++) {
                        PathEntry p = usable.get((start + i) % n);
                        long load = p.inFlight.get();
                        long score;
                        if (policy == Policy.QUEUE_LENGTH) {
                            score = load;
                        } else {
                            long e = p.serviceEstimate(now);
                            score = (load + 1) * (e > 0 ? e : unknown);
                        }
                        if (score < best) {
                            best = score;
                            chosen = p;
                        }
                    }
                }
            }
            if (chosen != null) {
                chosen.inFlight.incrementAndGet();
            }
            return chosen;
        } finally {
            lock.unlock();
        }
    }

    private List<PathEntry> usablePaths() {
        List<PathEntry> usable = new ArrayList<>();
        for (PathEntry p : paths) {
            if (p.usable()) {
                usable.add(p);
            }
        }
        return usable;
    }

    /**
     * @param now the clock's time
     * @return the paths the selector would send I/O to now
     */
    Set<PathEntry> activePaths(long now) {
        lock.lock();
        try {
            if (!owner.settings().policy().failover()) {
                return Set.copyOf(usablePaths());
            }
            PathEntry t = failoverTarget(now);
            return t == null ? Set.of() : Set.of(t);
        } finally {
            lock.unlock();
        }
    }

    /** Recomputes the state and tells the listeners when it changed (under the lock). */
    private void updateState() {
        int enabled = 0;
        int usable = 0;
        for (PathEntry p : paths) {
            if (p.enabled) {
                enabled++;
                if (p.usable()) {
                    usable++;
                }
            }
        }
        DeviceState next;
        if (usable == 0) {
            next = DeviceState.OFFLINE;
        } else {
            next = usable == enabled ? DeviceState.ONLINE : DeviceState.DEGRADED;
        }
        if (next == state) {
            return;
        }
        DeviceState previous = state;
        state = next;
        if (next == DeviceState.OFFLINE && paths.isEmpty()) {
            LOG.info("multipath {}: device {} has no path left", owner.resource(), id);
        } else if (next == DeviceState.OFFLINE && !closed && !owner.isClosed()) {
            LOG.warn("multipath {}: device {} has no usable path ({} paths, {} enabled); I/O waits up to {} s for"
                    + " one", owner.resource(), id, paths.size(), enabled,
                    TimeUnit.NANOSECONDS.toSeconds(owner.settings().noPathRetry()));
        } else if (previous == DeviceState.OFFLINE && !paths.isEmpty()) {
            LOG.info("multipath {}: device {} is usable again ({})", owner.resource(), id, next);
        }
        for (Listener l : listeners) {
            owner.tell(() -> {
                if (l.active().get()) {
                    l.consumer().accept(next);
                }
            });
        }
    }

    /** Registers a state listener. */
    Subscription addListener(Consumer<DeviceState> consumer) {
        Listener l = new Listener(consumer, new AtomicBoolean(true));
        listeners.add(l);
        return () -> {
            l.close();
            listeners.remove(l);
        };
    }

    /** Ends the device: queued I/O fails, listeners are no longer called. */
    void close() {
        lock.lock();
        try {
            closed = true;
            for (Listener l : listeners) {
                l.close();
            }
            listeners.clear();
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /**
     * Runs an operation on one path chosen by the selector. When the path fails the path is
     * marked failed and the operation runs again on another; while no path is usable the
     * caller waits up to {@code no-path-retry} for one.
     *
     * @param what the operation, for messages
     * @param op the operation; it must start afresh each time it is called
     * @return what the operation returned
     * @throws StorageException what the device answered, or {@code DEVICE_UNAVAILABLE}
     */
    <T> T execute(String what, Function<PathTransport, T> op) {
        MultipathClock clock = owner.clock();
        long deadline = 0;
        boolean waiting = false;
        while (true) {
            checkOpen(what);
            PathEntry p = select(clock.nanoTime());
            if (p == null) {
                if (!waiting) {
                    waiting = true;
                    deadline = clock.nanoTime() + owner.settings().noPathRetry();
                }
                awaitUsable(what, deadline);
                continue;
            }
            long start = clock.nanoTime();
            try {
                T result = op.apply(p.transport);
                p.completed(clock.nanoTime() - start, clock.nanoTime());
                return result;
            } catch (PathFailedException e) {
                failed(p, what, e);
            } catch (StorageException e) {
                p.ios.incrementAndGet();
                throw e;
            } finally {
                p.inFlight.decrementAndGet();
            }
        }
    }

    /**
     * {@link #execute} without waiting, for reads and writes: the operation starts on the path
     * the selector chooses and the future completes on the path's I/O thread. When that path
     * fails, or none is usable now, the rest is {@link #execute} on a retry thread of the
     * owner (which moves it to another path or waits for one), so no driver thread ever waits.
     *
     * @param what the operation, for messages
     * @param op starts the operation on a path; it must start afresh each time it is called
     * @param retry the same operation, blocking, for the retry
     * @return completes with what the operation returned, or the device's error, or
     *         {@code DEVICE_UNAVAILABLE}
     */
    <T> CompletableFuture<T> executeAsync(String what, Function<PathTransport, CompletableFuture<T>> op,
            Function<PathTransport, T> retry) {
        checkOpen(what);
        MultipathClock clock = owner.clock();
        long start = clock.nanoTime();
        PathEntry p = select(start);
        CompletableFuture<T> result = new CompletableFuture<>();
        if (p == null) {
            owner.retry(() -> execute(what, retry), result);
            return result;
        }
        CompletableFuture<T> sent;
        try {
            sent = op.apply(p.transport);
        } catch (RuntimeException e) {
            sent = CompletableFuture.failedFuture(e);
        }
        sent.whenComplete((v, e) -> {
            p.inFlight.decrementAndGet();
            if (e == null) {
                long now = clock.nanoTime();
                p.completed(now - start, now);
                result.complete(v);
                return;
            }
            Throwable cause = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
            if (cause instanceof PathFailedException) {
                failed(p, what, cause);
                owner.retry(() -> execute(what, retry), result);
            } else {
                if (cause instanceof StorageException) {
                    p.ios.incrementAndGet();
                }
                result.completeExceptionally(cause);
            }
        });
        return result;
    }

    /**
     * Runs an operation on every usable path (registration of a reservation key goes to each
     * I_T nexus). It succeeds when it succeeded on at least one path; paths that fail are
     * marked failed; while no path is usable the caller waits as in {@link #execute}.
     */
    void executeOnAll(String what, Consumer<PathTransport> op) {
        MultipathClock clock = owner.clock();
        long deadline = 0;
        boolean waiting = false;
        while (true) {
            checkOpen(what);
            List<PathEntry> targets;
            lock.lock();
            try {
                targets = usablePaths();
                for (PathEntry p : targets) {
                    p.inFlight.incrementAndGet();
                }
            } finally {
                lock.unlock();
            }
            if (targets.isEmpty()) {
                if (!waiting) {
                    waiting = true;
                    deadline = clock.nanoTime() + owner.settings().noPathRetry();
                }
                awaitUsable(what, deadline);
                continue;
            }
            int done = 0;
            for (int i = 0; i < targets.size(); i++) {
                PathEntry p = targets.get(i);
                try {
                    long start = clock.nanoTime();
                    op.accept(p.transport);
                    p.completed(clock.nanoTime() - start, clock.nanoTime());
                    done++;
                } catch (PathFailedException e) {
                    failed(p, what, e);
                } catch (StorageException e) {
                    p.ios.incrementAndGet();
                    for (int j = i + 1; j < targets.size(); j++) {
                        targets.get(j).inFlight.decrementAndGet();
                    }
                    throw e;
                } finally {
                    p.inFlight.decrementAndGet();
                }
            }
            if (done > 0) {
                return;
            }
        }
    }

    private void awaitUsable(String what, long deadline) {
        MultipathClock clock = owner.clock();
        lock.lock();
        try {
            while (true) {
                checkOpen(what);
                for (PathEntry p : paths) {
                    if (p.usable()) {
                        return;
                    }
                }
                long remaining = deadline - clock.nanoTime();
                if (remaining <= 0) {
                    throw new StorageException(ErrorCode.DEVICE_UNAVAILABLE, "device " + owner.resource() + "/" + id
                            + ": no usable path for " + what + " (" + paths.size() + " paths, none up and enabled)"
                            + " within no-path-retry " + TimeUnit.NANOSECONDS.toSeconds(owner.settings().noPathRetry())
                            + " s");
                }
                try {
                    changed.awaitNanos(clock.waitSlice(remaining));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new StorageException(ErrorCode.DEVICE_UNAVAILABLE, "device " + owner.resource() + "/" + id
                            + ": interrupted while waiting for a usable path for " + what, e);
                }
            }
        } finally {
            lock.unlock();
        }
    }

    private void checkOpen(String what) {
        if (closed || owner.isClosed()) {
            throw new StorageException(ErrorCode.DEVICE_UNAVAILABLE, "device " + owner.resource() + "/" + id
                    + " is closed (" + what + ")");
        }
    }

    /** @return the persistent reservations of some path, if any path offers them */
    Optional<PersistentReservations> anyReservations() {
        for (PathEntry p : paths) {
            Optional<PersistentReservations> r = p.transport.reservations();
            if (r.isPresent()) {
                return r;
            }
        }
        return Optional.empty();
    }

    /** Remembers the key this host registered (0: none), for paths that come back. */
    void registered(long key) {
        reservationKey = key;
    }

    /**
     * Before a returning path is used again: registers this host's key through it, when the
     * key is still registered on the device (through the other paths). A key that another
     * host removed (preempted, fenced) is not brought back.
     *
     * @param p the returning path (checker thread)
     * @throws PathFailedException when the path fails
     */
    void restoreRegistration(PathEntry p) {
        long key = reservationKey;
        if (key == 0) {
            return;
        }
        Optional<PersistentReservations> r = p.transport.reservations();
        if (r.isPresent() && r.get().keys().contains(key)) {
            r.get().register(key);
        }
    }

    /** @return a snapshot for tests and logs */
    @Override
    public String toString() {
        return "device " + id + " " + Collections.unmodifiableList(paths);
    }
}

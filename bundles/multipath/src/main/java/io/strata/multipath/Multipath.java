package io.strata.multipath;

import static java.util.Objects.requireNonNull;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.device.BlockDevice;
import io.strata.api.device.DeviceInfo;
import io.strata.api.device.DeviceKind;
import io.strata.api.device.DeviceState;
import io.strata.api.device.PathInfo;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The multipath layer of one storage resource. A driver {@linkplain #add adds} every path it
 * finds with the id of the device (LUN) it leads to; the paths of one device must all report
 * the same {@link PathTransport#identity() identity}. {@link #open} gives a
 * {@link BlockDevice} per device that sends each I/O to a path chosen by the {@code policy},
 * retries an I/O whose path failed on another path, and queues I/O for up to
 * {@code no-path-retry} seconds while no path is usable. A checker tests every enabled path
 * each {@code checker-interval} seconds, reconnects failed ones and brings them back.
 *
 * <p>The parameters are listed in {@link #PARAMETERS}; a driver passes its resource's
 * parameters as they are (others are ignored) and offers {@link #reconfigure} for run-time
 * changes. All methods are thread safe.
 */
public final class Multipath implements AutoCloseable {
    /** Parameter name to one-line description, for drivers' {@code parameters()}. */
    public static final Map<String, String> PARAMETERS = Settings.DESCRIPTIONS;

    private static final Logger LOG = LoggerFactory.getLogger("io.strata.multipath");
    private static final AtomicInteger THREADS = new AtomicInteger();

    private final String resource;
    private final MultipathClock clock;
    private volatile Settings settings;
    private volatile boolean closed;
    /** Guards the maps below, and the devices' handle counts. */
    private final Object structure = new Object();
    private final Map<String, DeviceGroup> devices = new TreeMap<>();
    private final Map<String, PathEntry> pathsById = new HashMap<>();
    /** Runs path checks, so that a hanging one holds only its own thread. */
    private final ThreadPoolExecutor checks;
    /** Calls state listeners, in order, away from I/O and checker threads. */
    private final ThreadPoolExecutor notifier;
    /** Runs asynchronous I/O that lost its path: the retry on other paths may wait for one. */
    private final ThreadPoolExecutor retries;
    /** One checker round at a time. */
    private final ReentrantLock roundLock = new ReentrantLock();
    private final ReentrantLock wakeLock = new ReentrantLock();
    private final Condition wake = wakeLock.newCondition();
    private final Thread checker;

    /**
     * Multipath on the system clock, with its own daemon checker thread.
     *
     * @param resource the resource name, for messages and logs
     * @param parameters the resource's parameters; those that are not multipath's are ignored
     * @throws StorageException INVALID_ARGUMENT for a bad multipath parameter
     */
    public Multipath(String resource, Map<String, String> parameters) {
        this(resource, parameters, MultipathClock.SYSTEM);
    }

    /**
     * Multipath on a given clock (tests). The checker thread follows that clock: it runs a
     * round whenever the clock has moved on by {@code checker-interval} since the last one.
     *
     * @param resource the resource name, for messages and logs
     * @param parameters the resource's parameters; those that are not multipath's are ignored
     * @param clock the clock
     * @throws StorageException INVALID_ARGUMENT for a bad multipath parameter
     */
    public Multipath(String resource, Map<String, String> parameters, MultipathClock clock) {
        this.resource = requireNonNull(resource, "resource");
        this.clock = requireNonNull(clock, "clock");
        this.settings = Settings.DEFAULTS.with(parameters);
        int n = THREADS.incrementAndGet();
        this.checks = new ThreadPoolExecutor(0, Integer.MAX_VALUE, 60, TimeUnit.SECONDS, new SynchronousQueue<>(),
                r -> daemon(r, "strata-multipath-check-" + resource + "-" + n));
        this.notifier = new ThreadPoolExecutor(1, 1, 10, TimeUnit.SECONDS, new LinkedBlockingQueue<>(),
                r -> daemon(r, "strata-multipath-notify-" + resource + "-" + n));
        notifier.allowCoreThreadTimeOut(true);
        this.retries = new ThreadPoolExecutor(0, Integer.MAX_VALUE, 30, TimeUnit.SECONDS, new SynchronousQueue<>(),
                r -> daemon(r, "strata-multipath-retry-" + resource + "-" + n));
        long created = clock.nanoTime();
        this.checker = daemon(() -> checkerLoop(created), "strata-multipath-checker-" + resource + "-" + n);
        checker.start();
        LOG.info("multipath {}: policy {}, failback {}, no-path-retry {} s, checker-interval {} s", resource,
                settings.policy().value(), settings.failbackValue(),
                TimeUnit.NANOSECONDS.toSeconds(settings.noPathRetry()),
                TimeUnit.NANOSECONDS.toSeconds(settings.checkerInterval()));
    }

    private static Thread daemon(Runnable r, String name) {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        return t;
    }

    /**
     * Checks the multipath parameters among {@code parameters}.
     *
     * @param parameters a resource's parameters; those that are not multipath's are ignored
     * @throws StorageException INVALID_ARGUMENT naming the bad parameter and its allowed values
     */
    public static void validate(Map<String, String> parameters) {
        Settings.DEFAULTS.with(parameters);
    }

    /**
     * Adds a path. The first path of a device creates the device.
     *
     * @param deviceId the device the path leads to, chosen by the driver
     * @param path the path; from now on the multipath layer owns it and closes it (not when it
     *        is refused)
     * @throws StorageException INVALID_ARGUMENT when the path id is already added, its identity
     *         is empty or differs from that of the device's other paths, another device has that
     *         identity, or its sector size differs; DEVICE_UNAVAILABLE when closed
     */
    public void add(String deviceId, PathTransport path) {
        requireNonNull(deviceId, "deviceId");
        requireNonNull(path, "path");
        String pathId = requireNonNull(path.id(), "path id");
        String identity = path.identity();
        if (identity == null || identity.isBlank()) {
            throw new StorageException(ErrorCode.INVALID_ARGUMENT, "multipath " + resource + ": path " + pathId
                    + " of device " + deviceId + " reports no identity");
        }
        int sectorSize = path.sectorSize();
        long size = path.size();
        synchronized (structure) {
            checkOpen();
            PathEntry existing = pathsById.get(pathId);
            if (existing != null) {
                throw new StorageException(ErrorCode.INVALID_ARGUMENT, "multipath " + resource + ": path " + pathId
                        + " is already added (device " + existing.device.id + ")");
            }
            DeviceGroup d = devices.get(deviceId);
            if (d == null) {
                for (DeviceGroup other : devices.values()) {
                    if (other.identity.equals(identity)) {
                        throw new StorageException(ErrorCode.INVALID_ARGUMENT, "multipath " + resource + ": path "
                                + pathId + " reaches " + identity + ", which is device " + other.id + ", not "
                                + deviceId);
                    }
                }
                d = new DeviceGroup(this, deviceId, identity, sectorSize, size);
                devices.put(deviceId, d);
            } else if (!d.identity.equals(identity)) {
                throw new StorageException(ErrorCode.INVALID_ARGUMENT, "multipath " + resource + ": path " + pathId
                        + " reaches " + identity + " but the paths of device " + deviceId + " reach " + d.identity);
            } else if (d.sectorSize != sectorSize) {
                throw new StorageException(ErrorCode.INVALID_ARGUMENT, "multipath " + resource + ": path " + pathId
                        + " has sector size " + sectorSize + " but device " + deviceId + " has " + d.sectorSize);
            }
            PathEntry e = new PathEntry(d, path, clock.nanoTime());
            pathsById.put(pathId, e);
            d.addPath(e);
        }
        LOG.info("multipath {}: path {} ({}) added to device {} ({})", resource, pathId, path.transport(), deviceId,
                identity);
    }

    /**
     * Removes a path that went away, and closes it. I/O in flight on it fails over to the
     * other paths. Does nothing for an unknown path id.
     *
     * @param pathId the path's id
     */
    public void remove(String pathId) {
        requireNonNull(pathId, "pathId");
        PathEntry e;
        synchronized (structure) {
            e = pathsById.remove(pathId);
            if (e == null) {
                return;
            }
            DeviceGroup d = e.device;
            d.removePath(e);
            dropIfUnused(d);
        }
        LOG.info("multipath {}: path {} of device {} removed", resource, pathId, e.device.id);
        closeQuietly(e);
    }

    /** Forgets a device that has neither paths nor handles (under the structure lock). */
    private void dropIfUnused(DeviceGroup d) {
        if (d.paths().isEmpty() && d.handles == 0 && devices.get(d.id) == d) {
            devices.remove(d.id);
            d.close();
        }
    }

    /** @return the ids of the devices that have at least one path */
    public Set<String> deviceIds() {
        synchronized (structure) {
            Set<String> ids = new TreeSet<>();
            for (DeviceGroup d : devices.values()) {
                if (!d.paths().isEmpty()) {
                    ids.add(d.id);
                }
            }
            return ids;
        }
    }

    /**
     * Opens a device. Several handles to one device may be open; closing a handle closes
     * no path.
     *
     * @param info the device as the driver describes it; its id names the device, an empty
     *        identity is filled in from the paths
     * @return a block device that spreads its I/O over the device's paths
     * @throws StorageException DEVICE_NOT_FOUND when no path leads to that device,
     *         INVALID_ARGUMENT when {@code info} is not a block device or names another identity,
     *         DEVICE_UNAVAILABLE when closed
     */
    public BlockDevice open(DeviceInfo info) {
        requireNonNull(info, "info");
        if (info.kind() != DeviceKind.BLOCK) {
            throw new StorageException(ErrorCode.INVALID_ARGUMENT, "multipath " + resource + ": device " + info.id()
                    + " is not a block device");
        }
        synchronized (structure) {
            checkOpen();
            DeviceGroup d = devices.get(info.id());
            if (d == null || d.paths().isEmpty()) {
                throw new StorageException(ErrorCode.DEVICE_NOT_FOUND, "device " + resource + "/" + info.id()
                        + " not found: no path leads to it");
            }
            if (!info.identity().isEmpty() && !info.identity().equals(d.identity)) {
                throw new StorageException(ErrorCode.INVALID_ARGUMENT, "device " + resource + "/" + info.id() + " is "
                        + info.identity() + " but its paths reach " + d.identity);
            }
            d.handles++;
            return new MultipathDevice(this, d, info);
        }
    }

    /** Called when a handle closes. */
    void closed(DeviceGroup d) {
        synchronized (structure) {
            d.handles--;
            dropIfUnused(d);
        }
    }

    /** @return every path, sorted by device then path id */
    public List<PathInfo> paths() {
        List<DeviceGroup> ds;
        synchronized (structure) {
            ds = new ArrayList<>(devices.values());
        }
        long now = clock.nanoTime();
        List<PathInfo> out = new ArrayList<>();
        for (DeviceGroup d : ds) {
            Set<PathEntry> active = d.activePaths(now);
            for (PathEntry p : d.paths()) {
                out.add(new PathInfo(d.id, p.id, p.transport.transport(),
                        p.up ? DeviceState.ONLINE : DeviceState.OFFLINE, p.enabled, active.contains(p),
                        p.ios.get(), p.errors.get(), p.inFlight.get()));
            }
        }
        return out;
    }

    /**
     * Takes a path out of use, or puts it back ({@code storage:path-set offline|online}). A
     * disabled path gets no new I/O and is not checked; I/O under way on it completes. Putting
     * a path online (even one that is online) is also the manual failback request of its
     * device: a failover policy moves back to its preferred or original path when that is up.
     *
     * @param pathId the path's id
     * @param enabled false for offline, true for online
     * @throws StorageException DEVICE_NOT_FOUND for an unknown path
     */
    public void setPathEnabled(String pathId, boolean enabled) {
        requireNonNull(pathId, "pathId");
        PathEntry e;
        synchronized (structure) {
            e = pathsById.get(pathId);
        }
        if (e == null) {
            throw new StorageException(ErrorCode.DEVICE_NOT_FOUND, "resource " + resource + " has no path " + pathId);
        }
        e.device.setEnabled(e, enabled, clock.nanoTime());
    }

    /**
     * Changes multipath parameters at run time. All are checked before any is applied; I/O
     * waiting for a path keeps the deadline it had. The call is also a manual failback request
     * for every device.
     *
     * @param changes parameter name to new value; those that are not multipath's are ignored
     * @throws StorageException INVALID_ARGUMENT for a bad value (nothing is changed)
     */
    public void reconfigure(Map<String, String> changes) {
        Settings next = settings.with(changes);
        settings = next;
        LOG.info("multipath {}: now policy {}, failback {}, no-path-retry {} s, checker-interval {} s", resource,
                next.policy().value(), next.failbackValue(), TimeUnit.NANOSECONDS.toSeconds(next.noPathRetry()),
                TimeUnit.NANOSECONDS.toSeconds(next.checkerInterval()));
        long now = clock.nanoTime();
        for (DeviceGroup d : devicesSnapshot()) {
            d.reconfigured(now);
        }
        wakeChecker();
    }

    /**
     * Runs one checker round now and returns when it is over: every enabled path is checked
     * (a failed one is reconnected first) with a time limit of twice {@code checker-interval},
     * at most 10 s, on the clock; a path whose check fails, throws or runs out of time is
     * failed, one whose check succeeds is up. Waits for a round already running.
     */
    public void checkNow() {
        if (closed) {
            return;
        }
        roundLock.lock();
        try {
            round();
        } finally {
            roundLock.unlock();
        }
    }

    private record Check(PathEntry path, long failuresBefore, boolean wasUp, Future<?> future) {
    }

    private void round() {
        Settings s = settings;
        long start = clock.nanoTime();
        List<PathEntry> targets = new ArrayList<>();
        for (DeviceGroup d : devicesSnapshot()) {
            for (PathEntry p : d.paths()) {
                if (p.enabled && !p.removed) {
                    targets.add(p);
                }
            }
        }
        List<Check> running = new ArrayList<>();
        for (PathEntry p : targets) {
            long failuresBefore = p.failures.get();
            boolean wasUp = p.up;
            if (p.check != null && !p.check.isDone()) {
                p.device.failed(p, "check", new PathFailedException("its previous check has not finished"));
                continue;
            }
            try {
                p.check = checks.submit(() -> {
                    if (!wasUp) {
                        p.transport.reconnect();
                    }
                    p.transport.check();
                    if (!wasUp) {
                        p.device.restoreRegistration(p);
                    }
                    return null;
                });
            } catch (RejectedExecutionException e) {
                return;
            }
            running.add(new Check(p, failuresBefore, wasUp, p.check));
        }
        long deadline = start + s.checkTimeLimit();
        for (Check c : running) {
            Throwable failure = await(c.future(), deadline, s);
            if (closed) {
                return;
            }
            if (failure == null) {
                c.path().device.checked(c.path(), c.failuresBefore(), clock.nanoTime());
            } else {
                c.path().device.failed(c.path(), c.wasUp() ? "check" : "reconnect", failure);
            }
        }
        long now = clock.nanoTime();
        for (DeviceGroup d : devicesSnapshot()) {
            d.settle(now);
        }
    }

    /** @return null when the check succeeded in time, else why it failed */
    private Throwable await(Future<?> f, long deadline, Settings s) {
        while (true) {
            long remaining = deadline - clock.nanoTime();
            if (f.isDone() || remaining > 0) {
                try {
                    f.get(f.isDone() ? 0 : clock.waitSlice(Math.max(1, remaining)), TimeUnit.NANOSECONDS);
                    return null;
                } catch (ExecutionException e) {
                    return e.getCause();
                } catch (TimeoutException e) {
                    continue;
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return e;
                } catch (RuntimeException e) {
                    return e;
                }
            }
            return new PathFailedException("check did not finish within "
                    + TimeUnit.NANOSECONDS.toMillis(s.checkTimeLimit()) + " ms");
        }
    }

    private void checkerLoop(long created) {
        long last = created;
        while (!closed) {
            long next = last + settings.checkerInterval();
            long now = clock.nanoTime();
            if (now - next >= 0) {
                last = now;
                try {
                    checkNow();
                } catch (RuntimeException | Error e) {
                    LOG.error("multipath {}: checker round failed", resource, e);
                }
                continue;
            }
            wakeLock.lock();
            try {
                if (!closed) {
                    wake.awaitNanos(clock.waitSlice(next - now));
                }
            } catch (InterruptedException e) {
                return;
            } finally {
                wakeLock.unlock();
            }
        }
    }

    private void wakeChecker() {
        wakeLock.lock();
        try {
            wake.signalAll();
        } finally {
            wakeLock.unlock();
        }
    }

    /**
     * Stops the checker, fails queued I/O with DEVICE_UNAVAILABLE and closes every path.
     * Handles still open fail their I/O from now on.
     */
    @Override
    public void close() {
        List<PathEntry> all;
        List<DeviceGroup> ds;
        synchronized (structure) {
            if (closed) {
                return;
            }
            closed = true;
            all = new ArrayList<>(pathsById.values());
            ds = new ArrayList<>(devices.values());
            pathsById.clear();
            devices.clear();
        }
        wakeChecker();
        for (DeviceGroup d : ds) {
            d.close();
        }
        checks.shutdownNow();
        retries.shutdown(); // a retry under way fails at once: its device is closed
        for (PathEntry p : all) {
            closeQuietly(p);
        }
        notifier.shutdown();
        LOG.info("multipath {}: closed", resource);
    }

    private void closeQuietly(PathEntry p) {
        try {
            p.transport.close();
        } catch (RuntimeException e) {
            LOG.warn("multipath {}: closing path {} failed: {}", resource, p.id, e.toString());
        }
    }

    private List<DeviceGroup> devicesSnapshot() {
        synchronized (structure) {
            return new ArrayList<>(devices.values());
        }
    }

    private void checkOpen() {
        if (closed) {
            throw new StorageException(ErrorCode.DEVICE_UNAVAILABLE, "multipath of resource " + resource
                    + " is closed");
        }
    }

    String resource() {
        return resource;
    }

    MultipathClock clock() {
        return clock;
    }

    Settings settings() {
        return settings;
    }

    boolean isClosed() {
        return closed;
    }

    /**
     * Runs {@code retry} (blocking) on a retry thread and completes {@code result} with what it
     * returns or throws; after close, fails it with DEVICE_UNAVAILABLE.
     */
    <T> void retry(Supplier<T> retry, CompletableFuture<T> result) {
        try {
            retries.execute(() -> {
                try {
                    result.complete(retry.get());
                } catch (RuntimeException e) {
                    result.completeExceptionally(e);
                }
            });
        } catch (RejectedExecutionException e) {
            result.completeExceptionally(new StorageException(ErrorCode.DEVICE_UNAVAILABLE, "multipath of resource "
                    + resource + " is closed"));
        }
    }

    /** Runs a listener call on the notifier thread; dropped after close. */
    void tell(Runnable call) {
        try {
            notifier.execute(() -> {
                try {
                    call.run();
                } catch (RuntimeException e) {
                    LOG.warn("multipath {}: a state listener failed: {}", resource, e.toString());
                }
            });
        } catch (RejectedExecutionException e) {
            // closed: listeners are no longer called
        }
    }
}

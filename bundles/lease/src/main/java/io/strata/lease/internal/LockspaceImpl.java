package io.strata.lease.internal;

import static java.util.Objects.requireNonNull;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.lease.HostIdentity;
import io.strata.lease.HostStatus;
import io.strata.lease.LeaseClock;
import io.strata.lease.LeaseSettings;
import io.strata.lease.Lockspace;
import io.strata.lease.ResourceLease;
import io.strata.lease.SectorStore;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The production {@link Lockspace}: an {@link Engine} on a {@link ThreadedEnv}. Calls from
 * other threads are handed to the loop and waited for.
 */
public final class LockspaceImpl implements Lockspace {
    private static final Logger LOG = LoggerFactory.getLogger("io.strata.lease");
    private static final Duration LONGEST_WAIT = Duration.ofDays(3650);

    private final Engine engine;
    private final ThreadedEnv env;
    private final LeaseSettings settings;
    private final AtomicBoolean closed = new AtomicBoolean();

    private LockspaceImpl(Engine engine, ThreadedEnv env, LeaseSettings settings) {
        this.engine = engine;
        this.env = env;
        this.settings = settings;
    }

    /**
     * Joins: starts the loop, takes a slot and returns once it is held and renewed.
     *
     * @throws StorageException as {@link io.strata.lease.Lockspaces#join}
     */
    public static LockspaceImpl join(SectorStore store, Geometry geo, HostIdentity me, LeaseSettings settings,
            LeaseClock clock, Runnable onFence) {
        ThreadedEnv env = new ThreadedEnv(store, clock, geo.name());
        Engine engine = new Engine(env, geo, me, settings, onFence);
        engine.setWatchdog(Watchdog.forClock(clock));
        LockspaceImpl ls = new LockspaceImpl(engine, env, settings);
        engine.setReleaser(ls::releaseBlocking);
        env.start();
        CompletableFuture<Void> f = new CompletableFuture<>();
        env.execute(() -> engine.join(complete(f)));
        try {
            await(env, f, null);
        } catch (InterruptedException e) {
            CompletableFuture<Void> c = new CompletableFuture<>();
            env.execute(() -> engine.close(complete(c)));
            c.completeOnTimeout(null, settings.ioTimeout().toNanos() * 3, TimeUnit.NANOSECONDS).join();
            env.stop();
            Thread.currentThread().interrupt();
            throw new StorageException(ErrorCode.CANCELLED, "joining lockspace '" + geo.name() + "' was interrupted");
        } catch (StorageException e) {
            env.stop();
            throw e;
        }
        return ls;
    }

    private static <T> Engine.Callback<T> complete(CompletableFuture<T> f) {
        return (v, e) -> {
            if (e != null) {
                f.completeExceptionally(e);
            } else {
                f.complete(v);
            }
        };
    }

    /**
     * Waits for {@code f}; rethrows its StorageException as is (its type matters: LeaseHeldException).
     * When the engine does not answer in {@code timeout} (it always should), logs where its loop is.
     */
    private static <T> T await(ThreadedEnv env, CompletableFuture<T> f, Duration timeout)
            throws InterruptedException {
        try {
            return timeout == null ? f.get() : f.get(timeout.toNanos(), TimeUnit.NANOSECONDS);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof StorageException se) {
                throw se;
            }
            throw new StorageException(ErrorCode.INTERNAL, "lease operation failed: " + e.getCause(), e.getCause());
        } catch (TimeoutException e) {
            LOG.warn("a lease operation did not complete in {}: {}", timeout, env.loopState());
            throw new StorageException(ErrorCode.INTERNAL, "lease operation did not complete in " + timeout);
        }
    }

    /** A backstop for waits on the loop: the engine always answers well before it. */
    private Duration backstop(Duration extra) {
        return extra.plus(settings.expiry().multipliedBy(3)).plus(settings.ioTimeout().multipliedBy(10))
                .plusSeconds(30);
    }

    @Override
    public HostIdentity me() {
        return engine.me();
    }

    @Override
    public int slot() {
        return engine.slot();
    }

    @Override
    public long generation() {
        return engine.generation();
    }

    @Override
    public boolean valid() {
        return engine.valid();
    }

    @Override
    public void checkValid() {
        engine.checkValid();
    }

    @Override
    public List<HostStatus> hosts() {
        return engine.hosts();
    }

    @Override
    public boolean isDead(UUID host) {
        requireNonNull(host, "host");
        return engine.isDead(host);
    }

    @Override
    public int areas() {
        return engine.geometry().areas();
    }

    @Override
    public ResourceLease acquire(int area, String resource, Duration wait) {
        requireNonNull(resource, "resource");
        requireNonNull(wait, "wait");
        if (wait.isNegative()) {
            throw new StorageException(ErrorCode.INVALID_ARGUMENT, "wait must not be negative: " + wait);
        }
        Duration w = wait.compareTo(LONGEST_WAIT) > 0 ? LONGEST_WAIT : wait;
        if (closed.get()) {
            engine.checkValid();
        }
        CompletableFuture<LeaseImpl> f = new CompletableFuture<>();
        Engine.Callback<LeaseImpl> cb = complete(f);
        env.execute(() -> engine.acquire(area, resource, w.toNanos(), cb));
        try {
            return await(env, f, backstop(w));
        } catch (InterruptedException e) {
            env.execute(() -> engine.cancelAcquire(area, cb));
            f.thenAccept(l -> {
                if (l != null) {
                    env.execute(() -> engine.release(l, (v, x) -> { }));
                }
            });
            Thread.currentThread().interrupt();
            throw new StorageException(ErrorCode.CANCELLED, "acquiring lease area " + area + " was interrupted");
        }
    }

    @Override
    public Optional<HostIdentity> holder(int area) {
        if (closed.get()) {
            engine.checkValid();
        }
        CompletableFuture<Optional<HostIdentity>> f = new CompletableFuture<>();
        env.execute(() -> engine.holder(area, complete(f)));
        try {
            return await(env, f, backstop(Duration.ZERO));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StorageException(ErrorCode.CANCELLED, "reading the holder of lease area " + area
                    + " was interrupted");
        }
    }

    /** What {@link LeaseImpl#close()} does: release on the loop and wait for the write, bounded. */
    private void releaseBlocking(LeaseImpl lease) {
        if (env.onLoop()) {
            engine.release(lease, (v, e) -> { });
            return;
        }
        if (closed.get()) {
            lease.markReleased();
            return;
        }
        CompletableFuture<Void> f = new CompletableFuture<>();
        env.execute(() -> engine.release(lease, complete(f)));
        try {
            await(env, f, settings.ioTimeout().multipliedBy(2).plusSeconds(5));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (StorageException e) {
            // logged by the engine; the lease is invalid anyway and frees with the slot
        }
    }

    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        CompletableFuture<Void> f = new CompletableFuture<>();
        env.execute(() -> engine.close(complete(f)));
        boolean interrupted = false;
        try {
            await(env, f, settings.ioTimeout().multipliedBy(4).plusSeconds(5));
        } catch (InterruptedException e) {
            interrupted = true;
        } catch (StorageException | IllegalStateException e) {
            // never throws; the engine logged what went wrong
        } finally {
            env.stop();
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public String toString() {
        return "lockspace '" + engine.geometry().name() + "' of host " + engine.me() + " (slot " + engine.slot()
                + ", generation " + engine.generation() + (valid() ? "" : ", not valid") + ")";
    }
}

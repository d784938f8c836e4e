package io.strata.lease;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Real threads, real files, short timings: two or three lockspace members in one JVM sharing
 * one lockspace file. Waits are generous and nothing asserts that anything was fast.
 */
class LockspaceTest {
    static final LeaseSettings SHORT =
            new LeaseSettings(Duration.ofMillis(100), Duration.ofSeconds(1), Duration.ofMillis(200));
    static final LockspaceLayout LAYOUT = new LockspaceLayout(4, 8);
    static final Duration AWAIT = Duration.ofSeconds(20);

    @TempDir
    Path dir;
    Path file;
    final List<AutoCloseable> cleanup = new ArrayList<>();

    @BeforeEach
    void format() {
        file = dir.resolve("lockspace");
        try (SectorStore s = store()) {
            Lockspaces.format(s, "ls1", LAYOUT);
        }
    }

    @AfterEach
    void close() throws Exception {
        for (int i = cleanup.size() - 1; i >= 0; i--) {
            cleanup.get(i).close();
        }
    }

    SectorStore store() {
        return Lockspaces.pathStore(file, 512, Lockspaces.sectorsNeeded(LAYOUT, 512));
    }

    StallableStore stallable() {
        StallableStore s = new StallableStore(store());
        cleanup.add(s);
        return s;
    }

    static HostIdentity host(String name) {
        return new HostIdentity(UUID.randomUUID(), name);
    }

    Lockspace join(SectorStore s, HostIdentity me, LeaseSettings settings, Runnable onFence) {
        Lockspace ls = Lockspaces.join(s, me, settings, LeaseClock.SYSTEM, onFence);
        cleanup.add(ls);
        return ls;
    }

    Lockspace join(HostIdentity me) {
        SectorStore s = store();
        cleanup.add(s);
        return join(s, me, SHORT, null);
    }

    static void await(String what, BooleanSupplier condition) throws InterruptedException {
        long end = System.nanoTime() + AWAIT.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() - end > 0) {
                throw new AssertionError("timed out waiting until " + what);
            }
            Thread.sleep(20);
        }
    }

    static HostStatus.State stateOf(Lockspace ls, UUID host) {
        return ls.hosts().stream().filter(h -> h.host().id().equals(host)).map(HostStatus::state).findFirst()
                .orElse(null);
    }

    static boolean threadRuns(String name) {
        return Thread.getAllStackTraces().keySet().stream().anyMatch(t -> t.getName().equals(name) && t.isAlive());
    }

    @Test
    void joinSeeEachOtherAndLeave() throws Exception {
        HostIdentity a = host("alpha");
        HostIdentity b = host("beta");
        Lockspace la = join(a);
        Lockspace lb = join(b);
        // a host just joined has not watched the others for an expiry: never dead to it yet
        assertNotEquals(HostStatus.State.DEAD, stateOf(lb, a.id()));
        assertFalse(lb.isDead(a.id()));
        assertTrue(la.valid());
        assertTrue(lb.valid());
        la.checkValid();
        assertNotEquals(la.slot(), lb.slot());
        assertEquals(1, la.generation());
        assertEquals(1, lb.generation());
        assertEquals(a, la.me());
        assertEquals(8, la.areas());
        assertTrue(threadRuns("strata-lease-ls1"));

        // each sees the other live once it has watched it change
        await("alpha sees beta live", () -> stateOf(la, b.id()) == HostStatus.State.LIVE);
        await("beta sees alpha live", () -> stateOf(lb, a.id()) == HostStatus.State.LIVE);
        assertFalse(lb.isDead(a.id()));
        assertFalse(lb.isDead(UUID.randomUUID()), "a host never seen is not known dead");

        la.close();
        la.close(); // idempotent
        assertFalse(la.valid());
        StorageException e = assertThrows(StorageException.class, la::checkValid);
        assertEquals(ErrorCode.DEVICE_UNAVAILABLE, e.code());
        e = assertThrows(StorageException.class, () -> la.acquire(0, "x", Duration.ZERO));
        assertEquals(ErrorCode.DEVICE_UNAVAILABLE, e.code());

        // a released slot is free at once, and its host dead
        await("beta sees alpha's slot free", () -> stateOf(lb, a.id()) == HostStatus.State.FREE);
        assertTrue(lb.isDead(a.id()));
        assertTrue(lb.valid());

        lb.close();
        await("the lease threads end", () -> !threadRuns("strata-lease-ls1"));
    }

    @Test
    void aHeldLeaseIsRefusedNamingItsHolderAndFreedByRelease() throws Exception {
        HostIdentity a = host("alpha");
        HostIdentity b = host("beta");
        Lockspace la = join(a);
        Lockspace lb = join(b);

        ResourceLease lease = la.acquire(3, "vm-17", Duration.ZERO);
        assertTrue(lease.valid());
        assertEquals("vm-17", lease.resource());
        assertEquals(3, lease.area());
        assertEquals(Optional.of(a), la.holder(3));
        assertEquals(Optional.empty(), la.holder(4));

        // beta must first watch alpha for an expiry, then still finds it live
        LeaseHeldException held = assertThrows(LeaseHeldException.class,
                () -> lb.acquire(3, "vm-17", Duration.ofMillis(300)));
        assertEquals(a, held.holder());
        assertEquals("vm-17", held.resource());
        assertEquals(ErrorCode.LOCKED, held.code());
        assertEquals(Optional.of(a), lb.holder(3));

        // this host already holds it: refused, the caller keeps its own map
        StorageException again = assertThrows(StorageException.class, () -> la.acquire(3, "vm-17", Duration.ZERO));
        assertEquals(ErrorCode.LOCKED, again.code());
        StorageException range = assertThrows(StorageException.class, () -> la.acquire(8, "x", Duration.ZERO));
        assertEquals(ErrorCode.OUT_OF_RANGE, range.code());

        // beta waits, alpha releases meanwhile: beta gets it
        Thread releaser = new Thread(() -> {
            try {
                Thread.sleep(300);
            } catch (InterruptedException e) {
                return;
            }
            lease.close();
        });
        releaser.start();
        ResourceLease lb3 = lb.acquire(3, "vm-17", AWAIT);
        releaser.join();
        assertFalse(lease.valid());
        lease.close(); // idempotent
        assertTrue(lb3.valid());
        assertEquals(Optional.of(b), la.holder(3));

        // closing the lockspace releases its leases: alpha takes it without waiting
        lb.close();
        assertFalse(lb3.valid());
        ResourceLease la3 = la.acquire(3, "vm-17", Duration.ZERO);
        assertTrue(la3.valid());
    }

    @Test
    void aStalledHostFencesItselfBeforeAnotherTakesItsLease() throws Exception {
        // a wider I/O timeout, so that the margin between fence and takeover is wide too
        LeaseSettings s = new LeaseSettings(Duration.ofMillis(100), Duration.ofSeconds(2), Duration.ofMillis(500));
        HostIdentity a = host("alpha");
        HostIdentity b = host("beta");
        StallableStore sa = stallable();
        AtomicInteger fences = new AtomicInteger();
        AtomicLong fencedAt = new AtomicLong();
        CountDownLatch fenced = new CountDownLatch(1);
        Lockspace la = join(sa, a, s, () -> {
            fencedAt.set(System.nanoTime());
            fences.incrementAndGet();
            fenced.countDown();
        });
        SectorStore sb = store();
        cleanup.add(sb);
        Lockspace lb = join(sb, b, s, null);
        ResourceLease lease = la.acquire(0, "vm-1", Duration.ZERO);
        await("beta sees alpha live", () -> stateOf(lb, a.id()) == HostStatus.State.LIVE);

        sa.stall();
        ResourceLease taken = lb.acquire(0, "vm-1", AWAIT);
        long takenAt = System.nanoTime();
        // the guarantee: when another host holds the lease, the stalled one is no longer valid
        assertFalse(la.valid(), "the stalled host must have fenced itself before the takeover");
        assertFalse(lease.valid());
        assertTrue(taken.valid());
        assertTrue(fenced.await(AWAIT.toSeconds(), TimeUnit.SECONDS), "the fence listener ran");
        assertTrue(fencedAt.get() - takenAt < 0, "the fence listener ran before the takeover");
        assertTrue(lb.isDead(a.id()));
        StorageException e = assertThrows(StorageException.class, la::checkValid);
        assertEquals(ErrorCode.DEVICE_UNAVAILABLE, e.code());
        e = assertThrows(StorageException.class, () -> la.acquire(1, "vm-2", Duration.ZERO));
        assertEquals(ErrorCode.DEVICE_UNAVAILABLE, e.code());

        // the storage comes back: the fenced host never writes again
        long writes = sa.writesStarted.get();
        sa.resume();
        Thread.sleep(5 * s.renewal().toMillis());
        la.close();
        assertEquals(writes, sa.writesStarted.get(), "a fenced host wrote to the lockspace");
        assertEquals(1, fences.get());
        assertFalse(la.valid());
        assertTrue(taken.valid());
        assertEquals(Optional.of(b), lb.holder(0));
    }

    @Test
    void aHostWhoseStorageHangsFencesItselfAlone() throws Exception {
        StallableStore sa = stallable();
        CountDownLatch fenced = new CountDownLatch(1);
        Lockspace la = join(sa, host("alpha"), SHORT, fenced::countDown);
        ResourceLease lease = la.acquire(5, "vm-5", Duration.ZERO);
        sa.stall();
        assertTrue(fenced.await(AWAIT.toSeconds(), TimeUnit.SECONDS));
        assertFalse(la.valid());
        assertFalse(lease.valid());
        lease.close(); // never throws, even fenced and stalled
        la.close();
    }

    @Test
    void aCrashedHostRejoinsItsOwnSlotAfterTheExpiry() throws Exception {
        HostIdentity a = host("alpha");
        Lockspace observer = join(host("observer"));
        StallableStore sa = stallable();
        Lockspace first = join(sa, a, SHORT, null);
        int slot = first.slot();
        ResourceLease lease = first.acquire(2, "vm-2", Duration.ZERO);
        // the process dies: its I/O stops for good, nothing is released
        sa.stall();

        long start = System.nanoTime();
        Lockspace second = join(a);
        long took = System.nanoTime() - start;
        assertEquals(slot, second.slot(), "a restarted host takes its own slot again");
        // a later generation: the next one, or one more for each claim the join had to retry
        // (a read or write that outlived the I/O timeout on a busy machine)
        assertTrue(second.generation() > first.generation(), second.generation() + " after " + first.generation());
        assertTrue(took >= SHORT.expiry().toNanos(), "the slot of an unclean leave is reused only after the expiry");
        assertFalse(first.valid());
        assertFalse(lease.valid());
        // the new generation takes over what the old one held
        ResourceLease again = second.acquire(2, "vm-2", AWAIT);
        assertTrue(again.valid());
        await("the observer sees alpha live again", () -> stateOf(observer, a.id()) == HostStatus.State.LIVE);
    }

    @Test
    void aCleanlyLeftHostRejoinsAtOnceWithTheNextGeneration() throws Exception {
        HostIdentity a = host("alpha");
        Lockspace first = join(a);
        int slot = first.slot();
        first.close();
        Lockspace second = join(a);
        assertEquals(slot, second.slot());
        assertEquals(2, second.generation());
    }

    @Test
    void aFullLockspaceRefusesAnotherHost() throws Exception {
        LockspaceLayout two = new LockspaceLayout(2, 1);
        Path f = dir.resolve("small");
        long sectors = Lockspaces.sectorsNeeded(two, 512);
        try (SectorStore s = Lockspaces.pathStore(f, 512, sectors)) {
            Lockspaces.format(s, "small", two);
        }
        List<SectorStore> stores = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            SectorStore s = Lockspaces.pathStore(f, 512, sectors);
            cleanup.add(s);
            stores.add(s);
        }
        join(stores.get(0), host("one"), SHORT, null);
        join(stores.get(1), host("two"), SHORT, null);
        StorageException e = assertThrows(StorageException.class,
                () -> Lockspaces.join(stores.get(2), host("three"), SHORT, LeaseClock.SYSTEM, null));
        assertEquals(ErrorCode.RESOURCE_IN_USE, e.code());
        assertTrue(e.getMessage().contains("no free host slot"), e.getMessage());
    }

    @Test
    void threeHostsRacingForOneLeaseGetItOneAfterTheOther() throws Exception {
        List<Lockspace> members = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            members.add(join(host("h" + i)));
        }
        AtomicInteger inside = new AtomicInteger();
        AtomicInteger overlaps = new AtomicInteger();
        AtomicInteger got = new AtomicInteger();
        List<Thread> threads = new ArrayList<>();
        List<Throwable> errors = new java.util.concurrent.CopyOnWriteArrayList<>();
        for (Lockspace m : members) {
            Thread t = new Thread(() -> {
                try {
                    for (int i = 0; i < 3; i++) {
                        try (ResourceLease l = m.acquire(7, "shared", AWAIT)) {
                            if (inside.incrementAndGet() > 1 || !l.valid()) {
                                overlaps.incrementAndGet();
                            }
                            got.incrementAndGet();
                            Thread.sleep(20);
                            inside.decrementAndGet();
                        }
                    }
                } catch (Throwable e) {
                    errors.add(e);
                }
            });
            threads.add(t);
            t.start();
        }
        for (Thread t : threads) {
            t.join(AWAIT.toMillis() * 3);
        }
        assertEquals(List.of(), errors);
        assertEquals(9, got.get());
        assertEquals(0, overlaps.get());
    }
}

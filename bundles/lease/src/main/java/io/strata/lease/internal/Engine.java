package io.strata.lease.internal;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.lease.HostIdentity;
import io.strata.lease.HostStatus;
import io.strata.lease.LeaseHeldException;
import io.strata.lease.LeaseSettings;
import io.strata.lease.internal.Records.Decoded;
import io.strata.lease.internal.Records.Dblock;
import io.strata.lease.internal.Records.LeaderRec;
import io.strata.lease.internal.Records.Owner;
import io.strata.lease.internal.Records.SlotRec;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.slf4j.Logger;

/**
 * The lease algorithms of one host in one lockspace, as an event-driven state machine: the
 * delta lease of the host's slot (join, renewal, liveness of the other slots, self-fencing)
 * and Disk Paxos for the resource areas. Every method except {@link #valid()},
 * {@link #hosts()}, {@link #isDead(UUID)} and the plain getters must run on the
 * {@link Env}'s loop; the engine itself never blocks and never waits for I/O.
 *
 * <p>See the module README for the algorithms and the timing argument.
 */
public final class Engine {
    /** Completion of an engine operation, on the loop. */
    public interface Callback<T> {
        /**
         * @param value the result, or null on failure
         * @param error the failure, or null
         */
        void done(T value, StorageException error);
    }

    /** Where the host stands in the lockspace. */
    public enum Phase {
        /** Not started. */
        NEW,
        /** Looking for, claiming and confirming a slot. */
        JOINING,
        /** Holds its slot and renews it. */
        JOINED,
        /** Leaving: releasing leases, then the slot. */
        CLOSING,
        /** Left (or gave up joining); writes nothing any more. */
        CLOSED,
        /** Fenced itself; writes nothing any more. */
        FENCED
    }

    private static final long UNSET = Long.MIN_VALUE;
    private static final long FENCED = Long.MIN_VALUE + 1;
    /**
     * How many times a record that fails its checksum is read again before it counts as damaged.
     * A read can tear against a concurrent write of the same sector on storage that does not
     * keep them apart (a file LUN through the page cache); spaced by {@link #rereadDelay()},
     * the reads span more than the I/O timeout, within which a write lands or never does.
     */
    static final int TORN_REREADS = 4;

    private final Env env;
    private final Geometry geo;
    private final HostIdentity me;
    private final long renewal;
    private final long expiry;
    private final long ioTimeout;
    /** How long a joining host waits between writing its claim and reading it back. */
    private final long claimWait;
    /** Longest silence of a claim: write, wait, confirm, first renewal; added to the expiry for claims. */
    private final long claimExtra;
    private final Runnable fenceListener;
    private final Logger log;

    private Phase phase = Phase.NEW;
    private volatile int slot = -1;
    private volatile long generation;
    private long counter;
    /** The fence deadline on this host's clock, or UNSET before the first renewal, or FENCED. */
    private final AtomicLong fenceAt = new AtomicLong(UNSET);
    private static final AtomicLong WATCHDOG_KEYS = new AtomicLong();
    private volatile Watchdog watchdog;
    private final Object watchdogLock = new Object();
    private boolean watchdogDone; // guarded by watchdogLock; disarmed for good
    /** This engine's name at the watchdog: the lockspace's name and a number. */
    private final String watchdogKey;
    private volatile boolean closed;
    private volatile String fenceReason;
    private volatile SlotView[] view;
    private long ownSlotCheckFrom;
    private boolean scanning;
    private boolean renewing;
    private boolean renewSkipped;
    private boolean stopping;
    private int renewFailures;
    private int writesInFlight;
    /**
     * Writes of this host's own slot issued so far, and those not yet returned from the storage
     * (a write the I/O timeout gave up on counts until it returns): a scan that overlapped one
     * may have read the slot torn.
     */
    private long ownSlotWrites;
    private int ownSlotWritesOut;
    private Runnable onWritesDrained;
    private Env.Timer tickTimer;
    private Env.Timer fenceTimer;
    private boolean fenceListenerRun;
    private boolean joinCompleted;
    private final TreeMap<Integer, LeaseImpl> held = new TreeMap<>();
    private final TreeMap<Integer, AcquireOp> acquiring = new TreeMap<>();
    /** Areas whose release write is in flight: no acquire may overtake it on the same sector. */
    private final TreeMap<Integer, Boolean> freeing = new TreeMap<>();
    /**
     * Areas where this host may be the recorded or chosen owner without holding the lease (a
     * release or an acquire failed half-way): settled at the next renewals by taking the lease
     * internally and releasing it, so that other hosts need not wait for this one to leave.
     */
    private final TreeMap<Integer, String> unsettled = new TreeMap<>();
    /** Internal acquires settling an area. */
    private final TreeMap<Integer, AcquireOp> settling = new TreeMap<>();
    private JoinOp joinOp;
    private List<Callback<Void>> closeWaiters;
    private volatile Consumer<LeaseImpl> releaser = l -> release(l, (v, e) -> { });

    /**
     * @param env the world
     * @param geo the lockspace, from its header
     * @param me this host
     * @param settings the timing, the same on every host
     * @param fenceListener run once, off the loop, when this host fences itself
     */
    public Engine(Env env, Geometry geo, HostIdentity me, LeaseSettings settings, Runnable fenceListener) {
        this.env = env;
        this.geo = geo;
        this.me = me;
        this.renewal = settings.renewal().toNanos();
        this.expiry = settings.expiry().toNanos();
        this.ioTimeout = settings.ioTimeout().toNanos();
        this.claimWait = 2 * ioTimeout + renewal / 2;
        this.claimExtra = claimWait + 3 * ioTimeout;
        this.fenceListener = fenceListener;
        this.log = env.log();
        this.view = new SlotView[geo.maxHosts()];
        this.watchdogKey = "'" + geo.name().replaceAll("[^A-Za-z0-9._-]", "_") + "'#" + WATCHDOG_KEYS.incrementAndGet();
    }

    // ================================================================ getters (any thread)

    /** @return the lockspace geometry */
    public Geometry geometry() {
        return geo;
    }

    /** @return this host */
    public HostIdentity me() {
        return me;
    }

    /** @return the slot, -1 before joining */
    public int slot() {
        return slot;
    }

    /** @return the generation in the slot */
    public long generation() {
        return generation;
    }

    /** @return the phase (read it on the loop) */
    public Phase phase() {
        return phase;
    }

    /** @return why the host fenced itself, or null */
    public String fenceReason() {
        return fenceReason;
    }

    /** @return the leases held now (read it on the loop) */
    public Collection<LeaseImpl> heldLeases() {
        return held.values();
    }

    /** @return what {@link LeaseImpl#close()} does (production makes it wait for the release) */
    Consumer<LeaseImpl> releaser() {
        return releaser;
    }

    /** @param releaser what {@link LeaseImpl#close()} does */
    public void setReleaser(Consumer<LeaseImpl> releaser) {
        this.releaser = releaser;
    }

    /**
     * Whether this host may still write to shared storage: joined, not leaving, and its clock
     * is before the fence deadline. Once false it stays false. Thread-safe and cheap.
     */
    public boolean valid() {
        return !closed && deadlineOk();
    }

    /** @return whether the fence deadline has not passed; turns it into FENCED for good when it has */
    private boolean deadlineOk() {
        for (;;) {
            long d = fenceAt.get();
            if (d == UNSET || d == FENCED) {
                return false;
            }
            if (env.now() - d < 0) {
                return true;
            }
            if (fenceAt.compareAndSet(d, FENCED)) {
                watchdogDisarm();
                return false;
            }
        }
    }

    /** Voids the fence deadline for good (a fence, a failed join, a close) and disarms the watchdog. */
    private void markFenced() {
        fenceAt.set(FENCED);
        watchdogDisarm();
    }

    /**
     * Arms the lease watchdog, where this JVM runs one, to kill this process half an I/O timeout
     * after the fence deadline {@code deadline}: the process then has not renewed in time and has
     * not fenced itself either (it is stopped or stalled), and it dies before any other host may
     * count it dead, which is at least an I/O timeout later.
     */
    private void watchdogArm(long deadline) {
        Watchdog w = watchdog;
        if (w != null) {
            synchronized (watchdogLock) {
                if (!watchdogDone) {
                    w.arm(watchdogKey, deadline + ioTimeout / 2);
                }
            }
        }
    }

    /** Disarms the watchdog for this lockspace for good: the deadline is void. */
    private void watchdogDisarm() {
        Watchdog w = watchdog;
        if (w != null) {
            synchronized (watchdogLock) {
                if (!watchdogDone) {
                    watchdogDone = true;
                    w.disarm(watchdogKey);
                }
            }
        }
    }

    /**
     * Makes this engine arm {@code w} with its fence deadlines (before it joins).
     *
     * @param w the JVM's watchdog, or null for none
     */
    public void setWatchdog(Watchdog w) {
        this.watchdog = w;
    }

    /** @return every used slot as last observed (any thread) */
    public List<HostStatus> hosts() {
        SlotView[] v = view;
        long now = env.now();
        List<HostStatus> out = new ArrayList<>();
        for (int i = 0; i < v.length; i++) {
            if (v[i] != null) {
                HostStatus s = v[i].status(i, expiry, claimExtra, now);
                if (s != null) {
                    out.add(s);
                }
            }
        }
        return out;
    }

    /** @return whether every slot carrying {@code host} was observed released or silent for the expiry */
    public boolean isDead(UUID host) {
        boolean seen = false;
        for (SlotView s : view) {
            if (s != null && s.record().valid() && s.record().value().id().equals(host)) {
                seen = true;
                HostStatus.State st = s.state(expiry, claimExtra);
                if (st == HostStatus.State.LIVE || st == HostStatus.State.UNKNOWN) {
                    return false;
                }
            }
        }
        return seen;
    }

    private String lsName() {
        return "lockspace '" + geo.name() + "'";
    }

    private StorageException unavailable() {
        String why = fenceReason != null ? "fenced itself (" + fenceReason + ")"
                : closed ? "has left" : "is not joined";
        return new StorageException(ErrorCode.DEVICE_UNAVAILABLE, "host " + me + " " + why + " in " + lsName());
    }

    /** @throws StorageException DEVICE_UNAVAILABLE when not valid */
    public void checkValid() {
        if (!valid()) {
            throw unavailable();
        }
    }

    private boolean joinedAndValid() {
        return phase == Phase.JOINED && deadlineOk();
    }

    private Owner myOwner() {
        return new Owner(slot, me.id(), generation, me.name());
    }

    private boolean isMe(Owner o) {
        return o.slot() == slot && o.generation() == generation && o.id().equals(me.id());
    }

    private boolean gone(Owner o) {
        SlotView v = view[o.slot()];
        return v != null && v.gone(o, expiry, claimExtra);
    }

    // ================================================================ I/O with deadlines

    /**
     * Issues one I/O and reports its end or, if it has not ended after the I/O timeout, a
     * timeout, whichever comes first (the other is ignored). A write counts as possibly still
     * landing until then: afterwards, by assumption, it either landed or never will.
     */
    private void io(long sector, int count, byte[] data, Env.IoCallback cb) {
        new IoOp(sector, count, data, cb).start();
    }

    private final class IoOp implements Env.IoCallback {
        private final long sector;
        private final int count;
        private final byte[] data;
        private final Env.IoCallback cb;
        private Env.Timer timer;
        private boolean over;
        private boolean ownSlot;

        IoOp(long sector, int count, byte[] data, Env.IoCallback cb) {
            this.sector = sector;
            this.count = count;
            this.data = data;
            this.cb = cb;
        }

        void start() {
            if (data != null) {
                writesInFlight++;
                if (slot >= 0 && sector == geo.slotSector(slot)) {
                    ownSlot = true;
                    ownSlotWrites++;
                    ownSlotWritesOut++;
                }
            }
            timer = env.schedule(ioTimeout, () -> end(null, new StorageException(ErrorCode.IO_ERROR,
                    (data != null ? "write" : "read") + " of sector " + sector + " of " + lsName()
                            + " did not complete within the I/O timeout of " + ioTimeout / 1_000_000 + " ms")));
            if (data != null) {
                env.write(sector, data, this);
            } else {
                env.read(sector, count, this);
            }
        }

        @Override
        public void done(byte[] d, StorageException error) {
            timer.cancel();
            if (ownSlot) {
                ownSlot = false;
                ownSlotWritesOut--;
            }
            end(d, error);
        }

        private void end(byte[] d, StorageException error) {
            if (over) {
                return;
            }
            over = true;
            if (data != null && --writesInFlight == 0 && onWritesDrained != null) {
                Runnable r = onWritesDrained;
                onWritesDrained = null;
                r.run();
            }
            cb.done(d, error);
        }
    }

    /** A quarter of the I/O timeout, a little randomized so two readers do not keep meeting one writer. */
    private long rereadDelay() {
        long q = Math.max(1, ioTimeout / 4);
        return q + env.random(Math.max(1, q / 4));
    }

    private void whenWritesDrained(Runnable r) {
        if (writesInFlight == 0) {
            r.run();
        } else {
            onWritesDrained = r;
        }
    }

    // ================================================================ renewal, scans, fencing

    /**
     * Every tick scans the slots; every third one (once per renewal period) also renews. The
     * scans come three times per renewal so that a host that stopped is seen silent about one
     * third of a renewal period after its expiry, not up to a whole period later: the time to
     * take over a dead host's leases is the expiry plus less than a second with the defaults.
     * Reads only; what counts as dead is unchanged.
     */
    private void tick() {
        if (phase == Phase.CLOSED || phase == Phase.FENCED || stopping) {
            return;
        }
        long scanEvery = Math.max(1, renewal / SCANS_PER_RENEWAL);
        tickTimer = env.schedule(scanEvery, this::tick);
        boolean renewDue = ticks++ % SCANS_PER_RENEWAL == 0;
        if (renewDue && (phase == Phase.JOINED || phase == Phase.CLOSING)) {
            renew();
        }
        scan();
        if (renewDue && phase == Phase.JOINED && !unsettled.isEmpty()) {
            settle();
        }
    }

    /** Slot scans per renewal period. */
    static final int SCANS_PER_RENEWAL = 3;
    /** Ticks since the engine started; the loop thread only. */
    private long ticks;

    private void settle() {
        for (var e : new ArrayList<>(unsettled.entrySet())) {
            int area = e.getKey();
            if (freeing.containsKey(area) || acquiring.containsKey(area) || settling.containsKey(area)
                    || held.containsKey(area)) {
                continue;
            }
            AcquireOp op = new AcquireOp(area, e.getValue(), 0, true, (lease, x) -> {
                if (lease != null) {
                    release(lease, (v, y) -> { });
                    unsettled.remove(area);
                } else if (x instanceof LeaseHeldException || x.code() == ErrorCode.CORRUPT_IMAGE) {
                    // another host was chosen, or only a person can help
                    unsettled.remove(area);
                }
            });
            settling.put(area, op);
            op.attempt();
        }
    }

    private void renew() {
        if (renewing) {
            // slow storage: renew again as soon as this one ends, instead of at the next tick
            renewSkipped = true;
            return;
        }
        renewSkipped = false;
        if (fenceAt.get() != UNSET && !deadlineOk()) {
            fenceNow("the fence deadline passed");
            return;
        }
        long t0 = env.now();
        byte[] data = Records.encodeSlot(geo,
                new SlotRec(slot, false, me.id(), me.name(), generation, ++counter, env.wallMillis()));
        renewing = true;
        io(geo.slotSector(slot), 1, data, (d, e) -> {
            renewing = false;
            if (phase != Phase.JOINED && phase != Phase.CLOSING) {
                return;
            }
            if (e != null) {
                renewFailures++;
                log.warn("renewal {} of slot {} in {} failed: {}", renewFailures, slot, lsName(), e.getMessage());
                if (renewSkipped && phase == Phase.JOINED) {
                    renew();
                }
                return;
            }
            if (!extend(t0)) {
                fenceNow("a renewal completed only after the fence deadline");
                return;
            }
            renewFailures = 0;
            if (joinOp != null) {
                joinOp.renewed();
            }
            if (renewSkipped && phase == Phase.JOINED) {
                renew();
            }
        });
    }

    /** Moves the fence deadline to {@code t0 + expiry - ioTimeout}, unless it has already passed. */
    private boolean extend(long t0) {
        long nd = t0 + expiry - ioTimeout;
        for (;;) {
            long d = fenceAt.get();
            if (d == FENCED) {
                return false;
            }
            if (d != UNSET) {
                if (env.now() - d >= 0) {
                    if (fenceAt.compareAndSet(d, FENCED)) {
                        watchdogDisarm();
                    }
                    continue;
                }
                if (nd - d <= 0) {
                    return true;
                }
            }
            if (fenceAt.compareAndSet(d, nd)) {
                watchdogArm(nd);
                if (fenceTimer != null) {
                    fenceTimer.cancel();
                }
                fenceTimer = env.schedule(Math.max(0, nd - env.now()), this::fenceCheck);
                return true;
            }
        }
    }

    private void fenceCheck() {
        if (phase != Phase.JOINED && phase != Phase.CLOSING) {
            return;
        }
        if (!deadlineOk()) {
            fenceNow("no renewal of its slot succeeded for " + (expiry - ioTimeout) / 1_000_000 + " ms ("
                    + renewFailures + " failed, " + (renewing ? "one still in flight" : "none in flight") + ")");
        } else {
            // the timer fired a little early: look again at the deadline
            long d = fenceAt.get();
            fenceTimer = env.schedule(Math.max(1, d - env.now()), this::fenceCheck);
        }
    }

    private void scan() {
        if (scanning) {
            return;
        }
        scanning = true;
        long issued = env.now();
        long ownWrites = ownSlotWrites;
        boolean ownWriteOut = ownSlotWritesOut > 0;
        io(geo.slotsStart(), geo.maxHosts(), null, (d, e) -> {
            scanning = false;
            if (phase != Phase.JOINING && phase != Phase.JOINED && phase != Phase.CLOSING) {
                return;
            }
            if (e != null) {
                log.warn("reading the host slots of {} failed: {}", lsName(), e.getMessage());
                return;
            }
            onScan(d, issued, env.now(), ownWriteOut || ownSlotWrites != ownWrites);
        });
    }

    /**
     * @param ownWriteOverlapped whether a write of this host's slot was out at some time during
     *        the read: storage that does not keep a sector read apart from a concurrent write of
     *        it (a file LUN: a buffered read may copy a page while a write is copying into it)
     *        can return the slot torn, which is no sign of another writer
     */
    private void onScan(byte[] d, long issued, long completed, boolean ownWriteOverlapped) {
        int ss = geo.sectorSize();
        SlotView[] old = view;
        SlotView[] nv = new SlotView[old.length];
        for (int i = 0; i < nv.length; i++) {
            byte[] raw = Arrays.copyOfRange(d, i * ss, (i + 1) * ss);
            SlotView o = old[i];
            Decoded<SlotRec> rec = o != null && Arrays.equals(o.raw(), raw) ? o.record()
                    : Records.decodeSlot(geo, raw, 0, i);
            nv[i] = SlotView.next(o, raw, rec, issued, completed);
        }
        view = nv;
        if (phase == Phase.JOINED && issued - ownSlotCheckFrom >= 0) {
            Decoded<SlotRec> mine = nv[slot].record();
            if (!mine.valid() && ownWriteOverlapped) {
                log.debug("host {} read its slot {} of {} torn while renewing it; the next scans read it again", me,
                        slot, lsName());
            } else if (!mine.valid() || mine.value().released() || !mine.value().id().equals(me.id())
                    || mine.value().generation() != generation) {
                fenceNow("its slot " + slot + " was overwritten by "
                        + (mine.valid() ? "host " + mine.value().name() + " (" + mine.value().id() + ")"
                                : "unreadable data"));
                return;
            }
        }
        if (joinOp != null) {
            joinOp.onScan();
        }
    }

    private void fenceNow(String reason) {
        if (phase == Phase.FENCED || phase == Phase.CLOSED) {
            return;
        }
        Phase before = phase;
        markFenced();
        fenceReason = reason;
        phase = Phase.FENCED;
        cancelTimers();
        if (before == Phase.JOINED && joinCompleted) {
            log.error("host {} fenced itself in {}: {}; its {} resource lease(s) are void", me, lsName(), reason,
                    held.size());
        }
        held.clear();
        failAcquires(unavailable());
        if (joinOp != null) {
            joinOp.fail(new StorageException(ErrorCode.IO_ERROR,
                    "host " + me + " could not join " + lsName() + ": " + reason));
        }
        completeClose();
        if (before == Phase.JOINED && joinCompleted && !fenceListenerRun) {
            fenceListenerRun = true;
            env.runFenceListener(fenceListener);
        }
    }

    private void cancelTimers() {
        if (tickTimer != null) {
            tickTimer.cancel();
        }
        if (fenceTimer != null) {
            fenceTimer.cancel();
        }
    }

    private void failAcquires(StorageException e) {
        List<AcquireOp> ops = new ArrayList<>(acquiring.values());
        ops.addAll(settling.values());
        for (AcquireOp op : ops) {
            op.finish(null, e);
        }
    }

    // ================================================================ join

    /** Starts joining: finds, claims and confirms a slot; {@code cb} runs when it holds one. */
    public void join(Callback<Void> cb) {
        if (phase != Phase.NEW) {
            cb.done(null, new StorageException(ErrorCode.INVALID_ARGUMENT, "already started"));
            return;
        }
        phase = Phase.JOINING;
        joinOp = new JoinOp(cb);
        tick();
    }

    private enum JoinState { WATCH, CLAIM, RENEW, DONE }

    private final class JoinOp {
        private final Callback<Void> cb;
        private JoinState state = JoinState.WATCH;
        private int skipScans;
        private boolean toldWaiting;
        private final List<long[]> myClaims = new ArrayList<>();
        private long claimIssued;
        private Env.Timer timer;

        JoinOp(Callback<Void> cb) {
            this.cb = cb;
        }

        /** Whether the slot holds a claim of mine that I abandoned (it can be claimed again at once). */
        private boolean myAbandonedClaim(int i, SlotRec r) {
            if (!r.id().equals(me.id()) || r.counter() != 0 || r.released()) {
                return false;
            }
            for (long[] c : myClaims) {
                if (c[0] == i && c[1] == r.generation()) {
                    return true;
                }
            }
            return false;
        }

        void onScan() {
            if (state != JoinState.WATCH) {
                return;
            }
            if (skipScans > 0) {
                skipScans--;
                return;
            }
            SlotView[] v = view;
            // 1. the slot that already carries my identity: a restart of this host
            int mine = -1;
            long mineGen = -1;
            boolean unresolved = false;
            for (int i = 0; i < v.length; i++) {
                if (v[i] == null || !v[i].record().valid() || !v[i].record().value().id().equals(me.id())) {
                    continue;
                }
                SlotRec r = v[i].record().value();
                HostStatus.State st = myAbandonedClaim(i, r) ? HostStatus.State.FREE : v[i].state(expiry, claimExtra);
                if (st == HostStatus.State.LIVE && v[i].changedAt() - v[i].firstSeen() <= 2 * ioTimeout + renewal) {
                    // the last write of a crashed predecessor may land just after this start (it was
                    // issued before, so within 2 I/O timeouts and a scan): wait for the expiry
                    st = HostStatus.State.UNKNOWN;
                }
                if (st == HostStatus.State.LIVE) {
                    fail(new StorageException(ErrorCode.RESOURCE_IN_USE, "host " + me + " is live in slot " + i
                            + " of " + lsName() + ": another process runs with this host identity"));
                    return;
                }
                if (st == HostStatus.State.UNKNOWN) {
                    unresolved = true;
                } else if (r.generation() > mineGen) {
                    mine = i;
                    mineGen = r.generation();
                }
            }
            if (unresolved) {
                if (!toldWaiting) {
                    toldWaiting = true;
                    log.info("host {} waits {} ms to see whether its previous incarnation in {} is gone", me,
                            expiry / 1_000_000, lsName());
                }
                return;
            }
            if (mine >= 0) {
                claim(mine);
                return;
            }
            // 2. a free slot, 3. a slot seen dead; in an order of preference particular to this host
            Integer[] order = new Integer[v.length];
            for (int i = 0; i < order.length; i++) {
                order[i] = i;
            }
            Arrays.sort(order, (a, b) -> Long.compare(preference(a), preference(b)));
            boolean anyUnknown = false;
            int dead = -1;
            for (int i : order) {
                if (v[i] == null) {
                    anyUnknown = true;
                    continue;
                }
                HostStatus.State st = v[i].state(expiry, claimExtra);
                if (st == HostStatus.State.FREE) {
                    claim(i);
                    return;
                }
                if (st == HostStatus.State.DEAD && dead < 0) {
                    dead = i;
                }
                anyUnknown |= st == HostStatus.State.UNKNOWN;
            }
            if (dead >= 0) {
                claim(dead);
                return;
            }
            if (!anyUnknown) {
                fail(new StorageException(ErrorCode.RESOURCE_IN_USE, "no free host slot in " + lsName()
                        + ": all " + v.length + " slots are held by live hosts"));
            } else if (!toldWaiting) {
                toldWaiting = true;
                log.info("host {} finds no free slot in {} yet; it watches the others for {} ms", me, lsName(),
                        expiry / 1_000_000);
            }
        }

        private long preference(int i) {
            long h = me.id().getMostSignificantBits() * 31 + me.id().getLeastSignificantBits();
            h ^= (i + 1) * 0x9E3779B97F4A7C15L;
            h ^= h >>> 33;
            h *= 0xff51afd7ed558ccdL;
            h ^= h >>> 33;
            return h;
        }

        private void retryLater() {
            if (state == JoinState.DONE) {
                return;
            }
            state = JoinState.WATCH;
            skipScans = 1 + (int) env.random(2);
        }

        /** Claims slot {@code s}: re-read, write within the I/O timeout, wait, confirm. */
        private void claim(int s) {
            state = JoinState.CLAIM;
            byte[] judged = view[s].raw();
            long readIssued = env.now();
            io(geo.slotSector(s), 1, null, (d, e) -> {
                if (state != JoinState.CLAIM) {
                    return;
                }
                if (e != null || !Arrays.equals(d, judged) || env.now() - readIssued > ioTimeout) {
                    retryLater();
                    return;
                }
                Decoded<SlotRec> prev = Records.decodeSlot(geo, d, 0, s);
                long gen = prev.valid() ? prev.value().generation() + 1 : 1;
                myClaims.add(new long[] {s, gen});
                claimIssued = env.now();
                byte[] rec = Records.encodeSlot(geo, new SlotRec(s, false, me.id(), me.name(), gen, 0,
                        env.wallMillis()));
                io(geo.slotSector(s), 1, rec, (d2, e2) -> {
                    if (state != JoinState.CLAIM) {
                        return;
                    }
                    if (e2 != null) {
                        retryLater();
                        return;
                    }
                    long written = env.now();
                    // Any other host that judged this slot free read it before my write landed and, by
                    // the rules it follows too, its own write lands at most 2 I/O timeouts after that.
                    timer = env.schedule(claimWait, () -> confirm(s, gen, written));
                });
            });
        }

        private void confirm(int s, long gen, long written) {
            if (state != JoinState.CLAIM) {
                return;
            }
            io(geo.slotSector(s), 1, null, (d, e) -> {
                if (state != JoinState.CLAIM) {
                    return;
                }
                Decoded<SlotRec> r = e == null ? Records.decodeSlot(geo, d, 0, s) : null;
                if (r == null || !r.valid() || !r.value().id().equals(me.id()) || r.value().generation() != gen
                        || r.value().released()) {
                    if (e == null) {
                        log.info("host {} lost slot {} of {} to another host joining at the same time", me, s,
                                lsName());
                    }
                    retryLater();
                    return;
                }
                state = JoinState.RENEW;
                slot = s;
                generation = gen;
                counter = 0;
                ownSlotCheckFrom = written;
                phase = Phase.JOINED;
                // the claim may stay unrenewed for claimExtra at most: others wait that much longer
                long giveUp = claimIssued + claimExtra - env.now();
                timer = env.schedule(Math.max(0, giveUp), () -> fail(new StorageException(ErrorCode.IO_ERROR,
                        "host " + me + " claimed slot " + s + " of " + lsName() + " but could not renew it")));
                renew();
            });
        }

        void renewed() {
            if (state != JoinState.RENEW) {
                return;
            }
            state = JoinState.DONE;
            joinOp = null;
            joinCompleted = true;
            timer.cancel();
            log.info("host {} joined {} in slot {}, generation {}", me, lsName(), slot, generation);
            cb.done(null, null);
        }

        void fail(StorageException e) {
            if (state == JoinState.DONE) {
                return;
            }
            state = JoinState.DONE;
            joinOp = null;
            if (timer != null) {
                timer.cancel();
            }
            if (phase == Phase.JOINING || phase == Phase.JOINED) {
                phase = Phase.CLOSED;
                closed = true;
                markFenced();
                cancelTimers();
            }
            cb.done(null, e);
        }
    }

    // ================================================================ resource leases

    /**
     * Takes the lease of {@code area}, waiting up to {@code waitNanos} while a live host holds it.
     * {@code cb} gets the lease or a {@link LeaseHeldException}, DEVICE_UNAVAILABLE, IO_ERROR,
     * CORRUPT_IMAGE, LOCKED (already held or being acquired by this host), OUT_OF_RANGE.
     */
    public void acquire(int area, String resource, long waitNanos, Callback<LeaseImpl> cb) {
        if (area < 0 || area >= geo.areas()) {
            cb.done(null, new StorageException(ErrorCode.OUT_OF_RANGE,
                    "lease area " + area + " is not in " + lsName() + " (areas 0 to " + (geo.areas() - 1) + ")"));
            return;
        }
        if (resource == null || resource.isEmpty()
                || Records.utf8(resource, Integer.MAX_VALUE).length > Records.MAX_RESOURCE_BYTES) {
            cb.done(null, new StorageException(ErrorCode.INVALID_ARGUMENT, "resource name must have 1 to "
                    + Records.MAX_RESOURCE_BYTES + " bytes"));
            return;
        }
        if (!joinedAndValid()) {
            cb.done(null, unavailable());
            return;
        }
        LeaseImpl h = held.get(area);
        if (h != null) {
            cb.done(null, new StorageException(ErrorCode.LOCKED, "this host already holds lease area " + area
                    + " of " + lsName() + " (for " + h.resource() + ")"));
            return;
        }
        if (acquiring.containsKey(area)) {
            cb.done(null, new StorageException(ErrorCode.LOCKED, "this host is already acquiring lease area "
                    + area + " of " + lsName()));
            return;
        }
        AcquireOp op = new AcquireOp(area, resource, Math.max(0, waitNanos), false, cb);
        acquiring.put(area, op);
        op.attempt();
    }

    /** Cancels an acquire in progress (its callback gets CANCELLED); a lease won meanwhile is released. */
    public void cancelAcquire(int area, Callback<LeaseImpl> cb) {
        AcquireOp op = acquiring.get(area);
        if (op != null && op.cb == cb) {
            op.finish(null, new StorageException(ErrorCode.CANCELLED, "acquiring lease area " + area + " was cancelled"));
        }
    }

    /** The contents of an area, as read at once. */
    private final class Area {
        final Decoded<LeaderRec> leader;
        final Dblock[] dblocks;
        String damaged;

        Area(byte[] d, int area) {
            int ss = geo.sectorSize();
            leader = Records.decodeLeader(geo, d, 0, area);
            dblocks = new Dblock[geo.maxHosts()];
            for (int i = 0; i < dblocks.length; i++) {
                Decoded<Dblock> b = Records.decodeDblock(geo, d, (1 + i) * ss, area, i);
                if (b.valid()) {
                    dblocks[i] = b.value();
                } else {
                    if (b.status() == Records.Status.DAMAGED && i != slot) {
                        damaged = b.why();
                    }
                    // blank, or my own damaged block, which my next write replaces
                    dblocks[i] = Dblock.empty(area, i);
                }
            }
        }

        long maxLver(boolean withMine) {
            long m = 0;
            for (Dblock b : dblocks) {
                if (withMine || b.slot() != slot) {
                    m = Math.max(m, b.lver());
                }
            }
            return m;
        }
    }

    private final class AcquireOp {
        private final int area;
        private final String resource;
        private final long deadline;
        private final long hardDeadline;
        private final Callback<LeaseImpl> cb;
        /** Settling an area for this host (not for the application). */
        private final boolean internal;
        /** Whether this host may have been chosen (it proposed itself in phase 2 or wrote the leader). */
        private boolean maybeChosen;
        private boolean finished;
        private Env.Timer retry;
        /** Reads of the area in a row that found a record damaged. */
        private int damagedReads;

        AcquireOp(int area, String resource, long waitNanos, boolean internal, Callback<LeaseImpl> cb) {
            this.area = area;
            this.resource = resource;
            this.internal = internal;
            long now = env.now();
            this.deadline = now + waitNanos;
            this.hardDeadline = deadline + expiry;
            this.cb = cb;
        }

        void finish(LeaseImpl lease, StorageException e) {
            if (finished) {
                return;
            }
            finished = true;
            acquiring.remove(area, this);
            settling.remove(area, this);
            if (retry != null) {
                retry.cancel();
            }
            if (lease == null && maybeChosen && phase == Phase.JOINED) {
                unsettled.put(area, resource);
            }
            cb.done(lease, e);
        }

        private boolean check() {
            if (finished) {
                return false;
            }
            if (!joinedAndValid()) {
                finish(null, unavailable());
                return false;
            }
            return true;
        }

        private void readArea(Consumer<Area> next) {
            io(geo.areaSector(area), geo.areaSectors(), null, (d, e) -> {
                if (finished) {
                    return;
                }
                if (e != null) {
                    finish(null, e);
                    return;
                }
                Area a = new Area(d, area);
                String damage = a.damaged != null ? a.damaged
                        : a.leader.status() == Records.Status.DAMAGED ? a.leader.why() : null;
                if (damage != null && damagedReads < TORN_REREADS) {
                    // most likely torn: read while another host (or this one) was writing the block
                    damagedReads++;
                    retry = env.schedule(rereadDelay(), () -> {
                        if (check()) {
                            readArea(next);
                        }
                    });
                    return;
                }
                damagedReads = 0;
                if (a.damaged != null) {
                    finish(null, new StorageException(ErrorCode.CORRUPT_IMAGE, "lease area " + area + " of "
                            + lsName() + " is damaged: " + a.damaged));
                    return;
                }
                next.accept(a);
            });
        }

        private void write(long sector, byte[] data, Runnable next) {
            if (!check()) {
                return;
            }
            io(sector, 1, data, (d, e) -> {
                if (finished) {
                    return;
                }
                if (e != null) {
                    finish(null, e);
                    return;
                }
                next.run();
            });
        }

        private void later(long delay) {
            retry = env.schedule(delay, this::attempt);
        }

        void attempt() {
            if (!check()) {
                return;
            }
            if (env.now() - hardDeadline > 0) {
                finish(null, new StorageException(ErrorCode.LOCKED, "lease area " + area + " of " + lsName()
                        + " stayed contended: no owner could be settled in time"));
                return;
            }
            if (freeing.containsKey(area) || (!internal && settling.containsKey(area))) {
                // this host's own release (or settling) of the area is in flight: it must end first
                later(Math.max(1, ioTimeout / 8));
                return;
            }
            readArea(this::onArea);
        }

        private void onArea(Area a) {
            long leaderLver = a.leader.valid() ? a.leader.value().lver() : 0;
            long maxLver = a.maxLver(true);
            if (maxLver > leaderLver) {
                // an instance was started whose outcome the leader does not record (yet)
                ballot(maxLver, a);
            } else if (a.leader.valid()) {
                LeaderRec l = a.leader.value();
                if (!l.held() || (!isMe(l.owner()) && gone(l.owner()))) {
                    ballot(l.lver() + 1, a);
                } else if (isMe(l.owner())) {
                    // this incarnation was chosen (an earlier acquire failed after the ballot)
                    writeLeader(l.lver());
                } else {
                    heldBy(l.owner());
                }
            } else {
                ballot(1, a);
            }
        }

        private void heldBy(Owner owner) {
            long backoff = Math.max(1, renewal / 4 + env.random(Math.max(1, renewal / 8)));
            if (env.now() + backoff - deadline > 0) {
                finish(null, new LeaseHeldException(resource, new HostIdentity(owner.id(), owner.name())));
            } else {
                later(backoff);
            }
        }

        private void contention() {
            later(1 + env.random(Math.max(1, renewal / 4)));
        }

        /** One Disk Paxos ballot in instance {@code lver}, proposing this host. */
        private void ballot(long lver, Area a) {
            if (!check()) {
                return;
            }
            Dblock mine = a.dblocks[slot];
            long keepBal = mine.lver() == lver ? mine.bal() : 0;
            Owner keepInp = mine.lver() == lver ? mine.inp() : null;
            long top = 0;
            for (Dblock b : a.dblocks) {
                if (b.lver() == lver) {
                    top = Math.max(top, b.mbal());
                }
            }
            int n = geo.maxHosts();
            long mbal = (top / n + 1) * n + slot + 1;
            Dblock p1 = new Dblock(area, slot, lver, mbal, keepBal, keepInp);
            long at = geo.areaSector(area) + 1 + slot;
            write(at, Records.encodeDblock(geo, p1), () -> readArea(a1 -> {
                if (!unopposed(a1, lver, mbal)) {
                    return;
                }
                Owner value = null;
                long best = 0;
                for (Dblock b : a1.dblocks) {
                    Dblock x = b.slot() == slot ? p1 : b;
                    if (x.lver() == lver && x.bal() > best) {
                        best = x.bal();
                        value = x.inp();
                    }
                }
                Owner v = value != null ? value : myOwner();
                Dblock p2 = new Dblock(area, slot, lver, mbal, mbal, v);
                maybeChosen |= isMe(v);
                write(at, Records.encodeDblock(geo, p2), () -> readArea(a2 -> {
                    if (unopposed(a2, lver, mbal)) {
                        decided(lver, v, a2);
                    }
                }));
            }));
        }

        /** After a phase write: whether no other slot has started a higher ballot or a later instance. */
        private boolean unopposed(Area a, long lver, long mbal) {
            if (a.maxLver(false) > lver) {
                contention();
                return false;
            }
            for (Dblock b : a.dblocks) {
                if (b.slot() != slot && b.lver() == lver && b.mbal() > mbal) {
                    contention();
                    return false;
                }
            }
            return true;
        }

        private void decided(long lver, Owner v, Area a) {
            if (isMe(v)) {
                writeLeader(lver);
            } else if (gone(v)) {
                ballot(lver + 1, a);
            } else {
                heldBy(v);
            }
        }

        private void writeLeader(long lver) {
            if (!check()) {
                return;
            }
            byte[] data = Records.encodeLeader(geo,
                    new LeaderRec(area, true, lver, myOwner(), resource, env.wallMillis()));
            maybeChosen = true;
            io(geo.areaSector(area), 1, data, (d, e) -> {
                if (finished) {
                    return;
                }
                if (e != null) {
                    finish(null, e);
                    return;
                }
                if (!check()) {
                    return;
                }
                LeaseImpl lease = new LeaseImpl(Engine.this, area, resource, lver);
                if (!internal) {
                    held.put(area, lease);
                }
                maybeChosen = false;
                unsettled.remove(area);
                finish(lease, null);
            });
        }
    }

    private void writeFree(int area, long lver, String resource, Callback<Void> cb) {
        if ((phase != Phase.JOINED && phase != Phase.CLOSING) || !deadlineOk()) {
            cb.done(null, null);
            return;
        }
        byte[] data = Records.encodeLeader(geo,
                new LeaderRec(area, false, lver, myOwner(), resource, env.wallMillis()));
        freeing.put(area, Boolean.TRUE);
        io(geo.areaSector(area), 1, data, (d, e) -> {
            freeing.remove(area);
            if (e != null) {
                log.warn("releasing lease area {} of {} failed: {}; retrying at the next renewal", area, lsName(),
                        e.getMessage());
                unsettled.put(area, resource);
            }
            cb.done(null, e);
        });
    }

    /** Releases {@code lease}: it turns invalid at once, then the leader is written free. */
    public void release(LeaseImpl lease, Callback<Void> cb) {
        if (!lease.markReleased()) {
            cb.done(null, null);
            return;
        }
        held.remove(lease.area(), lease);
        writeFree(lease.area(), lease.lver(), lease.resource(), cb);
    }

    /** Reads who holds {@code area} now: empty when free or its holder is gone. */
    public void holder(int area, Callback<Optional<HostIdentity>> cb) {
        if (area < 0 || area >= geo.areas()) {
            cb.done(null, new StorageException(ErrorCode.OUT_OF_RANGE,
                    "lease area " + area + " is not in " + lsName()));
            return;
        }
        holder(area, 0, cb);
    }

    private void holder(int area, int damagedReads, Callback<Optional<HostIdentity>> cb) {
        io(geo.areaSector(area), 1, null, (d, e) -> {
            if (e != null) {
                cb.done(null, e);
                return;
            }
            Decoded<LeaderRec> l = Records.decodeLeader(geo, d, 0, area);
            if (l.status() == Records.Status.DAMAGED && damagedReads < TORN_REREADS) {
                env.schedule(rereadDelay(), () -> holder(area, damagedReads + 1, cb));
            } else if (l.status() == Records.Status.DAMAGED) {
                cb.done(null, new StorageException(ErrorCode.CORRUPT_IMAGE, l.why() + " in " + lsName()));
            } else if (!l.valid() || !l.value().held()) {
                cb.done(Optional.empty(), null);
            } else {
                Owner o = l.value().owner();
                boolean mine = slot >= 0 && isMe(o);
                cb.done(!mine && gone(o) ? Optional.empty()
                        : Optional.of(new HostIdentity(o.id(), o.name())), null);
            }
        });
    }

    // ================================================================ leave

    /** Leaves: releases every lease, then marks the slot released. {@code cb} never gets an error. */
    public void close(Callback<Void> cb) {
        switch (phase) {
            case NEW, JOINING -> {
                closed = true;
                if (joinOp != null) {
                    joinOp.fail(new StorageException(ErrorCode.CANCELLED, "joining " + lsName() + " was cancelled"));
                }
                phase = Phase.CLOSED;
                markFenced();
                cancelTimers();
                cb.done(null, null);
            }
            case CLOSED, FENCED -> {
                closed = true;
                cb.done(null, null);
            }
            case CLOSING -> closeWaiters.add(cb);
            case JOINED -> {
                if (joinOp != null) {
                    joinOp.fail(new StorageException(ErrorCode.CANCELLED, "joining " + lsName() + " was cancelled"));
                    cb.done(null, null);
                    return;
                }
                closed = true;
                phase = Phase.CLOSING;
                closeWaiters = new ArrayList<>();
                closeWaiters.add(cb);
                failAcquires(new StorageException(ErrorCode.CANCELLED, "host " + me + " is leaving " + lsName()));
                List<LeaseImpl> leases = new ArrayList<>(held.values());
                int[] pending = {leases.size()};
                if (leases.isEmpty()) {
                    releaseSlot();
                }
                for (LeaseImpl l : leases) {
                    release(l, (v, e) -> {
                        if (--pending[0] == 0) {
                            releaseSlot();
                        }
                    });
                }
            }
            default -> throw new IllegalStateException(phase.name());
        }
    }

    private void releaseSlot() {
        if (phase != Phase.CLOSING) {
            return;
        }
        stopping = true;
        if (tickTimer != null) {
            tickTimer.cancel();
        }
        // no write of this host may land after the release record
        whenWritesDrained(() -> {
            if (phase != Phase.CLOSING) {
                return;
            }
            if (!deadlineOk()) {
                log.warn("host {} left {} without releasing slot {}: its fence deadline passed", me, lsName(), slot);
                completeClose();
                return;
            }
            byte[] data = Records.encodeSlot(geo,
                    new SlotRec(slot, true, me.id(), me.name(), generation, ++counter, env.wallMillis()));
            io(geo.slotSector(slot), 1, data, (d, e) -> {
                if (e != null) {
                    log.warn("host {} could not release slot {} of {}: {}", me, slot, lsName(), e.getMessage());
                } else {
                    log.info("host {} left {} (slot {} released)", me, lsName(), slot);
                }
                completeClose();
            });
        });
    }

    private void completeClose() {
        if (closeWaiters == null) {
            return;
        }
        if (phase == Phase.CLOSING) {
            phase = Phase.CLOSED;
        }
        markFenced();
        cancelTimers();
        List<Callback<Void>> w = closeWaiters;
        closeWaiters = null;
        for (Callback<Void> c : w) {
            c.done(null, null);
        }
    }
}

package io.strata.lease.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.api.ErrorCode;
import io.strata.lease.HostIdentity;
import io.strata.lease.LeaseSettings;
import io.strata.lease.internal.Records.Dblock;
import io.strata.lease.internal.Records.LeaderRec;
import io.strata.lease.internal.Records.Owner;
import io.strata.lease.internal.Records.SlotRec;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/**
 * Safety and liveness of the lease algorithms over many seeded runs of a simulated cluster
 * ({@link Sim}): hosts join, take, hold and release resource leases; some crash (and restart),
 * stall (their I/O stops returning, for a while or for good), leave cleanly and come back;
 * some runs start with a "ghost": a dead host from an earlier life still recorded as slot and
 * lease holder.
 *
 * <p>Checked after every event: no two hosts both believe they hold the same area while both
 * are valid; no two valid joined hosts share a slot. Checked per run: the leases of a crashed
 * (or for good stalled) host, and of a ghost, are taken by another host within a bound; every
 * area keeps being acquired; the steady host (never faulty) joins and never fences.
 *
 * <p>{@code -Dlease.sim.runs=N} sets the number of runs (default 3000),
 * {@code -Dlease.sim.seed=S} the first seed; a failure names its seed and the run's last events.
 */
class LeaseSimulationTest {
    static final int RUNS = Integer.getInteger("lease.sim.runs", 3000);
    static final long FIRST_SEED = Long.getLong("lease.sim.seed", 1);
    static final long MS = 1_000_000;
    static final long SEC = 1_000 * MS;

    /** (renewal, expiry, io timeout) in ms; the second is the tightest LeaseSettings allows. */
    static final long[][] TIMINGS = {{100, 1000, 200}, {100, 400, 200}, {50, 300, 100}, {100, 600, 300}};

    static final class Stats {
        long runs;
        long events;
        long acquisitions;
        long crashTakeovers;
        long stallTakeovers;
        long ghostTakeovers;
        long fences;
        long crashes;
        long stalls;
        long leaves;
        long joins;
        long held;
        long maxTakeoverMs;

        void add(Stats o) {
            runs += o.runs;
            events += o.events;
            acquisitions += o.acquisitions;
            crashTakeovers += o.crashTakeovers;
            stallTakeovers += o.stallTakeovers;
            ghostTakeovers += o.ghostTakeovers;
            fences += o.fences;
            crashes += o.crashes;
            stalls += o.stalls;
            leaves += o.leaves;
            joins += o.joins;
            held += o.held;
            maxTakeoverMs = Math.max(maxTakeoverMs, o.maxTakeoverMs);
        }

        @Override
        public String toString() {
            return runs + " runs, " + events + " events, " + joins + " joins, " + acquisitions + " acquisitions, "
                    + crashes + " crashes, " + stalls + " stalls, " + leaves + " clean leaves, " + fences
                    + " self-fences, takeovers from crashed/stalled/ghost holders: " + crashTakeovers + "/"
                    + stallTakeovers + "/" + ghostTakeovers + " (slowest " + maxTakeoverMs + " ms after the fault)";
        }
    }

    @Test
    void noTwoValidHoldersAndDeadHoldersAreTakenOver() {
        Stats total = new Stats();
        long t = System.nanoTime();
        for (int i = 0; i < RUNS; i++) {
            Run r = new Run(FIRST_SEED + i);
            try {
                r.run();
            } catch (AssertionError e) {
                throw replay(FIRST_SEED + i, e);
            }
            total.add(r.stats);
        }
        System.out.printf("lease simulation: %s; %.1f s%n", total, (System.nanoTime() - t) / 1e9);
        if (RUNS >= 200) {
            assertTrue(total.crashTakeovers > 0, "no takeover from a crashed host happened: " + total);
            assertTrue(total.stallTakeovers > 0, "no takeover from a stalled host happened: " + total);
            assertTrue(total.ghostTakeovers > 0, "no takeover from a ghost happened: " + total);
            assertTrue(total.fences > 0, "no host fenced itself: " + total);
        }
    }

    /**
     * The same runs over storage whose reads can tear against a concurrent write of the same
     * sector (a file LUN through the page cache): a host reads its own slot while renewing it
     * (scan and renewal go out on the same tick), and contending hosts read the ballot blocks
     * others are writing. A torn record is not damage: no host may fence itself over one, and
     * no acquisition may fail as CORRUPT_IMAGE.
     */
    @Test
    void tornReadsAreNotMistakenForDamage() {
        Stats total = new Stats();
        long t = System.nanoTime();
        int runs = Math.max(1, RUNS / 6);
        for (int i = 0; i < runs; i++) {
            long seed = FIRST_SEED + 1_000_000 + i;
            Run r = new Run(seed, true);
            try {
                r.run();
            } catch (AssertionError e) {
                throw replay(seed, true, e);
            }
            total.add(r.stats);
        }
        System.out.printf("lease simulation with torn reads: %s; %.1f s%n", total, (System.nanoTime() - t) / 1e9);
        assertTrue(total.acquisitions > 0, "nothing was acquired: " + total);
    }

    static AssertionError replay(long seed, AssertionError first) {
        return replay(seed, false, first);
    }

    /** Runs a failed seed again with the engines' log lines in the trace. */
    static AssertionError replay(long seed, boolean torn, AssertionError first) {
        Run again = new Run(seed, torn);
        again.sim.logger = Sim.tracer(line -> again.log(line));
        try {
            again.run();
        } catch (AssertionError e) {
            return e;
        }
        return first;
    }

    @Test
    void aSeedAlwaysGivesTheSameHistory() {
        for (long seed : new long[] {7, 42}) {
            Run a = new Run(seed);
            a.run();
            Run b = new Run(seed);
            b.run();
            assertEquals(a.stats.events, b.stats.events);
            assertEquals(String.join("\n", a.trace), String.join("\n", b.trace));
        }
    }

    /** One simulated history. */
    static final class Run {
        final long seed;
        final Sim sim;
        final long renewal;
        final long expiry;
        final long io;
        final LeaseSettings settings;
        final Geometry geo;
        final Sim.Disk disk;
        final List<Host> hosts = new ArrayList<>();
        final long end = 9 * SEC;
        final long bound;
        final long gapBound;
        final List<Expect> expects = new ArrayList<>();
        /** When faults began: a fault during a takeover (the new owner crashing...) delays it legitimately. */
        final List<Long> faults = new ArrayList<>();
        final long[] lastAcquired;
        final ArrayDeque<String> trace = new ArrayDeque<>();
        final Stats stats = new Stats();
        final int[] areaOwner;
        final int[] slotOwner;

        final class Host {
            final int idx;
            final HostIdentity id;
            final Sim.Machine m;
            Engine engine;
            int inc;
            final List<LeaseImpl> leases = new ArrayList<>();
            int nextArea;

            Host(int idx, boolean steady) {
                this.idx = idx;
                this.id = new HostIdentity(new UUID(sim.rnd.nextLong(), sim.rnd.nextLong()), "h" + idx);
                this.m = sim.new Machine("h" + idx, disk, io, steady);
            }

            boolean steady() {
                return m.steady;
            }
        }

        /** A lease held by a host that crashed or stalled for good: someone else must take it. */
        static final class Expect {
            final int area;
            final long at;
            final int host;
            final int inc;
            final String why;
            long met = -1;

            Expect(int area, long at, int host, int inc, String why) {
                this.area = area;
                this.at = at;
                this.host = host;
                this.inc = inc;
                this.why = why;
            }
        }

        Run(long seed) {
            this(seed, false);
        }

        Run(long seed, boolean tornReads) {
            this.seed = seed;
            this.sim = new Sim(seed);
            sim.tornReads = tornReads;
            long[] t = TIMINGS[sim.rnd.nextInt(TIMINGS.length)];
            renewal = t[0] * MS;
            expiry = t[1] * MS;
            io = t[2] * MS;
            settings = new LeaseSettings(Duration.ofNanos(renewal), Duration.ofNanos(expiry), Duration.ofNanos(io));
            int n = 2 + sim.rnd.nextInt(3);
            boolean ghost = sim.rnd.nextInt(4) == 0;
            int maxHosts = n + (ghost ? 1 : sim.rnd.nextInt(2));
            int areas = 1 + sim.rnd.nextInt(3);
            geo = new Geometry("sim", 512, maxHosts, areas);
            disk = sim.new Disk(512, geo.totalSectors());
            bound = expiry + 10 * renewal + 4 * io;
            gapBound = 1500 * MS + expiry + io + bound + 500 * MS;
            lastAcquired = new long[areas];
            areaOwner = new int[areas];
            slotOwner = new int[maxHosts];
            for (int i = 0; i < n; i++) {
                hosts.add(new Host(i, i == 0));
            }
            if (ghost) {
                plantGhost(maxHosts - 1);
            }
        }

        /** A dead host from an earlier life: its slot, and the leases it held, as it left them. */
        void plantGhost(int slot) {
            UUID gid = new UUID(sim.rnd.nextLong(), sim.rnd.nextLong());
            long gen = 1 + sim.rnd.nextInt(5);
            disk.preset(geo.slotSector(slot),
                    Records.encodeSlot(geo, new SlotRec(slot, false, gid, "ghost", gen, 77, 0)));
            Owner o = new Owner(slot, gid, gen, "ghost");
            for (int a = 0; a < geo.areas(); a++) {
                if (sim.rnd.nextBoolean()) {
                    continue;
                }
                long lver = 1 + sim.rnd.nextInt(3);
                long bal = (long) geo.maxHosts() * (1 + sim.rnd.nextInt(3)) + slot + 1;
                disk.preset(geo.areaSector(a) + 1 + slot,
                        Records.encodeDblock(geo, new Dblock(a, slot, lver, bal, bal, o)));
                boolean leaderWritten = sim.rnd.nextInt(4) != 0;
                if (leaderWritten) {
                    disk.preset(geo.areaSector(a), Records.encodeLeader(geo, new LeaderRec(a, true, lver, o, "vm-" + a, 0)));
                } else if (lver > 1) {
                    disk.preset(geo.areaSector(a),
                            Records.encodeLeader(geo, new LeaderRec(a, false, lver - 1, o, "vm-" + a, 0)));
                }
                expects.add(new Expect(a, 0, -1, 0, "ghost"));
            }
        }

        void log(String what) {
            if (trace.size() == 1500) {
                trace.removeFirst();
            }
            trace.addLast(String.format("%9.3f ms %s", sim.now / 1e6, what));
        }

        AssertionError failure(String what) {
            return new AssertionError("seed " + seed + " (renewal " + renewal / MS + " ms, expiry " + expiry / MS
                    + " ms, io " + io / MS + " ms, " + hosts.size() + " hosts, " + geo.maxHosts() + " slots, "
                    + geo.areas() + " areas) at " + sim.now / 1e6 + " ms: " + what + "\nlast events:\n"
                    + String.join("\n", trace));
        }

        void later(Host h, long delay, Runnable task) {
            Engine e = h.engine;
            sim.at(sim.now + delay, () -> {
                if (h.engine == e && !h.m.crashed) {
                    task.run();
                }
            });
        }

        // ------------------------------------------------------------ the plan

        void run() {
            long faultEnd = end - bound - 300 * MS;
            for (Host h : hosts) {
                sim.at(sim.uniform(0, 300 * MS), () -> start(h));
                if (h.steady()) {
                    continue;
                }
                int p = sim.rnd.nextInt(100);
                long at = sim.uniform(300 * MS, faultEnd);
                if (p < 35) {
                    boolean restart = sim.rnd.nextInt(10) < 7;
                    long after = sim.uniform(0, 2 * SEC);
                    sim.at(at, () -> crash(h, restart, after));
                } else if (p < 65) {
                    int kind = sim.rnd.nextInt(3);
                    long len = kind == 0 ? sim.uniform(50 * MS, 500 * MS)
                            : kind == 1 ? sim.uniform(expiry + io, 3 * SEC) : Long.MAX_VALUE;
                    h.m.stallFrom = at;
                    h.m.stallTo = len == Long.MAX_VALUE ? Long.MAX_VALUE : at + len;
                    sim.at(at, () -> stall(h, len));
                } else if (p < 80) {
                    sim.at(at, () -> leave(h, sim.uniform(0, SEC)));
                }
            }
            while (sim.step(end)) {
                check();
            }
            finish();
        }

        void start(Host h) {
            h.inc = ++h.m.incarnation;
            h.leases.clear();
            Env env = h.m.env(h.inc, io);
            Engine[] self = new Engine[1];
            Engine e = new Engine(env, geo, h.id, settings, () -> fenced(h, self[0]));
            self[0] = e;
            h.engine = e;
            log(h.id.name() + " starts (incarnation " + h.inc + ")");
            e.join((v, err) -> {
                if (h.engine != e) {
                    return;
                }
                if (err != null) {
                    log(h.id.name() + " could not join: " + err.getMessage());
                    if (h.steady() && err.code() != ErrorCode.CANCELLED) {
                        throw failure("the steady host could not join: " + err.toUserString());
                    }
                    later(h, sim.uniform(100 * MS, SEC), () -> start(h));
                    return;
                }
                stats.joins++;
                log(h.id.name() + " joined in slot " + e.slot() + " generation " + e.generation());
                act(h);
            });
        }

        void fenced(Host h, Engine e) {
            stats.fences++;
            log(h.id.name() + " fenced: " + e.fenceReason());
            if (h.steady()) {
                throw failure("the steady host fenced itself: " + e.fenceReason());
            }
            if (h.engine == e) {
                h.leases.clear();
                later(h, sim.uniform(0, SEC), () -> start(h));
            }
        }

        void crash(Host h, boolean restart, long after) {
            stats.crashes++;
            faults.add(sim.now);
            log(h.id.name() + " crashes" + (restart ? ", restarts after " + after / MS + " ms" : ""));
            expectTakeover(h, "crash");
            h.m.crash();
            h.leases.clear();
            h.engine = null;
            if (restart) {
                sim.at(sim.now + after, () -> {
                    h.m.crashed = false;
                    start(h);
                });
            }
        }

        void stall(Host h, long len) {
            stats.stalls++;
            faults.add(sim.now);
            log(h.id.name() + " stalls for " + (len == Long.MAX_VALUE ? "ever" : len / MS + " ms"));
            if (len >= expiry + io) {
                expectTakeover(h, "stall");
            }
        }

        void leave(Host h, long after) {
            Engine e = h.engine;
            if (e == null) {
                return;
            }
            stats.leaves++;
            faults.add(sim.now);
            log(h.id.name() + " leaves");
            h.leases.clear();
            e.close((v, err) -> {
                log(h.id.name() + " left");
                later(h, after, () -> start(h));
            });
        }

        void expectTakeover(Host h, String why) {
            for (LeaseImpl l : h.leases) {
                if (l.valid()) {
                    expects.add(new Expect(l.area(), sim.now, h.idx, h.inc, why));
                }
            }
        }

        // ------------------------------------------------------------ the application

        void act(Host h) {
            Engine e = h.engine;
            int area;
            long wait;
            if (h.steady()) {
                area = h.nextArea++ % geo.areas();
                wait = 0;
            } else {
                area = sim.rnd.nextInt(geo.areas());
                wait = sim.rnd.nextInt(10) < 3 ? 0 : sim.uniform(0, 1500 * MS);
                if (sim.tornReads && sim.rnd.nextBoolean()) {
                    // who holds it (as the filesystem's checker asks), read while others write it
                    e.holder(area, (who, err) -> {
                        if (err != null && err.code() == ErrorCode.CORRUPT_IMAGE) {
                            throw failure(h.id.name() + " was told the leader of area " + area + " is damaged: "
                                    + err.toUserString());
                        }
                    });
                }
            }
            e.acquire(area, "vm-" + area, wait, (l, err) -> {
                if (h.engine != e) {
                    return;
                }
                if (l == null) {
                    if (sim.logger != org.slf4j.helpers.NOPLogger.NOP_LOGGER) {
                        log(h.id.name() + " did not get area " + area + ": " + err.toUserString());
                    }
                    if (err.code() == ErrorCode.CORRUPT_IMAGE) {
                        // the simulated disk is never damaged: only a misread record can say so
                        throw failure(h.id.name() + " was told area " + area + " is damaged: " + err.toUserString());
                    }
                    if (err.code() != ErrorCode.DEVICE_UNAVAILABLE && err.code() != ErrorCode.CANCELLED) {
                        later(h, h.steady() ? renewal / 2 : sim.uniform(0, 300 * MS), () -> act(h));
                    }
                    return;
                }
                acquired(h, l);
                long hold = h.steady() ? renewal : sim.uniform(0, 1500 * MS);
                later(h, hold, () -> {
                    h.leases.remove(l);
                    log(h.id.name() + " releases area " + l.area());
                    e.release(l, (v, x) -> later(h, h.steady() ? renewal / 2 : sim.uniform(0, 300 * MS),
                            () -> act(h)));
                });
            });
        }

        void acquired(Host h, LeaseImpl l) {
            stats.acquisitions++;
            log(h.id.name() + " acquires area " + l.area() + " (version " + l.lver() + ")");
            h.leases.add(l);
            int a = l.area();
            if (sim.now - lastAcquired[a] > allowedGap(lastAcquired[a], sim.now)) {
                throw failure("area " + a + " was not acquired for " + (sim.now - lastAcquired[a]) / MS + " ms");
            }
            lastAcquired[a] = sim.now;
            for (Expect x : expects) {
                if (x.met < 0 && x.area == a && (x.host != h.idx || x.inc != h.inc)) {
                    x.met = sim.now;
                    long took = (sim.now - x.at) / MS;
                    stats.maxTakeoverMs = Math.max(stats.maxTakeoverMs, took);
                    switch (x.why) {
                        case "crash" -> stats.crashTakeovers++;
                        case "stall" -> stats.stallTakeovers++;
                        default -> stats.ghostTakeovers++;
                    }
                }
            }
        }

        /** The longest an area may go without an acquisition: longer for each fault meanwhile. */
        long allowedGap(long from, long to) {
            long n = faults.stream().filter(f -> f > from && f < to).count();
            return gapBound + n * bound;
        }

        // ------------------------------------------------------------ the oracle

        void check() {
            Arrays.fill(areaOwner, -1);
            Arrays.fill(slotOwner, -1);
            for (Host h : hosts) {
                Engine e = h.engine;
                if (e == null || h.m.crashed) {
                    continue;
                }
                for (LeaseImpl l : h.leases) {
                    if (l.valid()) {
                        int o = areaOwner[l.area()];
                        if (o >= 0 && o != h.idx) {
                            throw failure("hosts h" + o + " and " + h.id.name() + " both hold area " + l.area()
                                    + " and are both valid");
                        }
                        areaOwner[l.area()] = h.idx;
                    }
                }
                if (e.phase() == Engine.Phase.JOINED && e.valid()) {
                    int o = slotOwner[e.slot()];
                    if (o >= 0) {
                        throw failure("hosts h" + o + " and " + h.id.name() + " both hold slot " + e.slot());
                    }
                    slotOwner[e.slot()] = h.idx;
                }
            }
        }

        void finish() {
            stats.runs = 1;
            stats.events = sim.events;
            for (Host h : hosts) {
                if (h.engine != null) {
                    stats.held += h.leases.size();
                }
            }
            for (Expect x : expects) {
                long limit = x.why.equals("ghost") ? 2 * bound : bound;
                long due = x.at + limit;
                for (long f : faults) {
                    if (f > x.at && f < due) {
                        due = Math.max(due, f + bound);
                    }
                }
                if (due > end) {
                    continue;
                }
                if (x.met < 0 || x.met > due) {
                    throw failure("area " + x.area + " held by h" + x.host + " at its " + x.why + " at "
                            + x.at / 1e6 + " ms was " + (x.met < 0 ? "never taken over"
                                    : "taken over only after " + (x.met - x.at) / MS + " ms")
                            + " (due " + (due - x.at) / MS + " ms after it)");
                }
            }
            Host steady = hosts.get(0);
            if (steady.engine == null || steady.engine.phase() != Engine.Phase.JOINED) {
                throw failure("the steady host is not joined at the end");
            }
            for (int a = 0; a < geo.areas(); a++) {
                if (end - lastAcquired[a] > allowedGap(lastAcquired[a], end)) {
                    throw failure("area " + a + " was not acquired since " + lastAcquired[a] / 1e6 + " ms");
                }
            }
        }
    }
}

package io.strata.lease.internal;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import java.util.ArrayList;
import java.util.List;
import java.util.PriorityQueue;
import java.util.Random;
import org.slf4j.Logger;
import org.slf4j.helpers.NOPLogger;

/**
 * A deterministic discrete-event simulation of hosts sharing one disk. One seed gives one
 * history: all randomness comes from one {@link Random} consumed in event order.
 *
 * <p>The disk: a write of a sector lands (becomes visible) at one random instant between its
 * issue and its return, and never later than {@code landBound} after its issue (the storage
 * path's bounded latency the timing argument assumes). A read returns, for each sector on its
 * own, the content at a random instant between its issue and its return; while the write that
 * produced that content has not returned yet (and is younger than the landing bound), the read
 * may still see the previous content (regular-register semantics), or, with {@link #tornReads},
 * a torn mix of both. A host crash cuts its writes that have not landed yet: each
 * lands or not, at random. A stalled host's I/O does not return until the stall ends (never,
 * for an endless stall); a write caught by a stall lands (within the bound) or is lost.
 */
final class Sim {
    /** An event; cancelling it keeps it from running. */
    static final class Event implements Env.Timer, Comparable<Event> {
        final long at;
        final long seq;
        final Runnable task;
        boolean cancelled;

        Event(long at, long seq, Runnable task) {
            this.at = at;
            this.seq = seq;
            this.task = task;
        }

        @Override
        public void cancel() {
            cancelled = true;
        }

        @Override
        public int compareTo(Event o) {
            return at != o.at ? Long.compare(at, o.at) : Long.compare(seq, o.seq);
        }
    }

    final Random rnd;
    /** Where the engines log: nowhere, or a trace (for replaying a failed seed). */
    Logger logger = NOPLogger.NOP_LOGGER;
    long now;
    private long seq;
    private final PriorityQueue<Event> queue = new PriorityQueue<>();
    long events;
    /**
     * Whether a read that races a write of the same sector may return a torn sector: the new
     * content up to some byte, the old after it, as a file LUN gives (a buffered read does not
     * wait for a concurrent write of the same page to finish copying).
     */
    boolean tornReads;

    Sim(long seed) {
        this.rnd = new Random(seed);
    }

    Event at(long time, Runnable task) {
        Event e = new Event(Math.max(time, now), seq++, task);
        queue.add(e);
        return e;
    }

    /** Runs the next event if it is due by {@code end}; @return false when there is none. */
    boolean step(long end) {
        Event e = queue.peek();
        if (e == null || e.at > end) {
            return false;
        }
        queue.poll();
        now = e.at;
        if (!e.cancelled) {
            events++;
            e.task.run();
        }
        return true;
    }

    /** @return a logger that hands info, warn and error lines to {@code sink} */
    static Logger tracer(java.util.function.Consumer<String> sink) {
        return (Logger) java.lang.reflect.Proxy.newProxyInstance(Sim.class.getClassLoader(),
                new Class<?>[] {Logger.class}, (proxy, method, args) -> {
                    String n = method.getName();
                    boolean on = n.startsWith("info") || n.startsWith("warn") || n.startsWith("error");
                    if (n.startsWith("is")) {
                        return on;
                    }
                    if (n.equals("getName")) {
                        return "sim";
                    }
                    if (n.equals("toString") || n.equals("hashCode") || n.equals("equals")) {
                        return n.equals("toString") ? "sim" : n.equals("hashCode") ? 0 : proxy == args[0];
                    }
                    if (on && args != null && args.length > 0 && args[0] instanceof String fmt) {
                        Object[] rest;
                        if (args.length == 2 && args[1] instanceof Object[] arr) {
                            rest = arr;
                        } else {
                            rest = java.util.Arrays.copyOfRange(args, 1, args.length);
                        }
                        sink.accept(n + ": " + org.slf4j.helpers.MessageFormatter.arrayFormat(fmt, rest).getMessage());
                    }
                    return null;
                });
    }

    long uniform(long lo, long hi) {
        return hi <= lo ? lo : lo + (long) (rnd.nextDouble() * (hi - lo));
    }

    // ================================================================ the shared disk

    static final class Version {
        final long land;
        final long end;
        final byte[] data;

        Version(long land, long end, byte[] data) {
            this.land = land;
            this.end = end;
            this.data = data;
        }
    }

    final class Disk {
        final int sectorSize;
        final List<List<Version>> history = new ArrayList<>();
        final byte[] zero;

        Disk(int sectorSize, long sectors) {
            this.sectorSize = sectorSize;
            this.zero = new byte[sectorSize];
            for (long i = 0; i < sectors; i++) {
                history.add(new ArrayList<>());
            }
        }

        /** Puts content at once, before the run (stale state). */
        void preset(long sector, byte[] data) {
            history.get((int) sector).add(new Version(-1, -1, data.clone()));
        }

        void land(long sector, long end, byte[] data) {
            history.get((int) sector).add(new Version(now, end, data));
        }

        byte[] valueAt(long sector, long t) {
            List<Version> h = history.get((int) sector);
            for (int i = h.size() - 1; i >= 0; i--) {
                Version v = h.get(i);
                if (v.land <= t) {
                    if (t < v.end) {
                        int p = rnd.nextInt(10);
                        byte[] old = i > 0 ? h.get(i - 1).data : zero;
                        if (p < 3) {
                            return old;
                        }
                        if (tornReads && p < 6) {
                            byte[] torn = old.clone();
                            int cut = 1 + rnd.nextInt(sectorSize - 1);
                            System.arraycopy(v.data, 0, torn, 0, cut);
                            return torn;
                        }
                    }
                    return v.data;
                }
            }
            return zero;
        }

        /** The content a read issued now would certainly see (for test assertions). */
        byte[] current(long sector) {
            List<Version> h = history.get((int) sector);
            return h.isEmpty() ? zero : h.get(h.size() - 1).data;
        }
    }

    // ================================================================ a host's view of the world

    /** A simulated machine: its clock, its I/O behaviour and its faults. */
    final class Machine {
        final String name;
        final double rate;
        final long offset;
        final long landBound;
        final boolean steady;
        final Disk disk;
        int incarnation;
        boolean crashed;
        long stallFrom = Long.MAX_VALUE;
        long stallTo = Long.MAX_VALUE;
        final List<Pending> pending = new ArrayList<>();

        Machine(String name, Disk disk, long ioTimeout, boolean steady) {
            this.name = name;
            this.disk = disk;
            this.steady = steady;
            this.rate = 1 + (rnd.nextDouble() - 0.5) * 2e-4;
            this.offset = rnd.nextLong() >>> 4;
            this.landBound = ioTimeout * 95 / 100;
        }

        long local() {
            return offset + (long) (now * rate);
        }

        long toGlobal(long localDelay) {
            return (long) Math.ceil(localDelay / rate) + 1;
        }

        long latency(long ioTimeout) {
            int p = rnd.nextInt(1000);
            if (p < 900) {
                return uniform(200_000, 3_000_000);
            }
            if (p < 990 || steady) {
                return uniform(3_000_000, ioTimeout * 4 / 10);
            }
            return uniform(ioTimeout * 4 / 10, ioTimeout * 2);
        }

        /** @return the return time of an I/O issued now that would return at {@code end}, or MAX */
        long stalled(long end) {
            if (now >= stallFrom && now < stallTo || now < stallFrom && end > stallFrom) {
                return stallTo == Long.MAX_VALUE ? Long.MAX_VALUE : Math.max(end, stallTo + uniform(0, 1_000_000));
            }
            return end;
        }

        void crash() {
            crashed = true;
            for (Pending p : pending) {
                if (rnd.nextBoolean()) {
                    p.landing.cancel();
                }
            }
            pending.clear();
        }

        Env env(int inc, long ioTimeout) {
            return new MachineEnv(this, inc, ioTimeout);
        }
    }

    static final class Pending {
        Event landing;
    }

    /** The {@link Env} of one incarnation (process) on a machine: dead once the machine crashes. */
    final class MachineEnv implements Env {
        private final Machine m;
        private final int inc;
        private final long ioTimeout;

        MachineEnv(Machine m, int inc, long ioTimeout) {
            this.m = m;
            this.inc = inc;
            this.ioTimeout = ioTimeout;
        }

        boolean alive() {
            return !m.crashed && m.incarnation == inc;
        }

        @Override
        public long now() {
            return m.local();
        }

        @Override
        public Timer schedule(long delayNanos, Runnable task) {
            return at(now + m.toGlobal(Math.max(0, delayNanos)), () -> {
                if (alive()) {
                    task.run();
                }
            });
        }

        @Override
        public void read(long sector, int count, IoCallback callback) {
            long s = now;
            long e = m.stalled(s + m.latency(ioTimeout));
            if (e == Long.MAX_VALUE) {
                return;
            }
            boolean fail = injectError();
            at(e, () -> {
                if (!alive()) {
                    return;
                }
                if (fail) {
                    callback.done(null, new StorageException(ErrorCode.IO_ERROR, "simulated read error"));
                    return;
                }
                int ss = m.disk.sectorSize;
                byte[] out = new byte[count * ss];
                for (int i = 0; i < count; i++) {
                    System.arraycopy(m.disk.valueAt(sector + i, uniform(s, e + 1)), 0, out, i * ss, ss);
                }
                callback.done(out, null);
            });
        }

        @Override
        public void write(long sector, byte[] data, IoCallback callback) {
            long s = now;
            long natural = s + m.latency(ioTimeout);
            long e = m.stalled(natural);
            boolean fail = injectError();
            boolean lost = (e != natural || fail) && rnd.nextBoolean();
            byte[] copy = data.clone();
            if (!lost) {
                long settled = Math.min(e, s + m.landBound);
                long land = uniform(s, settled + 1);
                Pending p = new Pending();
                long end = settled;
                p.landing = at(land, () -> {
                    m.pending.remove(p);
                    m.disk.land(sector, end, copy);
                });
                m.pending.add(p);
            }
            if (e != Long.MAX_VALUE) {
                at(e, () -> {
                    if (alive()) {
                        // a write that returns success has landed; a lost one returns an error
                        callback.done(null, fail || lost ? new StorageException(ErrorCode.IO_ERROR,
                                "simulated write error") : null);
                    }
                });
            }
        }

        private boolean injectError() {
            return !m.steady && rnd.nextInt(500) == 0;
        }

        @Override
        public void runFenceListener(Runnable listener) {
            at(now, () -> {
                if (alive()) {
                    listener.run();
                }
            });
        }

        @Override
        public long wallMillis() {
            return now / 1_000_000;
        }

        @Override
        public long random(long bound) {
            return bound <= 1 ? 0 : (long) (rnd.nextDouble() * bound);
        }

        @Override
        public Logger log() {
            return logger;
        }
    }
}

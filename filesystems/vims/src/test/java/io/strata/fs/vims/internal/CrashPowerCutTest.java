package io.strata.fs.vims.internal;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.strata.api.format.CheckReport;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Power cuts at every point of a metadata-heavy workload, in this JVM: the workload runs once
 * to count the filesystem's writes, then again and again on a fresh copy of the LUN with the
 * power cut at write N (that write dropped or torn, nothing after it reaching the disk), for N
 * spread over the whole run. After each cut the host is closed, the LUN checked offline with
 * repair (which replays the journals) and then without (it must be clean), and mounted by
 * another host, which must see every acknowledged operation and nothing else: at most the one
 * operation the cut interrupted, half done in the ways its contract allows.
 *
 * <p>{@code -Dstrata.crash.points=N} sets the number of cut points (default 200),
 * {@code -Dstrata.crash.seed} the workload.
 */
class CrashPowerCutTest {
    static final int OPS = Integer.getInteger("strata.crash.ops", 45);
    static final int POINTS = Integer.getInteger("strata.crash.points", 200);
    static final long SEED = Long.getLong("strata.crash.seed", 20240611L);
    static final int THREADS = Integer.getInteger("strata.crash.threads", 3);
    /** What the repair run may find after a crash: journals not yet replayed (or their header torn), nothing else. */
    static final Pattern EXPECTED = Pattern.compile("the journal of slot \\d+ holds \\d+ page\\(s\\) not yet replayed"
            + "|the journal header of slot \\d+ was torn by a crash while it was rewritten");

    /** Cuts after which the LUN does not mount until a journal is replayed (reported, not failed). */
    static final java.util.Queue<String> UNMOUNTABLE = new java.util.concurrent.ConcurrentLinkedQueue<>();
    @TempDir
    static Path dir;
    static CrashWorkload.Template template;
    static CrashWorkload.Plan plan;

    @BeforeAll
    static void formatOnce() {
        template = CrashWorkload.Template.format(dir.resolve("template"));
        plan = CrashWorkload.plan(SEED, OPS);
    }

    /** The outcome of one run. */
    record Outcome(long cutAt, long writes, int cutOp, String cutWhat, boolean fenced, String problem) {
    }

    @Test
    void everyPowerCutLeavesAConsistentFilesystemWithEveryAcknowledgedWrite() throws Exception {
        long t0 = System.nanoTime();
        Outcome baseline = run(0, 0, false);
        if (baseline.problem() != null) {
            fail("without a power cut: " + baseline.problem());
        }
        long total = baseline.writes();
        assertTrue(total > 0, "the workload wrote nothing");
        // cut point i: write 1 + i * total / points (every write, once torn and once dropped, when there are
        // enough points); even points tear their write, odd ones drop it
        List<Long> cuts = new ArrayList<>();
        int points = (int) Math.min(POINTS, 2 * total);
        for (int i = 0; i < points; i++) {
            cuts.add(1 + (i * total + (i % 2) * total / 2) / points);
        }
        System.out.printf("CrashPowerCutTest: %d operations, %d filesystem writes without a cut (%d ms); %d cut points%n",
                plan.ops().size(), total, (System.nanoTime() - t0) / 1_000_000, cuts.size());
        ExecutorService pool = Executors.newFixedThreadPool(THREADS, r -> {
            Thread t = new Thread(r, "crash-power-cut");
            t.setDaemon(true);
            return t;
        });
        List<Future<Outcome>> futures = new ArrayList<>();
        AtomicInteger id = new AtomicInteger();
        for (int i = 0; i < cuts.size(); i++) {
            long n = cuts.get(i);
            boolean tear = i % 2 == 0;
            futures.add(pool.submit(() -> run(id.incrementAndGet(), n, tear)));
        }
        List<String> failures = new ArrayList<>();
        Map<String, Integer> byOp = new TreeMap<>();
        int fenced = 0;
        try {
            for (Future<Outcome> f : futures) {
                Outcome o;
                try {
                    o = f.get(120, TimeUnit.SECONDS);
                } catch (TimeoutException e) {
                    failures.add("a run took more than 120 s (hung?)");
                    continue;
                }
                if (o.fenced()) {
                    fenced++;
                }
                String where = o.cutOp() < 0 ? "mount" : o.cutOp() >= plan.ops().size() ? "unmount"
                        : plan.ops().get(o.cutOp()).kind().name();
                byOp.merge(where, 1, Integer::sum);
                if (o.problem() != null) {
                    failures.add("cut at write " + o.cutAt() + " (" + o.cutWhat() + ", during "
                            + (o.cutOp() >= 0 && o.cutOp() < plan.ops().size() ? plan.ops().get(o.cutOp()) : where)
                            + "): " + o.problem());
                }
            }
        } finally {
            pool.shutdownNow();
        }
        System.out.printf("CrashPowerCutTest: %d cuts in %d s, by interrupted operation %s, %d runs fenced before the cut%n",
                cuts.size(), (System.nanoTime() - t0) / 1_000_000_000, byOp, fenced);
        if (!UNMOUNTABLE.isEmpty()) {
            System.out.printf("CrashPowerCutTest: after %d cuts the LUN needs its journals replayed (datastore-check"
                    + " --repair, or a live host) before a host can mount it, e.g. %s%n", UNMOUNTABLE.size(),
                    UNMOUNTABLE.peek());
        }
        if (!failures.isEmpty()) {
            fail(failures.size() + " of " + cuts.size() + " power cuts went wrong:\n" + String.join("\n", failures));
        }
        assertTrue(fenced <= cuts.size() / 4, "too many runs fenced before their cut (" + fenced + "): the timings are too tight");
    }

    /** One run: the workload on a fresh LUN with the power cut at filesystem write {@code cutAt} (0: none), then recovery and checks. */
    private Outcome run(int id, long cutAt, boolean tear) throws Exception {
        Path lun = dir.resolve("lun-" + id);
        template.copyTo(lun);
        CrashDevice dev = new CrashDevice(lun, template, cutAt, tear, cutAt * 31 + id);
        AtomicBoolean fence = new AtomicBoolean();
        int interrupted = plan.ops().size(); // the op the crash interrupted: none unless told otherwise
        boolean fencedBeforeCut = false;
        try {
            Vims a = null;
            try {
                dev.op = -1;
                a = CrashWorkload.mount(dev, "a", () -> fence.set(true));
                for (int k = 0; k < plan.ops().size(); k++) {
                    dev.op = k;
                    try {
                        CrashWorkload.run(a, plan.ops().get(k));
                    } catch (RuntimeException e) {
                        if (dev.isCut()) {
                            break; // after a power cut anything may fail
                        }
                        if (fence.get()) {
                            fencedBeforeCut = true; // this host stopped writing here: a crash like any other
                            interrupted = k;
                            break;
                        }
                        return new Outcome(cutAt, dev.writes(), k, "", false, "op " + plan.ops().get(k)
                                + " failed before any cut: " + e);
                    }
                    if (dev.isCut()) {
                        break; // the process goes on, but nothing it does reaches the disk
                    }
                }
                dev.op = plan.ops().size();
            } catch (RuntimeException e) {
                if (!dev.isCut()) {
                    return new Outcome(cutAt, dev.writes(), -1, "", false, "mount failed: " + e);
                }
            } finally {
                if (a != null) {
                    a.close(); // never throws; after the cut nothing it writes lands
                }
            }
            if (dev.isCut()) {
                interrupted = dev.cutOp;
            }
            long writes = dev.writes();
            String problem = recover(lun, dev, interrupted, id % 2 == 1);
            return new Outcome(cutAt, writes, interrupted, dev.cutWhat, fencedBeforeCut, problem);
        } catch (RuntimeException | AssertionError e) {
            return new Outcome(cutAt, dev.writes(), interrupted, dev.cutWhat, fencedBeforeCut, e.toString());
        } finally {
            dev.close();
            Files.deleteIfExists(lun);
        }
    }

    /**
     * Every other run: offline repair, offline check, then another host checks every acknowledged
     * operation; the others: another host mounts at once and checks, then the offline check.
     */
    private String recover(Path lun, CrashDevice cut, int interrupted, boolean direct) {
        CrashDevice real = new CrashDevice(lun, template, 0, false, 0);
        try {
            try {
                Disk disk = new Disk(real); // a host mounts it before any journal is replayed
                Vims.validate(disk, Vims.readSuperblock(disk));
            } catch (RuntimeException e) {
                UNMOUNTABLE.add(cut.cutWhat + ": " + e.getMessage());
                return "a host cannot mount the LUN after the cut: " + e.getMessage();
            }
            if (direct) {
                // half the runs: no checker first; another host mounts (replaying the dead host's
                // journal once its heartbeat expired), finds every acknowledged operation, and the
                // filesystem it leaves is clean
                Vims b = CrashWorkload.mount(real, "b", () -> {
                });
                String problem;
                try {
                    problem = CrashWorkload.verify(b, plan.before(interrupted), plan.after(interrupted));
                    // the crashed host's journal is replayed once its heartbeat expired
                    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
                    while (b.awaitingReplay() && System.nanoTime() < end) {
                        Thread.sleep(50);
                    }
                    if (problem == null && b.awaitingReplay()) {
                        problem = "the crashed host's journal was not replayed within 60 s";
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    problem = "interrupted";
                } finally {
                    b.close();
                }
                if (problem != null) {
                    return "mounted without a repair: " + problem;
                }
                CheckReport after = Checker.offline(real, false);
                return after.clean() ? null : "mounted without a repair, the checker then finds: " + after;
            }
            return CrashWorkload.repairAndVerify(real, plan, interrupted, "cut");
        } finally {
            real.close();
        }
    }
}

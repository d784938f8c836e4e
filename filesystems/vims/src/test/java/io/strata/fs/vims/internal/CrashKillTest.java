package io.strata.fs.vims.internal;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Real crashes: a child JVM ({@link CrashChild}) mounts the VIMS on the LUN file and runs the
 * workload, printing each operation it has made durable; this test kills it with SIGKILL
 * ({@link Process#destroyForcibly()}) at a random moment (right after a random number of
 * acknowledgements, or a random few milliseconds later, in the middle of the next operation),
 * then checks the LUN offline with repair and without (it must be clean) and mounts it as
 * another host, which must see every acknowledged operation, and of the next one at most what
 * its contract allows half done.
 *
 * <p>{@code -Dstrata.crash.kills=N} sets the number of kills (default 30), {@code
 * -Dstrata.crash.seed} the randomness.
 */
class CrashKillTest {
    static final int KILLS = Integer.getInteger("strata.crash.kills", 30);
    static final int OPS = 60;
    static final long SEED = Long.getLong("strata.crash.seed", 20240611L);

    @TempDir
    static Path dir;
    static CrashWorkload.Template template;
    static int fenced;

    @BeforeAll
    static void formatOnce() {
        template = CrashWorkload.Template.format(dir.resolve("template"));
    }

    @Test
    void killingTheWritingProcessAnywhereLosesNoAcknowledgedWrite() throws Exception {
        long t0 = System.nanoTime();
        Random random = new Random(SEED);
        List<String> failures = new ArrayList<>();
        Map<String, Integer> byOp = new TreeMap<>();
        for (int i = 0; i < KILLS; i++) {
            long planSeed = SEED + i;
            CrashWorkload.Plan plan = CrashWorkload.plan(planSeed, OPS);
            int acks = random.nextInt(OPS + 1); // kill after this many acknowledgements...
            int delayMs = random.nextBoolean() ? 0 : random.nextInt(60); // ...and this much later
            String problem;
            int[] interrupted = {-1};
            try {
                problem = once(i, plan, planSeed, acks, delayMs, interrupted);
            } catch (RuntimeException | AssertionError e) {
                problem = e.toString();
            }
            String what = interrupted[0] < 0 ? "?" : interrupted[0] >= OPS ? "after the last"
                    : plan.ops().get(interrupted[0]).kind().name();
            byOp.merge(what, 1, Integer::sum);
            if (problem != null) {
                failures.add("kill " + i + " (seed " + planSeed + ", after " + acks + " acks + " + delayMs + " ms, op "
                        + (interrupted[0] >= 0 && interrupted[0] < OPS ? plan.ops().get(interrupted[0]) : what) + "): "
                        + problem);
            }
        }
        System.out.printf("CrashKillTest: %d kills in %d s, by interrupted operation %s, %d children fenced first%n",
                KILLS, (System.nanoTime() - t0) / 1_000_000_000, byOp, fenced);
        if (!failures.isEmpty()) {
            fail(failures.size() + " of " + KILLS + " kills went wrong:\n" + String.join("\n", failures));
        }
        if (fenced > KILLS / 4) {
            fail(fenced + " of " + KILLS + " children fenced themselves before their kill: the lease timings are too tight");
        }
    }

    /** One child: run, kill, recover, verify. @return a problem, or null */
    private String once(int i, CrashWorkload.Plan plan, long planSeed, int acks, int delayMs, int[] interrupted)
            throws Exception {
        Path lun = dir.resolve("lun-" + i);
        Path err = dir.resolve("child-" + i + ".err");
        template.copyTo(lun);
        String java = ProcessHandle.current().info().command().orElse(
                Path.of(System.getProperty("java.home"), "bin", "java").toString());
        ProcessBuilder pb = new ProcessBuilder(java, "-Xmx192m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                "-cp", System.getProperty("java.class.path"), CrashChild.class.getName(), lun.toString(),
                Long.toString(planSeed), Integer.toString(OPS));
        pb.redirectError(err.toFile());
        // stdout into a file, not a pipe: every line the child wrote before it died is there to read
        Path outFile = dir.resolve("child-" + i + ".out");
        pb.redirectOutput(outFile.toFile());
        Process child = pb.start();
        Lines lines = new Lines(outFile, child);
        int lastAck = -1;
        boolean done = false;
        try {
            // wait for the chosen moment
            int seen = 0;
            String wanted = acks == 0 ? "MOUNTED" : "ACK " + (acks - 1);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
            while (true) {
                String l = lines.poll(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
                if (l == null) {
                    return "the child did not get to '" + wanted + "' within 90 s; stderr:\n" + tail(err);
                }
                seen++;
                if (l.equals("FENCED")) {
                    fenced++; // it stopped writing: a crash like any other, as long as nothing fails before
                    break;
                }
                if (l.equals("EOF") || l.startsWith("ERROR")) {
                    return "the child stopped on its own (" + l + ") after " + seen + " lines; stderr:\n" + tail(err);
                }
                if (l.startsWith("ACK ")) {
                    lastAck = Integer.parseInt(l.substring(4));
                }
                if (l.equals(wanted) || l.equals("DONE")) {
                    done = l.equals("DONE");
                    break;
                }
            }
            if (delayMs > 0) {
                Thread.sleep(delayMs);
            }
        } finally {
            child.destroyForcibly(); // SIGKILL
            if (!child.waitFor(30, TimeUnit.SECONDS)) {
                throw new AssertionError("the child " + child.pid() + " survived SIGKILL");
            }
        }
        // what the child printed before it died counts too (acknowledged: durable)
        for (String l; (l = lines.poll(0, TimeUnit.NANOSECONDS)) != null && !l.equals("EOF"); ) {
            if (l.startsWith("ACK ")) {
                lastAck = Integer.parseInt(l.substring(4));
            } else if (l.equals("DONE")) {
                done = true;
            } else if (l.startsWith("ERROR") && !l.contains("DEVICE_UNAVAILABLE")) {
                return "the child failed: " + l + "; stderr:\n" + tail(err);
            }
        }
        int op = done ? OPS : lastAck + 1;
        interrupted[0] = op;
        String problem = recover(lun, plan, op);
        if (problem == null) {
            Files.deleteIfExists(lun);
            Files.deleteIfExists(err);
            Files.deleteIfExists(outFile);
        }
        return problem;
    }

    private static String recover(Path lun, CrashWorkload.Plan plan, int op) {
        CrashDevice real = CrashDevice.plain(lun);
        try {
            return CrashWorkload.repairAndVerify(real, plan, op, "kill");
        } finally {
            real.close();
        }
    }

    /** The complete lines of the child's stdout file, as they come; "EOF" once the child is gone and all are read. */
    private static final class Lines {
        private final Path file;
        private final Process child;
        private final java.util.ArrayDeque<String> ready = new java.util.ArrayDeque<>();
        private final java.io.ByteArrayOutputStream partial = new java.io.ByteArrayOutputStream();
        private long offset;

        Lines(Path file, Process child) {
            this.file = file;
            this.child = child;
        }

        String poll(long timeout, TimeUnit unit) throws IOException, InterruptedException {
            long deadline = System.nanoTime() + unit.toNanos(timeout);
            while (true) {
                boolean gone = !child.isAlive(); // before reading: all it wrote is in the file then
                readMore();
                if (!ready.isEmpty()) {
                    return ready.poll();
                }
                if (gone) {
                    return "EOF";
                }
                if (System.nanoTime() - deadline >= 0) {
                    return null;
                }
                Thread.sleep(1);
            }
        }

        private void readMore() throws IOException {
            try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(file)) {
                java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(64 * 1024);
                int n;
                while ((n = ch.read(b.clear(), offset)) > 0) {
                    offset += n;
                    for (int k = 0; k < n; k++) {
                        byte c = b.get(k);
                        if (c == '\n') {
                            ready.add(partial.toString(StandardCharsets.UTF_8));
                            partial.reset();
                        } else {
                            partial.write(c);
                        }
                    }
                }
            }
        }
    }

    private static String tail(Path err) {
        try {
            List<String> l = Files.readAllLines(err);
            return String.join("\n", l.subList(Math.max(0, l.size() - 30), l.size()));
        } catch (IOException e) {
            return "(no stderr: " + e + ")";
        }
    }
}

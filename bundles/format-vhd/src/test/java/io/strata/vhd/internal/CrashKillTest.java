package io.strata.vhd.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.api.format.BackingResolver;
import io.strata.api.format.CheckReport;
import io.strata.api.format.DiskSpec;
import io.strata.api.format.Provisioning;
import io.strata.api.format.VirtualDisk;
import io.strata.testing.LocalFile;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A child JVM ({@link CrashWriter}) writes random data with periodic flushes to a
 * dynamic VHD and to a differencing child, and is killed with SIGKILL at a random
 * moment, 20 times. After each kill: the image opens, the checker finds no error
 * (leaks allowed, and repair clears them), and every write the writer had
 * acknowledged with a flush reads back; writes after the last acknowledged flush
 * may or may not be there. The next round continues on the same, crashed image.
 *
 * <p>The writer prints {@code FLUSHED i} after each flush and also stores i in a
 * side file just before: the last lines a SIGKILLed JVM printed to a pipe were
 * seen to go missing here (the writes after them had landed), so the side file,
 * which a process kill cannot lose, is the authority.
 */
class CrashKillTest {
    private static final long SIZE = 24L << 20;
    private static final int FLUSH_EVERY = 6;
    private static final int ROUNDS = 20;

    @TempDir
    Path dir;

    /** Kills after which stdout had not delivered the last FLUSHED lines (seen here: the tail of the pipe is lost). */
    private int stdoutBehind;

    @Test
    void killedWritersLeaveConsistentImages() throws Exception {
        VhdFormat format = new VhdFormat();
        BackingResolver resolver = name -> LocalFile.open(dir.resolve(name), false);
        Path dyn = dir.resolve("d.vhd");
        Path base = dir.resolve("base.vhd");
        Path child = dir.resolve("c.vhd");
        byte[] dynModel = new byte[(int) SIZE];
        byte[] childModel = new byte[(int) SIZE];
        format.create(LocalFile.open(dyn, true), new DiskSpec(SIZE, Provisioning.THIN)).close();
        try (VirtualDisk b = format.create(LocalFile.open(base, true), new DiskSpec(SIZE, Provisioning.THIN))) {
            byte[] data = DifferencingTest.pattern((int) (SIZE / 2), 5);
            b.write(ByteBuffer.wrap(data), SIZE / 4);
            System.arraycopy(data, 0, childModel, (int) (SIZE / 4), data.length);
        }
        format.createChild(LocalFile.open(child, true), "base.vhd", resolver).close();

        Random rnd = new Random(2026);
        long started = System.nanoTime();
        int leaksSeen = 0;
        for (int round = 0; round < ROUNDS; round++) {
            boolean isChild = round % 2 == 1;
            Path image = isChild ? child : dyn;
            byte[] model = isChild ? childModel : dynModel;
            long seed = round;
            int lastFlushed = runAndKill(image, seed, 150 + rnd.nextInt(900));

            CheckReport r = format.check(LocalFile.open(image, false), resolver, false);
            assertTrue(r.errors().isEmpty(), "round " + round + ": " + r);
            leaksSeen += r.leaks().size();
            CheckReport repaired = format.check(LocalFile.open(image, true), resolver, true);
            assertTrue(repaired.clean(), "round " + round + " after repair: " + repaired);

            // expected: every write up to the last acknowledged flush; later ones may be anywhere
            boolean[] unknown = new boolean[(int) SIZE];
            for (int i = 0; i <= lastFlushed; i++) {
                CrashWriter.Write w = CrashWriter.write(seed, i, SIZE);
                System.arraycopy(w.data(), 0, model, (int) w.offset(), w.data().length);
            }
            for (int i = lastFlushed + 1; i <= lastFlushed + FLUSH_EVERY; i++) {
                CrashWriter.Write w = CrashWriter.write(seed, i, SIZE);
                java.util.Arrays.fill(unknown, (int) w.offset(), (int) w.offset() + w.data().length, true);
            }
            byte[] actual = new byte[(int) SIZE];
            try (VirtualDisk d = format.open(LocalFile.open(image, false), true, resolver)) {
                d.read(ByteBuffer.wrap(actual), 0);
            }
            for (int k = 0; k < SIZE; k++) {
                if (!unknown[k] && actual[k] != model[k]) {
                    StringBuilder why = new StringBuilder();
                    for (int i = 0; i <= lastFlushed + 3 * FLUSH_EVERY; i++) {
                        CrashWriter.Write w = CrashWriter.write(seed, i, SIZE);
                        if (k >= w.offset() && k < w.offset() + w.data().length) {
                            why.append(" #").append(i).append(w.trim() ? " trim " : " write ").append(w.offset())
                                    .append("+").append(w.data().length).append(" -> ")
                                    .append(w.data()[(int) (k - w.offset())]);
                        }
                    }
                    try (VirtualDisk d = format.open(LocalFile.open(image, false), true, resolver)) {
                        why.append("; layer ").append(d.layerStatus(k & ~511L, 512));
                    }
                    throw new AssertionError("round " + round + " (" + (isChild ? "differencing" : "dynamic")
                            + ", " + (lastFlushed + 1) + " writes flushed): byte " + k + " reads " + actual[k]
                            + ", a flushed write left " + model[k] + "; ops on it:" + why + "; leaks " + r.leaks());
                }
            }
            System.arraycopy(actual, 0, model, 0, actual.length); // the next round starts from what is there
        }
        long seconds = TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - started);
        assertTrue(seconds < 90, "took " + seconds + " s");
        System.out.println("CrashKillTest: " + ROUNDS + " kills in " + seconds + " s, leaks found and repaired: "
                + leaksSeen + ", kills where stdout lagged the side file: " + stdoutBehind);
    }

    /** @return the index of the last write covered by an acknowledged flush, -1 if none */
    private int runAndKill(Path image, long seed, int killAfterMillis) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder(java, "-Xmx256m", "-cp", System.getProperty("java.class.path"),
                CrashWriter.class.getName(), image.toString(), Long.toString(seed), Integer.toString(FLUSH_EVERY))
                .redirectError(ProcessBuilder.Redirect.INHERIT).start();
        AtomicInteger last = new AtomicInteger(-1);
        List<String> lines = new ArrayList<>();
        Object ready = new Object();
        Thread reader = new Thread(() -> {
            try (BufferedReader in = new BufferedReader(new InputStreamReader(p.getInputStream(),
                    StandardCharsets.UTF_8))) {
                String line;
                while ((line = in.readLine()) != null) {
                    synchronized (ready) {
                        lines.add(line);
                        ready.notifyAll();
                    }
                    if (line.startsWith("FLUSHED ")) {
                        last.set(Integer.parseInt(line.substring(8)));
                    }
                }
            } catch (java.io.IOException e) {
                // the process died
            }
        });
        reader.start();
        try {
            synchronized (ready) {
                // a JVM that starts in a second when idle can take many on a loaded 2-core machine
                long deadline = System.currentTimeMillis() + 60_000;
                while (!lines.contains("READY") && p.isAlive() && System.currentTimeMillis() < deadline) {
                    ready.wait(100);
                }
                assertTrue(lines.contains("READY"), "the writer did not start: " + lines);
            }
            Thread.sleep(killAfterMillis);
            synchronized (ready) {
                assertTrue(p.isAlive(), "the writer ended before it was killed: " + lines);
            }
        } finally {
            p.destroyForcibly(); // SIGKILL; also when an assertion failed, so no writer outlives the test
        }
        assertTrue(p.waitFor(20, TimeUnit.SECONDS));
        reader.join(20_000);
        assertEquals(137, p.exitValue(), "killed by SIGKILL");
        int recorded;
        try (java.io.RandomAccessFile progress = new java.io.RandomAccessFile(image + ".flushed", "r")) {
            recorded = progress.readInt();
        }
        if (recorded != last.get()) {
            stdoutBehind++;
        }
        return Math.max(recorded, last.get());
    }
}

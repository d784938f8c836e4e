package io.strata.qcow2.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.strata.api.format.BackingResolver;
import io.strata.api.format.CheckReport;
import io.strata.api.format.DiskSpec;
import io.strata.api.format.Provisioning;
import io.strata.api.format.VirtualDisk;
import io.strata.testing.LocalFile;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * kill -9 of a writer process at random moments, many times, on a standalone image and
 * on the top of a chain. After each kill: the image opens in Strata, qemu-img check
 * finds no corruption (leaks allowed; Strata's repair must then leave it clean for
 * qemu too), and every write acknowledged after a flush reads back.
 */
class CrashKillTest {
    private static final long SIZE = 24L << 20;
    private static final int ITERATIONS = 10;

    @TempDir
    Path dir;

    @Test
    void standaloneImageSurvivesKills() throws Exception {
        Qcow2Format format = new Qcow2Format();
        format.create(LocalFile.open(dir.resolve("solo.qcow2"), true), new DiskSpec(SIZE, Provisioning.THIN)).close();
        killRepeatedly("solo.qcow2", new byte[(int) SIZE], new Random(11));
    }

    @Test
    void chainTopSurvivesKills() throws Exception {
        killRepeatedly("top.qcow2", chain(), new Random(12));
        assertArrayEquals(baseBytes, Files.readAllBytes(dir.resolve("base.qcow2")), "the base is never written");
    }

    /**
     * Four writers allocating 4 KiB blocks of the same clusters at once (their data written
     * outside the allocation lock), killed mid-flight: every block a writer's flush covered
     * reads back, and the image is consistent for Strata and qemu.
     */
    @Test
    void concurrentAllocatingWritersSurviveKills() throws Exception {
        Qcow2Format format = new Qcow2Format();
        format.create(LocalFile.open(dir.resolve("many.qcow2"), true), new DiskSpec(SIZE, Provisioning.THIN)).close();
        killConcurrently("many.qcow2", new byte[(int) SIZE], new Random(21));
    }

    @Test
    void concurrentWritersOnAChainTopSurviveKills() throws Exception {
        killConcurrently("top.qcow2", chain(), new Random(22));
        assertArrayEquals(baseBytes, Files.readAllBytes(dir.resolve("base.qcow2")), "the base is never written");
    }

    private byte[] baseBytes;

    /** Makes base.qcow2 with scattered data and top.qcow2 over it; @return the guest's view */
    private byte[] chain() throws Exception {
        Qcow2Format format = new Qcow2Format();
        byte[] model = new byte[(int) SIZE];
        try (VirtualDisk b = format.create(LocalFile.open(dir.resolve("base.qcow2"), true),
                new DiskSpec(SIZE, Provisioning.THIN))) {
            Random r = new Random(5);
            for (int i = 0; i < 40; i++) {
                byte[] data = new byte[1 + r.nextInt(200_000)];
                r.nextBytes(data);
                long off = (long) (r.nextDouble() * (SIZE - data.length));
                b.write(ByteBuffer.wrap(data), off);
                System.arraycopy(data, 0, model, (int) off, data.length);
            }
        }
        baseBytes = Files.readAllBytes(dir.resolve("base.qcow2"));
        format.createChild(LocalFile.open(dir.resolve("top.qcow2"), true), "base.qcow2", Fixtures.dir(dir)).close();
        return model;
    }

    private void killConcurrently(String image, byte[] model, Random rnd) throws Exception {
        Qcow2Format format = new Qcow2Format();
        BackingResolver resolver = Fixtures.dir(dir);
        Path path = dir.resolve(image);
        int block = ConcurrentCrashWriter.BLOCK;
        int threads = ConcurrentCrashWriter.THREADS;
        int totalAcks = 0;
        for (int iter = 0; iter < ITERATIONS; iter++) {
            long seed = rnd.nextLong();
            List<String> lines = runAndKill(ConcurrentCrashWriter.class, image, seed, 100 + rnd.nextInt(600));
            int[] lastAck = new int[threads];
            java.util.Arrays.fill(lastAck, -1);
            for (String l : lines) {
                if (l.startsWith("ACK ")) {
                    String[] f = l.split(" ");
                    int t = Integer.parseInt(f[1]);
                    lastAck[t] = Math.max(lastAck[t], Integer.parseInt(f[2]));
                    totalAcks++;
                }
            }
            byte[] expected = model.clone();
            boolean[] unknown = new boolean[(int) (SIZE / block)];
            for (int t = 0; t < threads; t++) {
                for (int i = 0; i <= lastAck[t]; i++) {
                    long b = ConcurrentCrashWriter.block(seed, t, i, SIZE);
                    System.arraycopy(ConcurrentCrashWriter.data(seed, t, i), 0, expected, (int) (b * block), block);
                }
                // a flush may have returned without its ACK reaching us: two flush periods are in doubt
                for (int i = lastAck[t] + 1; i <= lastAck[t] + 2 * ConcurrentCrashWriter.FLUSH_EVERY; i++) {
                    unknown[(int) ConcurrentCrashWriter.block(seed, t, i, SIZE)] = true;
                }
            }
            byte[] actual;
            try (VirtualDisk d = format.open(LocalFile.open(path, false), true, resolver)) {
                actual = Fixtures.readAll(d);
            }
            for (int i = 0; i < model.length; i++) {
                if (!unknown[i / block] && expected[i] != actual[i]) {
                    fail("iteration " + iter + " (seed " + seed + ", last acks " + java.util.Arrays.toString(lastAck)
                            + "): byte " + i + " is " + actual[i] + ", a flushed write made it " + expected[i]);
                }
            }
            int leaks = checkAndRepair(path, iter);
            System.out.printf("%s concurrent kill %d: last acks %s, leaks found by both checkers %d%n", image,
                    iter, java.util.Arrays.toString(lastAck), leaks);
            System.arraycopy(actual, 0, model, 0, model.length);
        }
        assertTrue(totalAcks > ITERATIONS * threads, "the writers acknowledged too few flushes (" + totalAcks + ")");
    }

    private void killRepeatedly(String image, byte[] model, Random rnd) throws Exception {
        Qcow2Format format = new Qcow2Format();
        BackingResolver resolver = Fixtures.dir(dir);
        Path path = dir.resolve(image);
        int totalAcks = 0;
        for (int iter = 0; iter < ITERATIONS; iter++) {
            long seed = rnd.nextLong();
            List<String> lines = runAndKill(CrashWriter.class, image, seed, 40 + rnd.nextInt(500));
            int lastAck = -1;
            for (String l : lines) {
                if (l.startsWith("ACK ")) {
                    lastAck = Integer.parseInt(l.split(" ")[1]);
                    totalAcks++;
                }
            }
            byte[] expected = model.clone();
            boolean[] unknown = new boolean[model.length];
            for (int i = 0; ; i++) {
                CrashWriter.Op op = CrashWriter.op(seed, i, SIZE);
                if (i <= lastAck) {
                    System.arraycopy(op.data(), 0, expected, (int) op.offset(), op.length());
                } else {
                    // may have run, wholly or in part, before the kill: up to the next flush
                    java.util.Arrays.fill(unknown, (int) op.offset(), (int) op.offset() + op.length(), true);
                    if (op.flushAfter()) {
                        break;
                    }
                }
            }
            byte[] actual;
            try (VirtualDisk d = format.open(LocalFile.open(path, false), true, resolver)) {
                actual = Fixtures.readAll(d);
            }
            for (int i = 0; i < model.length; i++) {
                if (!unknown[i] && expected[i] != actual[i]) {
                    StringBuilder ops = new StringBuilder();
                    for (int j = 0; j <= lastAck + 20; j++) {
                        CrashWriter.Op op = CrashWriter.op(seed, j, SIZE);
                        long cl = i & ~0xffffL;
                        if (op.offset() < cl + 0x10000 && cl < op.offset() + op.length()) {
                            ops.append("\n  op ").append(j).append(' ').append(op);
                        }
                    }
                    fail("iteration " + iter + " (seed " + seed + ", last ack " + lastAck + "): byte " + i
                            + " is " + actual[i] + ", a flushed write made it " + expected[i] + "; ops there:" + ops);
                }
            }
            int leaks = checkAndRepair(path, iter);
            System.out.printf("%s kill %d: last ack %d, leaks found by both checkers %d%n", image, iter, lastAck,
                    leaks);
            System.arraycopy(actual, 0, model, 0, model.length);
        }
        assertTrue(totalAcks > ITERATIONS, "the writer acknowledged too few flushes (" + totalAcks + ")");
    }

    /**
     * After a kill: qemu-img check finds no corruption (leaks allowed, exit status 3),
     * Strata's checker no error and the same leaks; leaks are then repaired and both
     * checkers must find the image clean.
     *
     * @return how many leaks there were
     */
    private int checkAndRepair(Path path, int iter) {
        Qcow2Format format = new Qcow2Format();
        BackingResolver resolver = Fixtures.dir(dir);
        Fixtures.Result q = Fixtures.exec("qemu-img", "check", "-f", "qcow2", path.toString());
        assertTrue(q.status() == 0 || q.status() == 3, "iteration " + iter + ": qemu-img check:\n" + q.output());
        CheckReport r = format.check(LocalFile.open(path, false), resolver, false);
        assertTrue(r.errors().isEmpty(), "iteration " + iter + ": " + r);
        assertEquals(q.status() == 3, !r.leaks().isEmpty(), "qemu and Strata agree on leaks: " + q.output() + r);
        if (!r.leaks().isEmpty()) {
            CheckReport fixed = format.check(LocalFile.open(path, true), resolver, true);
            assertTrue(fixed.clean(), fixed.toString());
            Fixtures.assertQemuCheckClean(path);
        }
        return r.leaks().size();
    }

    private List<String> runAndKill(Class<?> child, String image, long seed, int delayMs) throws Exception {
        assumeTrue(Fixtures.haveQemu(), "qemu-img not installed");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder(java, "-Xmx128m", "-XX:TieredStopAtLevel=1", "-Xshare:auto",
                "-cp", System.getProperty("java.class.path"), child.getName(),
                dir.toString(), image, Long.toString(seed)).redirectErrorStream(true).start();
        List<String> lines = new ArrayList<>();
        Thread reader = new Thread(() -> {
            try (BufferedReader in = new BufferedReader(new InputStreamReader(p.getInputStream(),
                    StandardCharsets.UTF_8))) {
                String l;
                while ((l = in.readLine()) != null) {
                    synchronized (lines) {
                        lines.add(l);
                        lines.notifyAll();
                    }
                }
            } catch (IOException e) {
                // the process died
            }
        });
        reader.start();
        long deadline = System.currentTimeMillis() + 60_000; // a JVM start on a loaded 2-core machine can take many seconds
        synchronized (lines) {
            while (!lines.contains("READY") && System.currentTimeMillis() < deadline && p.isAlive()) {
                lines.wait(100);
            }
        }
        if (!lines.contains("READY")) {
            p.destroyForcibly();
            reader.join(5000);
            fail("writer did not start: " + String.join("\n", lines));
        }
        Thread.sleep(delayMs);
        // SIGKILL through the process handle: Process.destroyForcibly() would also close our end of the
        // pipe and drop acknowledgements the writer printed but we have not read yet
        p.toHandle().destroyForcibly();
        assertTrue(p.waitFor(10, TimeUnit.SECONDS));
        reader.join(10_000);
        synchronized (lines) {
            for (String l : lines) {
                if (!l.startsWith("ACK ") && !l.equals("READY")) {
                    fail("writer failed before the kill: " + String.join("\n", lines));
                }
            }
            return new ArrayList<>(lines);
        }
    }
}

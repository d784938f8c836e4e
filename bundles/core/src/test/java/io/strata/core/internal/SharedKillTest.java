package io.strata.core.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.format.VirtualDisk;
import io.strata.api.service.VolumeRef;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A host that dies or freezes while it holds a volume on a shared datastore, with real
 * processes: a child JVM ({@link SharedHostWorker}) writes the volume, the test kills it with
 * SIGKILL or stops it with SIGSTOP, and a host in this JVM takes the volume over once the
 * child's lease expired. Lease timing is {@link SharedHosts#FAST} (dead after 2.5 s); the
 * waits allow a minute, for loaded machines.
 */
class SharedKillTest {
    @TempDir
    Path tmp;
    private Process child;
    private StrataCore host;

    @AfterEach
    void stop() throws Exception {
        if (child != null) {
            new ProcessBuilder("kill", "-CONT", Long.toString(child.pid())).start().waitFor();
            child.destroyForcibly().waitFor();
        }
        if (host != null) {
            host.close();
        }
    }

    private BlockingQueue<String> startChild(String mode, String... jvmOptions) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> command = new ArrayList<>(List.of(java, "-Xmx256m"));
        command.addAll(List.of(jvmOptions));
        command.addAll(List.of("-cp", System.getProperty("java.class.path"),
                SharedHostWorker.class.getName(), tmp.toString(), "child", "vm", mode));
        child = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        BlockingQueue<String> lines = new LinkedBlockingQueue<>();
        Thread reader = new Thread(() -> {
            try (BufferedReader in = new BufferedReader(new InputStreamReader(child.getInputStream(),
                    StandardCharsets.UTF_8))) {
                for (String line; (line = in.readLine()) != null;) {
                    lines.add(line);
                }
            } catch (Exception e) {
                lines.add("EOF " + e);
            }
            lines.add("EOF");
        });
        reader.setDaemon(true);
        reader.start();
        return lines;
    }

    private static String next(BlockingQueue<String> lines, String prefix) throws InterruptedException {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (System.nanoTime() < end) {
            String line = lines.poll(1, TimeUnit.SECONDS);
            if (line != null && line.startsWith(prefix)) {
                return line;
            }
            if (line != null && line.startsWith("EOF")) {
                throw new AssertionError("the child ended before '" + prefix + "'");
            }
        }
        throw new AssertionError("no '" + prefix + "' from the child");
    }

    /** Opens the volume for writing on this host as soon as the lease allows; returns after how long. */
    private VirtualDisk takeOver(VolumeRef v, long[] waitedMillis) throws InterruptedException {
        long start = System.nanoTime();
        long end = start + Duration.ofSeconds(60).toNanos();
        while (true) {
            try {
                VirtualDisk d = host.open(v, false);
                waitedMillis[0] = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
                return d;
            } catch (StorageException e) {
                if (e.code() != ErrorCode.VOLUME_IN_USE || System.nanoTime() > end) {
                    throw e;
                }
                assertTrue(e.getMessage().contains("child"), "the refusal names the holder: " + e.getMessage());
            }
            Thread.sleep(50);
        }
    }

    /** @return a block of the volume filled with {@code c} */
    private static byte[] block(char c) {
        byte[] b = new byte[SharedHostWorker.BLOCK];
        java.util.Arrays.fill(b, (byte) c);
        return b;
    }

    /** Asserts that every byte of block 0 of {@code d} is {@code c}: not one of another writer's. */
    private static void assertBlockZeroHolds(VirtualDisk d, char c) {
        ByteBuffer b = ByteBuffer.allocate(SharedHostWorker.BLOCK);
        d.read(b, 0);
        for (int i = 0; i < b.capacity(); i++) {
            assertEquals((byte) c, b.get(i), "byte " + i + " of block 0");
        }
    }

    @Test
    void afterKillNineAnotherHostTakesTheVolumeOverWithEveryFlushedWrite() throws Exception {
        BlockingQueue<String> lines = startChild("blocks");
        next(lines, "OPEN");
        host = SharedHosts.start(tmp, "survivor", new MemoryConfigStore());
        VolumeRef v = VolumeRef.parse("ds/vm");
        int last = -1;
        while (last < 30) {
            last = Integer.parseInt(next(lines, "FLUSHED ").substring(8));
        }
        child.destroyForcibly().waitFor(); // SIGKILL
        // Everything the child flushed before the kill: the last FLUSHED line read and any after it.
        for (String l; (l = lines.poll()) != null;) {
            if (l.startsWith("FLUSHED ")) {
                last = Math.max(last, Integer.parseInt(l.substring(8)));
            }
        }
        long[] waited = new long[1];
        try (VirtualDisk d = takeOver(v, waited)) {
            ByteBuffer b = ByteBuffer.allocate(SharedHostWorker.BLOCK);
            for (int block = 0; block <= last; block++) {
                d.read(b.clear(), (long) block * SharedHostWorker.BLOCK);
                for (int i = 0; i < b.capacity(); i += 4096) {
                    assertEquals((byte) (block + 1), b.get(i), "block " + block + " flushed before the kill");
                }
            }
            d.write(ByteBuffer.wrap(new byte[] {42}), 0); // and it is writable here now
            d.flush();
        }
        System.out.printf("SharedKillTest: volume taken over %d ms after kill -9 (expiry %d ms), %d flushed blocks "
                + "intact%n", waited[0], SharedHosts.FAST.expiry().toMillis(), last + 1);
    }

    @Test
    void aFrozenHostWritesNothingAfterItsLeaseExpired() throws Exception {
        BlockingQueue<String> lines = startChild("same");
        next(lines, "OPEN");
        host = SharedHosts.start(tmp, "survivor", new MemoryConfigStore());
        VolumeRef v = VolumeRef.parse("ds/vm");
        for (int i = 0; i < 20; i++) {
            next(lines, "FLUSHED ");
        }
        new ProcessBuilder("kill", "-STOP", Long.toString(child.pid())).start().waitFor();
        long[] waited = new long[1];
        try (VirtualDisk d = takeOver(v, waited)) {
            d.write(ByteBuffer.wrap(block('B')), 0);
            d.flush();
            // The frozen host wakes up with writes it had under way.
            new ProcessBuilder("kill", "-CONT", Long.toString(child.pid())).start().waitFor();
            String refused = next(lines, "REFUSED ");
            assertTrue(refused.contains(ErrorCode.DEVICE_UNAVAILABLE.name()), refused);
            Thread.sleep(SharedHosts.FAST.renewal().toMillis() * 5);
        }
        // From the data on disk: block 0 is what the new holder wrote, not one byte of the frozen host's.
        StrataCore reader = host;
        try (VirtualDisk d = reader.open(v, true)) {
            assertBlockZeroHolds(d, 'B');
        }
        System.out.printf("SharedKillTest: a frozen host's volume taken over after %d ms; it refused its own "
                + "writes on waking%n", waited[0]);
    }

    /**
     * With the lease watchdog on (as the distribution runs), a host process stopped with SIGSTOP
     * (only the process: its watchdog runs on) is killed by its watchdog, so a write its threads
     * had between the lease check and the system call is never made; the volume is then taken
     * over and holds what the new holder wrote. The watchdog leaves with its host.
     */
    @Test
    void aStoppedHostIsKilledByItsLeaseWatchdog() throws Exception {
        Path tmpdir = java.nio.file.Files.createDirectories(tmp.resolve("child-tmp"));
        BlockingQueue<String> lines = startChild("same", "-D" + io.strata.lease.internal.Watchdog.PROPERTY + "=true",
                "-Djava.io.tmpdir=" + tmpdir);
        next(lines, "OPEN");
        host = SharedHosts.start(tmp, "survivor", new MemoryConfigStore());
        VolumeRef v = VolumeRef.parse("ds/vm");
        for (int i = 0; i < 20; i++) {
            next(lines, "FLUSHED ");
        }
        ProcessHandle dog = null;
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (dog == null && System.nanoTime() < end) {
            dog = child.toHandle().children().filter(h -> h.info().arguments().map(a -> String.join(" ", a))
                    .orElse("").contains("WatchdogMain")).findFirst().orElse(null);
            Thread.sleep(50);
        }
        assertTrue(dog != null, "the host started its lease watchdog");
        long stopped = System.nanoTime();
        new ProcessBuilder("kill", "-STOP", Long.toString(child.pid())).start().waitFor();
        assertTrue(child.waitFor(60, TimeUnit.SECONDS), "the stopped host was not killed within 60 s");
        long killedAfter = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - stopped);
        assertEquals(128 + 9, child.exitValue(), "the host died of SIGKILL");
        assertTrue(dog.onExit().get(30, TimeUnit.SECONDS) != null && !dog.isAlive(), "the watchdog left with its host");
        String log;
        try (java.util.stream.Stream<Path> files = java.nio.file.Files.walk(tmpdir)) {
            Path file = files.filter(f -> f.getFileName().toString().equals("watchdog.log")).findFirst().orElseThrow();
            log = java.nio.file.Files.readString(file);
        }
        assertTrue(log.contains("let the lease deadline of 'strata-datastore'#") && log.contains("killed"), log);

        try (VirtualDisk d = takeOver(v, new long[1])) {
            d.write(ByteBuffer.wrap(block('B')), 0);
            d.flush();
            assertBlockZeroHolds(d, 'B');
        }
        System.out.printf("SharedKillTest: a stopped host killed by its lease watchdog %d ms after SIGSTOP "
                + "(fence deadline at most %d ms after it, expiry %d ms)%n", killedAfter,
                SharedHosts.FAST.expiry().minus(SharedHosts.FAST.ioTimeout()).toMillis(),
                SharedHosts.FAST.expiry().toMillis());
    }
}

package io.strata.lease.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The lease watchdog as real processes: a {@code sleep} stands for the host process, the
 * watchdog is started from the class file copied out of the build, and the host is stopped with
 * SIGSTOP as a frozen Strata process would be. Deadlines are a fraction of a second; what the
 * tests assert is what was killed and what was not, with waits of many seconds for a loaded
 * machine.
 */
class WatchdogTest {
    @TempDir
    Path tmp;
    private final List<Process> started = new ArrayList<>();
    private Watchdog dog;

    @AfterEach
    void stop() throws Exception {
        if (dog != null) {
            dog.process().ifPresent(ProcessHandle::destroyForcibly);
        }
        for (Process p : started) {
            p.destroyForcibly().waitFor();
        }
    }

    private Process host() throws Exception {
        Process p = new ProcessBuilder("sleep", "600").start();
        started.add(p);
        return p;
    }

    private Watchdog watchdog(Process host) throws Exception {
        dog = Watchdog.create(host.pid(), tmp, tmp.resolve("watchdog.log"));
        return dog;
    }

    private String log() throws Exception {
        return Files.readString(tmp.resolve("watchdog.log"));
    }

    /** @return the watchdog's log once it holds {@code text} (30 s at most) */
    private String awaitLog(String text) throws Exception {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (System.nanoTime() < end) {
            if (Files.exists(tmp.resolve("watchdog.log")) && log().contains(text)) {
                return log();
            }
            Thread.sleep(50);
        }
        throw new AssertionError("the watchdog's log has no '" + text + "': "
                + (Files.exists(tmp.resolve("watchdog.log")) ? log() : "(no log)"));
    }

    private static long inMillis(long ms) {
        return System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(ms);
    }

    private static void stopProcess(Process p) throws Exception {
        assertEquals(0, new ProcessBuilder("kill", "-STOP", Long.toString(p.pid())).start().waitFor());
    }

    @Test
    void killsAStoppedHostOnceItsDeadlinePasses() throws Exception {
        Process host = host();
        Watchdog w = watchdog(host);
        w.arm("ls#1", inMillis(300));
        stopProcess(host);
        assertTrue(host.waitFor(30, TimeUnit.SECONDS), "the stopped host was not killed");
        assertEquals(128 + 9, host.exitValue());
        String log = awaitLog("process " + host.pid() + " killed");
        assertTrue(log.contains("let the lease deadline of ls#1 pass"), log);
    }

    @Test
    void aDisarmedOrMovedDeadlineKillsNothing() throws Exception {
        Process host = host();
        Watchdog w = watchdog(host);
        w.arm("gone#1", inMillis(300));
        w.disarm("gone#1");
        w.arm("moved#2", inMillis(300));
        w.arm("moved#2", inMillis(600_000));
        ProcessHandle p = awaitProcess(w);
        stopProcess(host);
        Thread.sleep(2_000); // well past both first deadlines
        assertTrue(host.isAlive(), log());
        // and the watchdog leaves when its host exits
        host.destroyForcibly().waitFor();
        p.onExit().get(30, TimeUnit.SECONDS);
        assertFalse(p.isAlive());
        awaitLog("host process " + host.pid() + " exited");
    }

    @Test
    void aWatchdogThatDiesIsStartedAgainWithWhatIsArmed() throws Exception {
        Process host = host();
        Watchdog w = watchdog(host);
        w.arm("ls#1", inMillis(600_000));
        ProcessHandle first = awaitProcess(w);
        first.destroyForcibly();
        first.onExit().get(30, TimeUnit.SECONDS);
        w.arm("ls#2", inMillis(300)); // the next line starts another, which gets ls#1 and ls#2
        stopProcess(host);
        assertTrue(host.waitFor(30, TimeUnit.SECONDS), "the stopped host was not killed by the second watchdog");
        awaitLog("let the lease deadline of ls#2 pass");
    }

    @Test
    void withNothingArmedTheWatchdogAndItsSenderEndAndTheNextArmStartsThemAgain() throws Exception {
        Process host = host();
        Watchdog w = watchdog(host);
        w.arm("ls#1", inMillis(600_000));
        ProcessHandle first = awaitProcess(w);
        assertTrue(w.sending());
        w.disarm("ls#1");
        first.onExit().get(30, TimeUnit.SECONDS);
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (w.sending() && System.nanoTime() < end) {
            Thread.sleep(20);
        }
        assertFalse(w.sending(), "no thread left behind (it would hold a replaced bundle's class loader)");
        awaitLog("the host closed the watchdog's input; exiting");
        w.arm("ls#2", inMillis(300));
        stopProcess(host);
        assertTrue(host.waitFor(30, TimeUnit.SECONDS), "the next arm started a watchdog again");
        assertEquals(2, w.starts());
    }

    @Test
    void aWatchdogThatCannotRunIsTriedOncePerLineNotInALoop() throws Exception {
        Process host = host();
        dog = new Watchdog(List.of("sh", "-c", "exit 3"), tmp.resolve("watchdog.log"));
        dog.arm("ls#1", inMillis(600_000));
        Thread.sleep(1_500);
        assertEquals(1, dog.starts(), "one start for one line");
        dog.arm("ls#1", inMillis(600_000)); // the next renewal
        Thread.sleep(1_500);
        assertEquals(2, dog.starts());
        assertTrue(host.isAlive());
    }

    @Test
    void aClockThatIsNotTheHostsEndsTheWatchdogUnarmed() throws Exception {
        Process host = host();
        Path classes = Path.of(WatchdogMain.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder(java, "-cp", classes.toString(), WatchdogMain.class.getName(),
                Long.toString(host.pid())).redirectErrorStream(true).start();
        started.add(p);
        try (OutputStream out = p.getOutputStream()) {
            out.write(("clock " + (System.nanoTime() + TimeUnit.MINUTES.toNanos(5)) + "\narm x#1 0\n")
                    .getBytes(StandardCharsets.US_ASCII));
        }
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        assertEquals(WatchdogMain.WRONG_CLOCK, p.exitValue());
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
        assertTrue(out.contains("is not this machine's monotonic clock"), out);
        assertTrue(host.isAlive());
    }

    private static ProcessHandle awaitProcess(Watchdog w) throws InterruptedException {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (System.nanoTime() < end) {
            var p = w.process();
            if (p.isPresent()) {
                return p.get();
            }
            Thread.sleep(20);
        }
        throw new AssertionError("no watchdog process");
    }
}

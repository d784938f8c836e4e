package io.strata.lease.internal;

import io.strata.lease.LeaseClock;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * This process's side of the lease watchdog ({@link WatchdogMain}): each joined lockspace arms
 * it with its fence deadline plus a grace, moves that on at every renewal, and disarms it when
 * it fences itself or leaves. A process that stops running (SIGSTOP, a pause of seconds) sends
 * nothing more, and the watchdog kills it before any other host may take its leases: a write
 * whose thread stopped between its lease check and its system call is never made.
 *
 * <p>One watchdog process per JVM, started at the first {@link #arm} and let go (its input
 * closed, so it exits) once nothing is armed; only where the system
 * property {@value #PROPERTY} is {@code true} (the distribution's {@code bin/setenv} sets it)
 * and only for lockspaces on {@link LeaseClock#SYSTEM}. A watchdog that cannot be started, or
 * exits, is started again at the next line to send; one whose clock is not this JVM's is given
 * up with an error in the log, and leases then rely on the checks inside this process alone.
 * Lines go out on a thread of their own, so a lease thread never waits on the pipe.
 */
public final class Watchdog {
    /** The system property that turns the watchdog on. */
    public static final String PROPERTY = "strata.lease.watchdog";
    private static final Logger LOG = LoggerFactory.getLogger("io.strata.lease");
    private static Watchdog shared; // guarded by Watchdog.class

    private final List<String> command;
    private final Path log;
    private final Map<String, Long> armed = new LinkedHashMap<>(); // guarded by this
    private final List<String> pending = new ArrayList<>(); // guarded by this
    private Process process; // guarded by this
    private OutputStream out; // the sender thread's
    private boolean givenUp; // guarded by this
    private Thread sender; // guarded by this; null while nothing is armed
    private int starts; // guarded by this
    private long lastComplaint; // the sender thread's
    private int unlogged; // the sender thread's

    Watchdog(List<String> command, Path log) {
        this.command = List.copyOf(command);
        this.log = log;
    }

    /**
     * @param clock the clock a lockspace measures its leases with
     * @return this JVM's watchdog, or null where it is off or the clock is not the system's
     */
    static Watchdog forClock(LeaseClock clock) {
        if (clock != LeaseClock.SYSTEM || !Boolean.getBoolean(PROPERTY)) {
            return null;
        }
        synchronized (Watchdog.class) {
            if (shared == null) {
                try {
                    shared = create(ProcessHandle.current().pid());
                } catch (IOException e) {
                    LOG.error("cannot prepare the lease watchdog ({}); leases rely on this process's own checks",
                            e.getMessage());
                    return null;
                }
            }
            return shared;
        }
    }

    /**
     * Copies {@link WatchdogMain}'s class file out of this bundle and returns a watchdog that
     * starts it with this JVM's {@code java} for process {@code pid}.
     */
    static Watchdog create(long pid) throws IOException {
        String data = System.getProperty("karaf.data");
        Path dir = data != null ? Path.of(data, "strata-watchdog")
                : Path.of(System.getProperty("java.io.tmpdir"), "strata-watchdog-" + pid);
        String logDir = System.getProperty("karaf.log");
        return create(pid, dir, logDir != null ? Path.of(logDir, "strata-watchdog.log") : dir.resolve("watchdog.log"));
    }

    /** As {@link #create(long)}, with the class file under {@code dir} and the watchdog's output in {@code log}. */
    static Watchdog create(long pid, Path dir, Path log) throws IOException {
        Path classes = dir.resolve("classes");
        Path file = classes.resolve(WatchdogMain.class.getName().replace('.', '/') + ".class");
        Files.createDirectories(file.getParent());
        try (InputStream in = WatchdogMain.class.getResourceAsStream(WatchdogMain.class.getSimpleName() + ".class")) {
            if (in == null) {
                throw new IOException("the class file of " + WatchdogMain.class.getName() + " is not in the bundle");
            }
            Path tmp = Files.createTempFile(file.getParent(), "WatchdogMain", ".tmp");
            Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        }
        Files.createDirectories(log.getParent());
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        return new Watchdog(List.of(java, "-XX:+IgnoreUnrecognizedVMOptions", "-Xmx16m", "-Xss512k", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                "-XX:-UsePerfData", "-Xshare:auto", "-cp", classes.toString(), WatchdogMain.class.getName(),
                Long.toString(pid)), log);
    }

    /** Kill this process once the monotonic clock passes {@code killAtNanos}, unless moved or disarmed. */
    synchronized void arm(String key, long killAtNanos) {
        armed.put(key, killAtNanos);
        send("arm " + key + " " + killAtNanos);
    }

    /** Forgets {@code key}. */
    synchronized void disarm(String key) {
        if (armed.remove(key) != null) {
            send("disarm " + key);
        }
    }

    /** @return the watchdog process now, if one runs (for tests) */
    synchronized java.util.Optional<ProcessHandle> process() {
        return process != null && process.isAlive() ? java.util.Optional.of(process.toHandle())
                : java.util.Optional.empty();
    }

    /** @return whether the thread that sends lines runs (for tests) */
    synchronized boolean sending() {
        return sender != null;
    }

    /** @return how many watchdog processes were started (for tests) */
    synchronized int starts() {
        return starts;
    }

    private void send(String line) {
        if (givenUp) {
            return;
        }
        pending.add(line);
        if (sender == null) {
            sender = new Thread(this::sendLoop, "strata-lease-watchdog");
            sender.setDaemon(true);
            sender.start();
        }
        notifyAll();
    }

    private void sendLoop() {
        while (true) {
            List<String> lines;
            Process p;
            synchronized (this) {
                while (pending.isEmpty() && !givenUp) {
                    try {
                        wait();
                    } catch (InterruptedException e) {
                        return;
                    }
                }
                if (givenUp) {
                    return;
                }
                if (process == null || !process.isAlive()) {
                    if (process != null && process.exitValue() == WatchdogMain.WRONG_CLOCK) {
                        givenUp = true;
                        LOG.error("the lease watchdog does not share this JVM's monotonic clock (see {}); "
                                + "leases rely on this process's own checks", log);
                        return;
                    }
                    if (process != null) {
                        complain("the lease watchdog exited (status " + process.exitValue() + ", see " + log
                                + "); starting another");
                    }
                    process = null;
                    pending.clear();
                    try {
                        start();
                    } catch (IOException e) {
                        complain("cannot start the lease watchdog: " + e.getMessage() + "; trying again at the next renewal");
                        continue;
                    }
                    // a new watchdog knows nothing: the clock first, then everything armed
                    pending.add("clock " + System.nanoTime());
                    armed.forEach((k, at) -> pending.add("arm " + k + " " + at));
                }
                p = process;
                lines = new ArrayList<>(pending);
                pending.clear();
            }
            StringBuilder b = new StringBuilder();
            lines.forEach(l -> b.append(l).append('\n'));
            try {
                out.write(b.toString().getBytes(StandardCharsets.US_ASCII));
                out.flush();
                synchronized (this) {
                    if (armed.isEmpty() && pending.isEmpty() && process == p) {
                        // Nothing to watch: the watchdog exits when its input closes, and this
                        // thread ends; the next arm starts both again. So neither is left over
                        // from a lease bundle that was replaced (this thread would hold its class
                        // loader).
                        out.close();
                        process = null;
                        sender = null;
                        return;
                    }
                }
            } catch (IOException e) {
                // started again with everything armed at the next line (the next renewal), not
                // at once: a watchdog that cannot run must not make this a loop of process starts
                complain("the lease watchdog stopped reading (" + e.getMessage() + "); starting another at the next renewal");
                p.destroyForcibly();
                synchronized (this) {
                    if (process == p) {
                        process = null;
                    }
                }
            }
        }
    }

    /** Logs a trouble with the watchdog process: once a minute at most, with how many were not logged. */
    private void complain(String what) {
        long now = System.nanoTime();
        if (lastComplaint == 0 || now - lastComplaint >= TimeUnit.MINUTES.toNanos(1)) {
            LOG.warn("{}{}", what, unlogged > 0 ? " (" + unlogged + " more since the last such message)" : "");
            lastComplaint = now;
            unlogged = 0;
        } else {
            unlogged++;
        }
    }

    /** Starts the watchdog process (on the sender thread, under this lock). */
    private void start() throws IOException {
        ProcessBuilder pb = new ProcessBuilder(command);
        pb.redirectErrorStream(true);
        pb.redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
        Process p = pb.start();
        starts++;
        process = p;
        out = p.getOutputStream();
        LOG.info("lease watchdog started (process {}, log {})", p.pid(), log);
    }
}

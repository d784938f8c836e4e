package io.strata.lease.internal;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * The lease watchdog: a process of its own that kills the host process when that process lets a
 * lease deadline pass without renewing it or giving it up, as sanlock's {@code wdmd} resets a
 * machine. It covers what a check inside the host process cannot: a process stopped (SIGSTOP, a
 * debugger, a pause of many seconds) between its last lease check and the system call that
 * writes. Killed before any other host may take its leases over, it never makes that call.
 *
 * <p>Started by {@link Watchdog} with the host's process id; it reads lines from its standard
 * input:
 * <ul>
 * <li>{@code clock <nanos>}: the host's {@link System#nanoTime} when it started this process.
 * Both read the machine's monotonic clock, so their deadlines compare; a clock that does not
 * agree (more than a minute behind, or ahead) ends this process with status 2, unarmed.</li>
 * <li>{@code arm <key> <nanos>}: kill the host once the monotonic clock passes {@code nanos},
 * unless a later line moves or removes the deadline of {@code key}.</li>
 * <li>{@code disarm <key>}: forget {@code key}.</li>
 * </ul>
 * It exits when its input ends (the host process exited or closed it) or the host is gone, and
 * after killing it. It writes one line to its standard output for each of those. One class and
 * the JDK only: the host copies this class file out of its bundle to start it.
 */
public final class WatchdogMain {
    /** The exit status for a clock that is not the host's. */
    static final int WRONG_CLOCK = 2;
    private static final long CLOCK_SLACK = TimeUnit.MINUTES.toNanos(1);

    private final Map<String, Long> armed = new HashMap<>(); // guarded by this
    private boolean ended; // guarded by this
    private String endReason; // guarded by this

    private WatchdogMain() {
    }

    public static void main(String[] args) throws InterruptedException {
        if (args.length != 1) {
            log("usage: WatchdogMain <host pid>");
            System.exit(1);
        }
        Optional<ProcessHandle> found = ProcessHandle.of(Long.parseLong(args[0]));
        if (found.isEmpty() || !found.get().isAlive()) {
            log("host process " + args[0] + " is not running");
            System.exit(0);
        }
        ProcessHandle host = found.get();
        WatchdogMain w = new WatchdogMain();
        Thread reader = new Thread(() -> w.read(new BufferedReader(new InputStreamReader(System.in,
                StandardCharsets.US_ASCII))), "strata-watchdog-input");
        reader.setDaemon(true);
        reader.start();
        System.exit(w.watch(host));
    }

    /** Applies the input's lines until it ends. */
    private void read(BufferedReader in) {
        String why = "the host closed the watchdog's input";
        try {
            String line;
            while ((line = in.readLine()) != null) {
                String bad = apply(line.trim().split(" "));
                if (bad != null) {
                    why = bad;
                    break;
                }
            }
        } catch (IOException e) {
            why = "reading the host's input failed: " + e.getMessage();
        }
        synchronized (this) {
            ended = true;
            endReason = why;
            notifyAll();
        }
    }

    /** @return why to stop, or null */
    private synchronized String apply(String[] w) {
        try {
            switch (w[0]) {
                case "clock" -> {
                    long behind = System.nanoTime() - Long.parseLong(w[1]);
                    if (behind < 0 || behind > CLOCK_SLACK) {
                        return "clock " + w[1] + " is not this machine's monotonic clock (" + behind + " ns apart)";
                    }
                }
                case "arm" -> armed.put(w[1], Long.parseLong(w[2]));
                case "disarm" -> armed.remove(w[1]);
                default -> {
                    return "unknown line: " + String.join(" ", w);
                }
            }
        } catch (RuntimeException e) {
            return "malformed line: " + String.join(" ", w);
        }
        notifyAll();
        return null;
    }

    /** @return the exit status once the host exited, closed the input, or was killed */
    private synchronized int watch(ProcessHandle host) throws InterruptedException {
        log("watching host process " + host.pid());
        while (true) {
            if (ended) {
                log(endReason + "; exiting");
                return endReason.startsWith("clock ") ? WRONG_CLOCK : 0;
            }
            if (!host.isAlive()) {
                log("host process " + host.pid() + " exited");
                return 0;
            }
            long now = System.nanoTime();
            String first = null;
            long at = 0;
            for (Map.Entry<String, Long> e : armed.entrySet()) {
                if (first == null || e.getValue() - at < 0) {
                    first = e.getKey();
                    at = e.getValue();
                }
            }
            if (first != null && now - at >= 0) {
                log("host process " + host.pid() + " let the lease deadline of " + first + " pass "
                        + TimeUnit.NANOSECONDS.toMillis(now - at) + " ms ago without renewing it or giving it up "
                        + "(stopped, or stalled); killing it before another host may take its leases");
                host.destroyForcibly();
                long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
                while (!dead(host) && System.nanoTime() - end < 0) {
                    wait(100);
                }
                log("host process " + host.pid() + (dead(host) ? " killed" : " has not exited 30 s after SIGKILL"));
                return 0;
            }
            long wait = TimeUnit.SECONDS.toNanos(1);
            if (first != null) {
                wait = Math.min(wait, at - now);
            }
            TimeUnit.NANOSECONDS.timedWait(this, Math.max(1, wait));
        }
    }

    /**
     * @return whether {@code p} has exited: gone, or a zombie (dead, but its parent, perhaps
     *     stopped itself, has not reaped it yet)
     */
    private static boolean dead(ProcessHandle p) {
        if (!p.isAlive()) {
            return true;
        }
        try {
            String stat = java.nio.file.Files.readString(java.nio.file.Path.of("/proc", Long.toString(p.pid()), "stat"));
            // pid (comm) state ...: comm may hold spaces and parentheses, the state follows the last ')'
            int i = stat.lastIndexOf(')');
            return i > 0 && i + 2 < stat.length() && stat.charAt(i + 2) == 'Z';
        } catch (IOException | RuntimeException e) {
            return !p.isAlive();
        }
    }

    private static void log(String line) {
        System.out.println(Instant.now() + " strata lease watchdog: " + line);
        System.out.flush();
    }
}

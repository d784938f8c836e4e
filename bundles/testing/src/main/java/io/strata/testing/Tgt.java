package io.strata.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A private tgt iSCSI target daemon for tests: its own control port ({@code tgtd -C N}) and its
 * own iSCSI port (13260 and up, whichever is free), listening on the portals 127.0.0.1 and
 * 127.0.0.2. Targets and LUNs are made on sparse files in a directory the test gives.
 *
 * <p>It can drop sessions ({@code tgtadm --op delete --mode conn}), block and unblock a portal with
 * an iptables rule scoped to its port, and set a target offline. {@link #close()} removes every
 * iptables rule it added and stops the daemon by PID ({@code tgtadm --op delete --mode system},
 * then {@code kill -9} if it is still alive); a JVM shutdown hook does the same when a test
 * forgets or the JVM is ending.
 *
 * <p>Needs root and the tgt package; tests call {@link #unavailableReason()} in a JUnit
 * assumption and are skipped without them.
 */
public final class Tgt implements AutoCloseable {
    /** The first portal address. */
    public static final String PORTAL_1 = "127.0.0.1";
    /** The second portal address (answers on lo like every 127/8 address). */
    public static final String PORTAL_2 = "127.0.0.2";

    private static final Path LIBISCSI = Path.of("/usr/lib/x86_64-linux-gnu/libiscsi.so.7");
    private static final Pattern SESSION = Pattern.compile("^\\s*Session:\\s*(\\d+)", Pattern.MULTILINE);

    private final Path dir;
    private final int control;
    private final int port;
    private final Process process;
    private final Thread hook;
    private final Set<String> iptablesRules = new LinkedHashSet<>();
    private boolean closed;

    /** A target made with {@link #addTarget}. */
    public record Target(int tid, String iqn) {
    }

    private Tgt(Path dir, int control, int port, Process process) {
        this.dir = dir;
        this.control = control;
        this.port = port;
        this.process = process;
        this.hook = new Thread(this::stop, "tgt-" + control + "-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
    }

    /**
     * @return why tgt tests cannot run here (not root, tgtd, tgtadm, iptables or libiscsi.so.7
     *         missing), or empty when they can
     */
    public static Optional<String> unavailableReason() {
        if (!"root".equals(System.getProperty("user.name"))) {
            return Optional.of("tgt tests need root");
        }
        for (String tool : List.of("tgtd", "tgtadm", "iptables")) {
            if (which(tool).isEmpty()) {
                return Optional.of(tool + " is not installed");
            }
        }
        if (!Files.exists(LIBISCSI)) {
            return Optional.of("libiscsi7 (" + LIBISCSI + ") is not installed");
        }
        return Optional.empty();
    }

    private static Optional<Path> which(String tool) {
        for (String d : List.of("/usr/sbin", "/usr/bin", "/sbin", "/bin", "/usr/local/sbin", "/usr/local/bin")) {
            Path p = Path.of(d, tool);
            if (Files.isExecutable(p)) {
                return Optional.of(p);
            }
        }
        return Optional.empty();
    }

    /**
     * Starts a private tgtd with both portals on a free port.
     *
     * @param dir where LUN files and the daemon's log go
     * @return the running daemon
     */
    public static Tgt start(Path dir) {
        IOException last = null;
        for (int attempt = 0; attempt < 30; attempt++) {
            int control = Ports.pick(100, 800);
            if (!controlFree(control)) {
                continue;
            }
            int port = freePort();
            Tgt t = null;
            try {
                Path log = dir.resolve("tgtd-" + control + ".log");
                Process p = new ProcessBuilder("tgtd", "-f", "-C", Integer.toString(control),
                        "--iscsi", "portal=" + PORTAL_2 + ":" + port)
                        .redirectErrorStream(true).redirectOutput(log.toFile()).start();
                t = new Tgt(dir, control, port, p);
                if (t.awaitReady()) {
                    t.tgtadm("--op", "new", "--mode", "portal", "--param", "portal=" + PORTAL_1 + ":" + port);
                    // Alive: not a second tgtd that found the control port taken (by the tgtd
                    // of another test process, started at the same moment) and exited, leaving
                    // the answers to that one.
                    if (t.answers(PORTAL_1) && t.answers(PORTAL_2) && p.isAlive()) {
                        return t;
                    }
                }
                t.close();
            } catch (IOException e) {
                last = e;
                if (t != null) {
                    t.close();
                }
            }
        }
        throw new IllegalStateException("could not start a private tgtd", last);
    }

    private static Path socketFile(int control) {
        return Path.of("/var/run/tgtd/socket." + control);
    }

    private static Path lockFile(int control) {
        return Path.of("/var/run/tgtd/socket." + control + ".lock");
    }

    /**
     * Whether no tgtd uses control port {@code control}. A running tgtd holds a POSIX lock on
     * its {@code socket.N.lock}; the files of one that was killed stay behind and, over many
     * runs, would take up the whole range, so they are removed here.
     */
    private static boolean controlFree(int control) {
        Path lock = lockFile(control);
        if (!Files.exists(lock)) {
            return !Files.exists(socketFile(control));
        }
        try (FileChannel ch = FileChannel.open(lock, StandardOpenOption.WRITE);
                java.nio.channels.FileLock held = ch.tryLock(0, 1, false)) {
            if (held == null) {
                return false; // a live tgtd
            }
            Files.deleteIfExists(socketFile(control));
            Files.deleteIfExists(lock);
            return true;
        } catch (IOException | java.nio.channels.OverlappingFileLockException e) {
            return false;
        }
    }

    private static int freePort() {
        for (int i = 0; i < 200; i++) {
            int candidate = Ports.pick(13260, 2000);
            if (free(PORTAL_1, candidate) && free(PORTAL_2, candidate)) {
                return candidate;
            }
        }
        throw new IllegalStateException("no free port from 13260 up");
    }

    private static boolean free(String address, int port) {
        try (ServerSocket s = new ServerSocket()) {
            s.bind(new InetSocketAddress(InetAddress.getByName(address), port));
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private boolean awaitReady() throws IOException {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (System.nanoTime() < end && process.isAlive()) {
            if (run("tgtadm", "-C", Integer.toString(control), "--op", "show", "--mode", "sys").ok()) {
                return true;
            }
            sleep(50);
        }
        return false;
    }

    private boolean answers(String address) {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (System.nanoTime() < end) {
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress(InetAddress.getByName(address), port), 500);
                return true;
            } catch (IOException e) {
                sleep(50);
            }
        }
        return false;
    }

    /** @return the daemon's control port ({@code tgtadm -C}) */
    public int controlPort() {
        return control;
    }

    /** @return the iSCSI port both portals listen on */
    public int port() {
        return port;
    }

    /** @return {@code 127.0.0.1:port} */
    public String portal1() {
        return PORTAL_1 + ":" + port;
    }

    /** @return {@code 127.0.0.2:port} */
    public String portal2() {
        return PORTAL_2 + ":" + port;
    }

    /** @return the tgtd process id */
    public long pid() {
        return process.pid();
    }

    /**
     * Creates a target that every initiator may log in to.
     *
     * @param tid the target id, 1 and up
     * @param iqn its name
     * @return the target
     */
    public Target addTarget(int tid, String iqn) {
        tgtadm("--op", "new", "--mode", "target", "--tid", Integer.toString(tid), "-T", iqn);
        tgtadm("--op", "bind", "--mode", "target", "--tid", Integer.toString(tid), "-I", "ALL");
        return new Target(tid, iqn);
    }

    /**
     * Adds a LUN on a new sparse file {@code <name>.img} in the directory.
     *
     * @param target the target
     * @param lun the LUN number, 1 and up (LUN 0 is tgt's controller)
     * @param name the file's base name
     * @param size the size in bytes
     * @param thin true to turn on thin provisioning (UNMAP, WRITE SAME with unmap)
     * @return the backing file
     */
    public Path addLun(Target target, int lun, String name, long size, boolean thin) {
        Path file = dir.resolve(name + ".img");
        try {
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
                ch.truncate(0);
                ch.write(ByteBuffer.allocate(1), size - 1);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        String tid = Integer.toString(target.tid());
        tgtadm("--op", "new", "--mode", "logicalunit", "--tid", tid, "--lun", Integer.toString(lun),
                "-b", file.toString());
        if (thin) {
            tgtadm("--op", "update", "--mode", "logicalunit", "--tid", tid, "--lun", Integer.toString(lun),
                    "--params", "thin_provisioning=1");
        }
        return file;
    }

    /**
     * Requires CHAP for a target.
     *
     * @param target the target
     * @param user the account
     * @param secret its secret (12 to 16 characters for most initiators)
     */
    public void chap(Target target, String user, String secret) {
        tgtadm("--op", "new", "--mode", "account", "--user", user, "--password", secret);
        tgtadm("--op", "bind", "--mode", "account", "--tid", Integer.toString(target.tid()), "--user", user);
    }

    /** @return the session ids of a target's sessions now */
    public List<Integer> sessions(Target target) {
        String out = tgtadm("--op", "show", "--mode", "conn", "--tid", Integer.toString(target.tid()));
        List<Integer> ids = new ArrayList<>();
        Matcher m = SESSION.matcher(out);
        while (m.find()) {
            ids.add(Integer.parseInt(m.group(1)));
        }
        return ids;
    }

    /**
     * Drops one session the way a target restart or a network blip would.
     *
     * @param target the target
     * @param sid the session id from {@link #sessions}
     */
    public void dropSession(Target target, int sid) {
        tgtadm("--op", "delete", "--mode", "conn", "--tid", Integer.toString(target.tid()),
                "--sid", Integer.toString(sid), "--cid", "0");
    }

    /**
     * Sets a target offline (commands fail) or back online.
     *
     * @param target the target
     * @param online false for offline
     */
    public void setOnline(Target target, boolean online) {
        tgtadm("--op", "update", "--mode", "target", "--tid", Integer.toString(target.tid()),
                "--name", "state", "--value", online ? "ready" : "offline");
    }

    /**
     * Drops every packet to one portal (on this daemon's port only), so commands on it time out.
     *
     * @param address {@link #PORTAL_1} or {@link #PORTAL_2}
     */
    public synchronized void block(String address) {
        String rule = address;
        if (iptablesRules.add(rule)) {
            iptables("-I", rule);
        }
    }

    /** Removes the rule {@link #block} added. */
    public synchronized void unblock(String address) {
        if (iptablesRules.remove(address)) {
            iptables("-D", address);
        }
    }

    private void iptables(String op, String address) {
        // -w: wait for the xtables lock, which another test's iptables (in another test
        // process) may hold for a moment.
        Result r = run("iptables", "-w", op, "INPUT", "-d", address, "-p", "tcp", "--dport",
                Integer.toString(port), "-j", "DROP");
        if (!r.ok()) {
            throw new IllegalStateException("iptables " + op + " failed: " + r.output());
        }
    }

    /**
     * Runs tgtadm against this daemon.
     *
     * @param args the arguments after {@code -C N --lld iscsi}
     * @return its output
     */
    public String tgtadm(String... args) {
        List<String> cmd = new ArrayList<>(List.of("tgtadm", "-C", Integer.toString(control), "--lld", "iscsi"));
        cmd.addAll(List.of(args));
        Result r = run(cmd.toArray(String[]::new));
        if (!r.ok()) {
            throw new IllegalStateException(String.join(" ", cmd) + " failed: " + r.output());
        }
        return r.output();
    }

    /** Removes the iptables rules and stops the daemon by PID. Never throws. */
    @Override
    public void close() {
        stop();
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException e) {
            // the JVM is shutting down: the hook runs stop() itself
        }
    }

    private synchronized void stop() {
        if (closed) {
            return;
        }
        closed = true;
        for (String address : List.copyOf(iptablesRules)) {
            try {
                unblock(address);
            } catch (RuntimeException e) {
                // best effort; keep stopping
            }
        }
        if (process.isAlive()) {
            run("tgtadm", "-C", Integer.toString(control), "--op", "delete", "--mode", "system");
            try {
                if (!process.waitFor(1, TimeUnit.SECONDS)) {
                    process.destroyForcibly();
                    process.waitFor(5, TimeUnit.SECONDS);
                }
            } catch (InterruptedException e) {
                process.destroyForcibly();
                Thread.currentThread().interrupt();
            }
        }
        if (!process.isAlive()) {
            controlFree(control); // removes the socket files the daemon left
        }
    }

    private record Result(int rc, String output) {
        boolean ok() {
            return rc == 0;
        }
    }

    private static Result run(String... cmd) {
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            p.getOutputStream().close();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(30, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                return new Result(-1, out + " (timed out)");
            }
            return new Result(p.exitValue(), out.trim());
        } catch (IOException e) {
            return new Result(-1, e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return new Result(-1, "interrupted");
        }
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}

package io.strata.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * A private nfs-ganesha NFS server for tests (FSAL VFS): NFSv3 and v4 on 127.0.0.1, on ports of
 * its own (NFS, MOUNT, NLM and RQUOTA on four free ports from 12000 up), its configuration,
 * log, PID file and recovery directory in a directory the test gives, and one export of a
 * directory there, {@link #exportDir()}, as {@link #exportPath()} (full access, no root squash),
 * plus, for error tests, a read-only export, a root-squashing one whose directory only root may
 * write, and one that admits no client of this host.
 *
 * <p>ganesha exits at start without a portmapper, so one is started when none listens on port
 * 111 ({@code rpcbind -f -w}, run plain: {@code rpcbind -h 127.0.0.1} crashes here), and stopped
 * with the last server this JVM started. {@link #close()} stops the server by PID (SIGTERM,
 * then SIGKILL); {@link #stop()} and {@link #start()} take it away and bring it back on the same
 * ports and export, for outage tests. A JVM shutdown hook stops whatever is left.
 */
public final class Ganesha implements AutoCloseable {
    private static final Path NFSD = Path.of("/usr/bin/ganesha.nfsd");
    private static final Path VFS_FSAL = Path.of("/usr/lib/x86_64-linux-gnu/ganesha/libfsalvfs.so");
    private static final Object RPCBIND_LOCK = new Object();
    private static Process rpcbind; // guarded by RPCBIND_LOCK
    private static int users; // guarded by RPCBIND_LOCK

    private final Path dir;
    private final Path export;
    private final int nfsPort;
    private final int mountPort;
    private final Thread hook;
    private Process process;
    private boolean usesRpcbind;
    private boolean closed;

    private Ganesha(Path dir, int nfsPort, int mountPort) {
        this.dir = dir;
        this.export = dir.resolve("export");
        this.nfsPort = nfsPort;
        this.mountPort = mountPort;
        this.hook = new Thread(this::stopQuietly, "ganesha-" + nfsPort + "-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
    }

    /** @return why ganesha tests cannot run here (not root, nfs-ganesha, its VFS FSAL or rpcbind missing), or empty */
    public static Optional<String> unavailableReason() {
        if (!"root".equals(System.getProperty("user.name"))) {
            return Optional.of("nfs-ganesha tests need root");
        }
        if (!Files.isExecutable(NFSD)) {
            return Optional.of("nfs-ganesha is not installed (" + NFSD + ")");
        }
        if (!Files.exists(VFS_FSAL)) {
            return Optional.of("nfs-ganesha-vfs is not installed (" + VFS_FSAL + ")");
        }
        if (!Files.isExecutable(Path.of("/usr/sbin/rpcbind")) && !Files.isExecutable(Path.of("/sbin/rpcbind"))) {
            return Optional.of("rpcbind is not installed");
        }
        return Optional.empty();
    }

    /**
     * Starts a server exporting a new directory under {@code dir}.
     *
     * @param dir where the export, configuration and log go
     * @return the running server
     */
    public static Ganesha start(Path dir) {
        IllegalStateException last = null;
        for (int attempt = 0; attempt < 10; attempt++) {
            int base = 12000 + 4 * Ports.pick(0, 500);
            if (!(free(base) && free(base + 1) && free(base + 2) && free(base + 3))) {
                continue;
            }
            Ganesha g = new Ganesha(dir, base, base + 1);
            try {
                Files.createDirectories(g.export);
                Files.createDirectories(dir.resolve("readonly"));
                Files.createDirectories(dir.resolve("nobody"));
                Files.createDirectories(dir.resolve("squashed"));
                Files.setPosixFilePermissions(dir.resolve("squashed"),
                        java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
                Files.createDirectories(dir.resolve("recovery"));
                g.writeConfig(base);
                g.start();
                return g;
            } catch (IOException e) {
                g.close();
                last = new IllegalStateException(e);
            } catch (IllegalStateException e) {
                g.close();
                last = e;
            }
        }
        throw last != null ? last : new IllegalStateException("no four free ports from 12000 up for ganesha");
    }

    private void writeConfig(int base) throws IOException {
        String conf = """
                NFS_CORE_PARAM {
                    Bind_addr = 127.0.0.1;
                    NFS_Port = %d; MNT_Port = %d; NLM_Port = %d; Rquota_Port = %d;
                    Enable_NLM = false; Enable_RQUOTA = false; Enable_UDP = false;
                    Protocols = 3, 4;
                }
                NFSV4 { Graceless = true; RecoveryBackend = fs; Lease_Lifetime = 20; }
                NFS_KRB5 { Active_krb5 = false; }
                EXPORT {
                    Export_Id = 1; Path = %s; Pseudo = /strata1; Access_Type = RW;
                    Squash = No_Root_Squash; SecType = sys; Protocols = 3, 4; Transports = TCP;
                    FSAL { Name = VFS; }
                }
                EXPORT {
                    Export_Id = 2; Path = %s; Pseudo = /strata2; Access_Type = RO;
                    Squash = No_Root_Squash; SecType = sys; Protocols = 3, 4; Transports = TCP;
                    FSAL { Name = VFS; }
                }
                EXPORT {
                    Export_Id = 4; Path = %s; Pseudo = /strata4; Access_Type = RW;
                    Squash = Root_Squash; SecType = sys; Protocols = 3, 4; Transports = TCP;
                    FSAL { Name = VFS; }
                }
                EXPORT {
                    Export_Id = 3; Path = %s; Pseudo = /strata3; Access_Type = None;
                    Squash = No_Root_Squash; SecType = sys; Protocols = 3, 4; Transports = TCP;
                    CLIENT { Clients = 10.255.255.1; Access_Type = RW; }
                    FSAL { Name = VFS; }
                }
                """.formatted(base, base + 1, base + 2, base + 3, export, dir.resolve("readonly"),
                dir.resolve("squashed"), dir.resolve("nobody"));
        Files.writeString(dir.resolve("ganesha.conf"), conf);
    }

    /** Starts (again) the server on its ports and exports; waits until NFS and MOUNT answer. */
    public synchronized void start() {
        if (process != null && process.isAlive()) {
            return;
        }
        if (!usesRpcbind) {
            ensureRpcbind();
            usesRpcbind = true;
        }
        try {
            Path log = dir.resolve("ganesha.log");
            process = new ProcessBuilder(NFSD.toString(), "-F", "-f", dir.resolve("ganesha.conf").toString(), "-L",
                    log.toString(), "-N", "NIV_EVENT", "-p", dir.resolve("ganesha.pid").toString())
                    .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(
                            dir.resolve("ganesha.out").toFile())).start();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (System.nanoTime() < end) {
            if (!process.isAlive()) {
                throw new IllegalStateException("ganesha exited at start (" + process.exitValue() + "): " + tail());
            }
            if (answers(nfsPort) && answers(mountPort)) {
                return;
            }
            sleep(100);
        }
        stopQuietly();
        throw new IllegalStateException("ganesha did not listen on " + nfsPort + "/" + mountPort + " within 60 s: "
                + tail());
    }

    private String tail() {
        try {
            List<String> lines = Files.readAllLines(dir.resolve("ganesha.log"), StandardCharsets.UTF_8);
            return String.join("\n", lines.subList(Math.max(0, lines.size() - 15), lines.size()));
        } catch (IOException e) {
            return "(no log)";
        }
    }

    /** Stops the server by PID (SIGTERM, then SIGKILL after 10 s), keeping its export and configuration. */
    public synchronized void stop() {
        if (process == null) {
            return;
        }
        process.destroy();
        try {
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                process.waitFor(10, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            process.destroyForcibly();
        }
        process = null;
    }

    /**
     * Makes this server the one rpcbind names for NFS and MOUNT, so that clients finding ports
     * through rpcbind (QEMU's libnfs) reach it. Each ganesha registers at start and unregisters
     * at exit, so another server started later, or one that stopped, may hold or have cleared
     * the names; a restart registers them again.
     *
     * @throws IllegalStateException when they are still not this server's after a restart
     */
    public synchronized void ensureRegistered() {
        if (registered()) {
            return;
        }
        stop();
        start();
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!registered()) {
            if (System.nanoTime() > end) {
                throw new IllegalStateException("rpcbind does not name this ganesha (NFS " + nfsPort + ", MOUNT "
                        + mountPort + ") after a restart:\n" + rpcinfo());
            }
            sleep(100);
        }
    }

    /** @return whether rpcbind names this server's ports for NFSv3 and MOUNTv3 over TCP */
    public boolean registered() {
        String table = rpcinfo();
        return java.util.regex.Pattern.compile("(?m)^\\s*100003\\s+3\\s+tcp\\s+" + nfsPort + "\\s").matcher(table).find()
                && java.util.regex.Pattern.compile("(?m)^\\s*100005\\s+3\\s+tcp\\s+" + mountPort + "\\s")
                        .matcher(table).find();
    }

    private static String rpcinfo() {
        try {
            Process p = new ProcessBuilder("rpcinfo", "-p", "127.0.0.1").redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            p.waitFor(10, TimeUnit.SECONDS);
            return out;
        } catch (IOException e) {
            return "(rpcinfo failed: " + e.getMessage() + ")";
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "(interrupted)";
        }
    }

    /** Kills the server (SIGKILL): what it held in memory and had not written is gone. */
    public synchronized void kill() {
        if (process == null) {
            return;
        }
        process.destroyForcibly();
        try {
            process.waitFor(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        process = null;
    }

    /** @return the directory exported read-write as {@link #exportPath()} */
    public Path exportDir() {
        return export;
    }

    /** @return the export's path as MOUNT knows it (its directory) */
    public String exportPath() {
        return export.toString();
    }

    /** @return the path of an export that is read-only */
    public String readOnlyExportPath() {
        return dir.resolve("readonly").toString();
    }

    /**
     * @return the path of an export that maps root to an anonymous user (root squash), whose
     *         directory only root may write: creating a file there is refused
     */
    public String squashedExportPath() {
        return dir.resolve("squashed").toString();
    }

    /** @return the path of an export this host may not mount (the server does not list it to this host) */
    public String deniedExportPath() {
        return dir.resolve("nobody").toString();
    }

    public int nfsPort() {
        return nfsPort;
    }

    public int mountPort() {
        return mountPort;
    }

    /** @return the server's PID, -1 when stopped */
    public synchronized long pid() {
        return process == null ? -1 : process.pid();
    }

    private static boolean free(int port) {
        try (ServerSocket s = new ServerSocket()) {
            s.bind(new InetSocketAddress(InetAddress.getByName("127.0.0.1"), port));
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private static boolean answers(int port) {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 500);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private static void ensureRpcbind() {
        synchronized (RPCBIND_LOCK) {
            users++;
            if (answers(111)) {
                return;
            }
            Path bin = Files.isExecutable(Path.of("/usr/sbin/rpcbind")) ? Path.of("/usr/sbin/rpcbind")
                    : Path.of("/sbin/rpcbind");
            try {
                Files.createDirectories(Path.of("/run/rpcbind"));
                rpcbind = new ProcessBuilder(bin.toString(), "-f", "-w").redirectErrorStream(true)
                        .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
                Process started = rpcbind;
                Runtime.getRuntime().addShutdownHook(new Thread(started::destroyForcibly, "rpcbind-shutdown"));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (System.nanoTime() < end && !answers(111)) {
                if (!rpcbind.isAlive()) {
                    throw new IllegalStateException("rpcbind exited at start");
                }
                sleep(50);
            }
        }
    }

    private static void releaseRpcbind() {
        synchronized (RPCBIND_LOCK) {
            users--;
            if (users <= 0 && rpcbind != null) {
                rpcbind.destroy();
                try {
                    if (!rpcbind.waitFor(5, TimeUnit.SECONDS)) {
                        rpcbind.destroyForcibly();
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                rpcbind = null;
                users = 0;
            }
        }
    }

    private void stopQuietly() {
        try {
            stop();
        } catch (RuntimeException e) {
            // stopping anyway
        }
    }

    /** Stops the server (and the portmapper it started, with the last server). Never throws. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        stopQuietly();
        if (usesRpcbind) {
            releaseRpcbind();
        }
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException e) {
            // the JVM is ending
        }
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public String toString() {
        return "ganesha 127.0.0.1:" + nfsPort + " (mount " + mountPort + ") " + export;
    }
}

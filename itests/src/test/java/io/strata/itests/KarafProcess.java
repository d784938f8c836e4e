package io.strata.itests;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import org.apache.sshd.client.SshClient;
import org.apache.sshd.client.channel.ChannelExec;
import org.apache.sshd.client.channel.ClientChannelEvent;
import org.apache.sshd.client.keyverifier.AcceptAllServerKeyVerifier;
import org.apache.sshd.client.session.ClientSession;
import org.apache.sshd.common.keyprovider.KeyIdentityProvider;

/**
 * A copy of the assembled Strata distribution run as a real process, for the tests
 * that Pax Exam cannot do inside one container: stop and start again, kill -9.
 *
 * <p>The distribution's tar.gz (from the local Maven repository, where the reactor
 * installed it) is unpacked into {@code target/karaf-process/<name>}; SSH and the two
 * RMI ports get free port numbers in {@code etc/}, so a run never clashes with a
 * developer's instance or another test. {@code bin/karaf server} is started with its
 * console output in {@code console.log} in that directory. Commands run over SSH from
 * this JVM (Apache MINA SSHD client, user karaf), which is faster than starting
 * {@code bin/client} for every command and gives the command's exit status: 0 on
 * success, 1 when the command threw (its one-line error is on the error stream).
 */
final class KarafProcess implements AutoCloseable {

    static final Duration BOOT_TIMEOUT = Duration.ofSeconds(180);
    static final Duration COMMAND_TIMEOUT = Duration.ofSeconds(180);
    /**
     * For each SSH step before the command runs: connect, log in, open the channel. A 10 s
     * limit once failed a password login on a loaded CI machine with both test processes
     * running (stop 36), and a 60 s one a channel in `KillNineIT` on 7 Dec (the instance
     * logged nothing for that minute, its sessions before had logged in within 0.2 s: the
     * machine stalled, not the command, which never began). Nothing is lost by waiting
     * longer, and the command itself has {@link #COMMAND_TIMEOUT}.
     */
    static final long SSH_STEP_SECONDS = 180;
    /**
     * How often a command is tried when its SSH session ends before the command was sent.
     * A CI run on 7 Dec (stop 47) had one login in `RestartIT` fail with "Session is being
     * closed" (the session closed under the password exchange), dozens of commands into a
     * healthy instance that ran the next test fine; the command had not reached the shell.
     * A dead instance still fails at once: there is no retry without a live process.
     */
    static final int LOGIN_ATTEMPTS = 3;

    private static final Pattern ANSI = Pattern.compile("\u001B\\[[0-9;?]*[A-Za-z]");

    /** What one command did. {@code exit} is null when the connection was lost before its end. */
    static final class Result {
        final String command;
        final Integer exit;
        final String out;
        final String err;

        Result(String command, Integer exit, String out, String err) {
            this.command = command;
            this.exit = exit;
            this.out = out;
            this.err = err;
        }

        boolean ok() {
            return exit != null && exit == 0;
        }

        /** The error line Karaf printed, without its "Error executing command: " prefix. */
        String error() {
            String text = (err + "\n" + out).trim();
            for (String line : text.split("\\R")) {
                int i = line.indexOf("Error executing command: ");
                if (i >= 0) {
                    return line.substring(i + "Error executing command: ".length()).trim();
                }
            }
            return text;
        }

        @Override
        public String toString() {
            return "$ " + command + "  [exit " + exit + "]\n" + out + (err.isBlank() ? "" : "[stderr] " + err);
        }
    }

    static {
        // The SSH client warns about every unverified host key (they are all fresh here).
        System.setProperty("org.slf4j.simpleLogger.log.org.apache.sshd", "error");
    }

    private final Path home;
    private final int sshPort;
    /** Where the container's NBD server listens. */
    final int nbdPort;
    private Process process;
    private SshClient ssh;
    private final int httpsPort;

    /** Unpacks a fresh copy of the distribution into {@code target/karaf-process/<name>}. */
    KarafProcess(String name) throws IOException, InterruptedException {
        home = Paths.get("target", "karaf-process", name).toAbsolutePath();
        deleteTree(home);
        Files.createDirectories(home);
        Path archive = distribution();
        HostTools.run(List.of("tar", "xzf", archive.toString(), "-C", home.toString(), "--strip-components=1"));
        sshPort = freePort();
        setProperty("etc/org.apache.karaf.shell.cfg", "sshPort", Integer.toString(sshPort));
        setProperty("etc/org.apache.karaf.management.cfg", "rmiRegistryPort", Integer.toString(freePort()));
        setProperty("etc/org.apache.karaf.management.cfg", "rmiServerPort", Integer.toString(freePort()));
        nbdPort = freePort();
        setProperty("etc/io.strata.nbd.cfg", "port", Integer.toString(nbdPort));
        httpsPort = freePort();
        setProperty("etc/org.ops4j.pax.web.cfg", "org.osgi.service.http.port.secure", Integer.toString(httpsPort));
    }

    /** @return the port of this instance's HTTPS listener (the REST API) */
    int httpsPort() {
        return httpsPort;
    }

    /** @return the base URI of this instance's REST API */
    String apiBase() {
        return "https://127.0.0.1:" + httpsPort + "/api/v1";
    }

    /**
     * The distribution tar.gz installed in the local Maven repository, or the one named by
     * the system property {@code strata.distribution}.
     */
    static Path distribution() {
        String override = System.getProperty("strata.distribution");
        if (override != null && !override.isBlank()) {
            return Paths.get(override);
        }
        String version = System.getProperty("strata.version", "0.1.0-SNAPSHOT");
        String repo = System.getProperty("strata.localRepository",
                System.getProperty("user.home") + "/.m2/repository");
        Path archive = Paths.get(repo, "io", "strata", "strata-distribution", version,
                "strata-distribution-" + version + ".tar.gz");
        if (!Files.isRegularFile(archive)) {
            throw new IllegalStateException("distribution not built: " + archive
                    + " (mvn install -pl karaf-features/features,karaf-features/distribution)");
        }
        return archive;
    }

    Path home() {
        return home;
    }

    /** {@code data/} of the instance ({@code karaf.data}). */
    Path data() {
        return home.resolve("data");
    }

    boolean isRunning() {
        return process != null && process.isAlive();
    }

    /**
     * Starts {@code bin/karaf server} and waits until {@code storage:datastore-list}
     * answers and shows the {@code local} datastore ONLINE.
     */
    void start() throws IOException {
        if (isRunning()) {
            throw new IllegalStateException("already running");
        }
        ProcessBuilder pb = new ProcessBuilder(home.resolve("bin/karaf").toString(), "server")
                .directory(home.toFile())
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(home.resolve("console.log").toFile()));
        pb.environment().put("JAVA_HOME", System.getProperty("java.home"));
        // Boot speed matters more than peak speed here (each test boots several times on a
        // small CI machine): C1 only and the serial collector about halve the boot time
        // when the cores are busy.
        pb.environment().merge("EXTRA_JAVA_OPTS", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC",
                (a, b) -> a + " " + b);
        // The ext4 layer runs mkfs/losetup/mount; make the sbin directories findable.
        pb.environment().merge("PATH", "/usr/local/sbin:/usr/sbin:/sbin", (a, b) -> a + ":" + b);
        process = pb.start();
        if (ssh == null) {
            ssh = SshClient.setUpDefaultClient();
            ssh.setServerKeyVerifier(AcceptAllServerKeyVerifier.INSTANCE);
            ssh.setKeyIdentityProvider(KeyIdentityProvider.EMPTY_KEYS_PROVIDER);
            ssh.start();
        }
        awaitOutput("storage:datastore-list --no-format", BOOT_TIMEOUT,
                out -> out.lines().anyMatch(l -> l.startsWith("local\t") && l.contains("\tONLINE\t")));
    }

    /**
     * Runs a command line over SSH. Never throws for a failed command or a lost
     * connection: the result says what happened.
     */
    Result exec(String command) {
        return exec(command, COMMAND_TIMEOUT);
    }

    Result exec(String command, Duration timeout) {
        return exec(command, timeout, LOGIN_ATTEMPTS);
    }

    private Result exec(String command, Duration timeout, int attempts) {
        for (int attempt = 1;; attempt++) {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            ByteArrayOutputStream err = new ByteArrayOutputStream();
            Integer exit = null;
            boolean sent = false;
            try (ClientSession session = ssh.connect("karaf", "127.0.0.1", sshPort)
                    .verify(SSH_STEP_SECONDS, TimeUnit.SECONDS).getSession()) {
                session.addPasswordIdentity("karaf");
                session.auth().verify(SSH_STEP_SECONDS, TimeUnit.SECONDS);
                try (ChannelExec channel = session.createExecChannel(command)) {
                    channel.setOut(out);
                    channel.setErr(err);
                    sent = true;
                    channel.open().verify(SSH_STEP_SECONDS, TimeUnit.SECONDS);
                    channel.waitFor(EnumSet.of(ClientChannelEvent.CLOSED), timeout.toMillis());
                    exit = channel.getExitStatus();
                }
            } catch (IOException | RuntimeException e) {
                if (!sent && attempt < attempts && isRunning()) {
                    // The session ended before the command was asked for, so the shell never
                    // saw it and running it again cannot run it twice.
                    System.err.printf("[%s] SSH login for `%s` failed (%s); attempt %d of %d. The log's last"
                            + " warnings:%n%s%n", home.getFileName(), command, e, attempt + 1, attempts,
                            lastWarnings(5));
                    sleep(1000);
                    continue;
                }
                err.writeBytes(("[ssh] " + e).getBytes(StandardCharsets.UTF_8));
            }
            return new Result(command, exit, strip(out.toString(StandardCharsets.UTF_8)),
                    strip(err.toString(StandardCharsets.UTF_8)));
        }
    }

    /** The last lines of karaf.log at WARN or ERROR, for a report on a failed login. */
    private String lastWarnings(int count) {
        try (Stream<String> lines = Files.lines(data().resolve("log/karaf.log"), StandardCharsets.UTF_8)) {
            List<String> found = lines.filter(l -> l.contains("| WARN ") || l.contains("| ERROR "))
                    .collect(Collectors.toList());
            return String.join("\n", found.subList(Math.max(0, found.size() - count), found.size()));
        } catch (IOException | UncheckedIOException e) {
            return "(no log: " + e + ")";
        }
    }

    /** Runs a command that must succeed; returns its output. */
    String ok(String command) {
        Result r = exec(command);
        if (!r.ok()) {
            throw new AssertionError("command failed: " + r);
        }
        return r.out;
    }

    /** Runs a command that must fail; returns its error line. */
    String error(String command) {
        Result r = exec(command);
        if (r.exit == null || r.exit == 0) {
            throw new AssertionError("command should have failed: " + r);
        }
        return r.error();
    }

    /** Repeats a command until it succeeds with output the check accepts; returns that output. */
    String awaitOutput(String command, Duration timeout, Predicate<String> check) {
        long deadline = System.nanoTime() + timeout.toNanos();
        Result last = null;
        while (System.nanoTime() < deadline) {
            if (process != null && !process.isAlive()) {
                throw new AssertionError("Karaf exited with " + process.exitValue() + " while waiting for `"
                        + command + "`; see " + home.resolve("console.log"));
            }
            String bootError = bootError();
            if (bootError != null) {
                throw new AssertionError("Karaf could not install its boot features: " + bootError + "; see "
                        + data().resolve("log/karaf.log"));
            }
            // Its own loop tries again (a booting instance refuses logins for a while).
            last = exec(command, Duration.ofSeconds(30), 1);
            if (last.ok() && check.test(last.out)) {
                return last.out;
            }
            sleep(500);
        }
        throw new AssertionError("timed out after " + timeout.toSeconds() + "s waiting for `" + command
                + "`; last: " + last);
    }

    /**
     * The deepest cause of a failed boot feature installation in karaf.log (for instance a
     * bundle whose imports do not resolve), or null when there is none. Waiting for the
     * commands would only time out.
     */
    private String bootError() {
        Path log = data().resolve("log/karaf.log");
        if (!Files.isRegularFile(log)) {
            return null;
        }
        try {
            List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
            for (int i = 0; i < lines.size(); i++) {
                if (lines.get(i).contains("Error installing boot features")) {
                    String cause = lines.get(Math.min(i + 1, lines.size() - 1));
                    for (String line : lines.subList(i + 1, lines.size())) {
                        if (line.startsWith("Caused by: ")) {
                            cause = line;
                        }
                    }
                    return cause.trim();
                }
            }
            return null;
        } catch (IOException | UncheckedIOException e) {
            return null;
        }
    }

    /** Stops Karaf cleanly ({@code system:shutdown -f}) and waits for the process to end. */
    void stop() {
        if (!isRunning()) {
            return;
        }
        long started = System.nanoTime();
        exec("system:shutdown -f", Duration.ofSeconds(20));
        try {
            if (!process.waitFor(30, TimeUnit.SECONDS)) {
                // Slow to stop: keep the threads for whoever reads the report, then wait on.
                Path dump = threadDump("stop");
                if (!process.waitFor(60, TimeUnit.SECONDS)) {
                    Path again = threadDump("stop-killed");
                    kill9();
                    throw new AssertionError("Karaf did not stop within 90 s; killed. Threads: " + dump
                            + " and " + again);
                }
            }
            System.err.printf("[%s] stopped in %d ms%n", home.getFileName(),
                    TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted while stopping Karaf", e);
        }
    }

    /**
     * Runs {@code jcmd <container JVM> <command...>} and returns what it printed.
     *
     * @throws AssertionError when there is no container JVM or jcmd fails or hangs
     */
    String jcmd(String... command) throws IOException, InterruptedException {
        ProcessHandle jvm = containerJvms().stream().findFirst()
                .orElseThrow(() -> new AssertionError("no container JVM under " + home));
        List<String> args = new ArrayList<>(List.of("jcmd", Long.toString(jvm.pid())));
        args.addAll(List.of(command));
        Path out = Files.createTempFile(home, "jcmd", ".txt");
        try {
            Process jcmd = new ProcessBuilder(args).redirectErrorStream(true).redirectOutput(out.toFile()).start();
            if (!jcmd.waitFor(60, TimeUnit.SECONDS)) {
                jcmd.destroyForcibly();
                throw new AssertionError("jcmd " + String.join(" ", command) + " did not finish in 60 s");
            }
            String text = Files.readString(out, StandardCharsets.UTF_8);
            if (jcmd.exitValue() != 0) {
                throw new AssertionError("jcmd " + String.join(" ", command) + " failed: " + text);
            }
            return text;
        } finally {
            Files.deleteIfExists(out);
        }
    }

    /** The Java processes under the container's start script (the container JVM), not its lease watchdog. */
    private List<ProcessHandle> containerJvms() {
        return process.toHandle().descendants().filter(h -> h.info().command().orElse("").endsWith("java"))
                .filter(h -> !isWatchdog(h)).toList();
    }

    /** @return whether {@code h} is a lease watchdog (a process the container JVM starts) */
    static boolean isWatchdog(ProcessHandle h) {
        return h.info().arguments().map(a -> String.join(" ", a)).orElse("").contains("io.strata.lease.internal.WatchdogMain");
    }

    /** @return the container's lease watchdog process, if it runs one */
    java.util.Optional<ProcessHandle> watchdog() {
        return process == null ? java.util.Optional.empty()
                : process.toHandle().descendants().filter(KarafProcess::isWatchdog).findFirst();
    }

    /**
     * Stops (SIGSTOP) the container's JVM, as a debugger or a stall of the process would: the
     * rest of the machine runs on, the JVM's lease watchdog and the script that started the JVM
     * too (which reaps the JVM if it is killed). {@link #signal} stops them all, as a stalled
     * machine would.
     */
    void freeze() throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of("kill", "-STOP"));
        containerJvms().forEach(h -> command.add(Long.toString(h.pid())));
        if (command.size() == 2) {
            throw new AssertionError("no container JVM under " + home);
        }
        HostTools.run(command);
    }

    /** @return completes when the launched script (which waits for the container JVM) has exited */
    java.util.concurrent.CompletableFuture<Process> onExit() {
        return process.onExit();
    }

    /** @return whether the launched script has exited within {@code timeout} */
    boolean awaitExit(Duration timeout) throws InterruptedException {
        return process == null || process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
    }

    /**
     * Writes {@code jstack -l} of the container's JVM to {@code threads-<what>-<n>.txt} in its
     * home, and to this test's error stream, so a hang is explained in the report.
     */
    Path threadDump(String what) {
        Path file = home.resolve("threads-" + what + "-" + System.currentTimeMillis() + ".txt");
        try {
            for (ProcessHandle h : containerJvms()) {
                Process jstack = new ProcessBuilder("jstack", "-l", Long.toString(h.pid()))
                        .redirectErrorStream(true).redirectOutput(file.toFile()).start();
                if (!jstack.waitFor(30, TimeUnit.SECONDS)) {
                    jstack.destroyForcibly();
                }
                System.err.println("[" + home.getFileName() + "] threads of " + h.pid() + ":");
                System.err.println(Files.readString(file, StandardCharsets.UTF_8));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (IOException | RuntimeException e) {
            System.err.println("[" + home.getFileName() + "] no thread dump: " + e);
        }
        return file;
    }

    /**
     * SIGKILLs the launched script and every process below it (the Karaf JVM), and
     * waits until they are gone.
     *
     * @return how many processes were killed
     */
    int kill9() {
        if (process == null) {
            return 0;
        }
        List<ProcessHandle> all = new ArrayList<>();
        process.toHandle().descendants().forEach(all::add);
        all.add(process.toHandle());
        // Children first, so the script sees no exit to react to before it dies itself.
        all.forEach(ProcessHandle::destroyForcibly);
        for (ProcessHandle h : all) {
            try {
                h.onExit().get(30, TimeUnit.SECONDS);
            } catch (Exception e) {
                throw new AssertionError("process " + h.pid() + " survived SIGKILL", e);
            }
        }
        return all.size();
    }

    /**
     * Sends a signal ({@code STOP}, {@code CONT}) to the container's JVM and the script that
     * started it: STOP freezes the whole host as a stalled machine would.
     */
    void signal(String signal) throws IOException, InterruptedException {
        if (process == null || !process.isAlive()) {
            return;
        }
        List<String> command = new ArrayList<>(List.of("kill", "-" + signal));
        process.toHandle().descendants().forEach(h -> command.add(Long.toString(h.pid())));
        command.add(Long.toString(process.pid()));
        try {
            HostTools.run(command);
        } catch (IOException | AssertionError e) {
            if (process.isAlive()) { // not just a process that exited meanwhile
                throw e;
            }
        }
    }

    /** Sets {@code key} in an etc/ file of the instance, making the file when it is missing. */
    void configure(String file, String key, String value) throws IOException {
        Path path = home.resolve(file);
        if (!Files.exists(path)) {
            Files.createFile(path);
        }
        setProperty(file, key, value);
    }

    /** Kills what is still running and closes the SSH client. The directory stays for inspection. */
    @Override
    public void close() {
        if (isRunning()) {
            kill9();
        }
        if (ssh != null) {
            try {
                ssh.stop();
            } catch (RuntimeException e) {
                // nothing to keep
            }
            ssh = null;
        }
    }

    // ---------------------------------------------------------------- parsing

    static String strip(String text) {
        return ANSI.matcher(text).replaceAll("").replace("\r", "");
    }

    /** The {@code key: value} lines of an info command. */
    static Map<String, String> keyValues(String text) {
        Map<String, String> map = new LinkedHashMap<>();
        for (String line : text.split("\\R")) {
            int colon = line.indexOf(':');
            if (colon > 0) {
                map.put(line.substring(0, colon).trim(), line.substring(colon + 1).trim());
            }
        }
        return map;
    }

    /** Rows of a table printed with {@code --no-format}. */
    static List<String[]> rows(String text) {
        List<String[]> rows = new ArrayList<>();
        for (String line : text.split("\\R")) {
            if (!line.isBlank()) {
                rows.add(line.split("\t", -1));
            }
        }
        return rows;
    }

    // ---------------------------------------------------------------- helpers

    private void setProperty(String file, String key, String value) throws IOException {
        Path path = home.resolve(file);
        List<String> lines = new ArrayList<>(Files.readAllLines(path, StandardCharsets.ISO_8859_1));
        boolean found = false;
        for (int i = 0; i < lines.size(); i++) {
            if (lines.get(i).matches("\\s*" + Pattern.quote(key) + "\\s*[=:].*")) {
                lines.set(i, key + " = " + value);
                found = true;
            }
        }
        if (!found) {
            lines.add(key + " = " + value);
        }
        Files.write(path, lines, StandardCharsets.ISO_8859_1);
    }

    /** Ports handed out in this JVM: never twice, even once their probe socket is closed. */
    private static final java.util.Set<Integer> GIVEN = java.util.concurrent.ConcurrentHashMap.newKeySet();

    /**
     * A port free now, below the kernel's ephemeral range (32768 and up here): a port the kernel
     * gave to a probe socket can be given again, between the probe and the server's start, to an
     * outgoing connection (this JVM's SSH sessions, an iSCSI login), and a Strata instance then
     * cannot listen on it. The two test processes of {@code ./strata test} pick from separate
     * halves of the range ({@link io.strata.testing.Ports}).
     */
    static int freePort() {
        for (int attempt = 0; attempt < 1000; attempt++) {
            int port = io.strata.testing.Ports.pick(20000, 12000);
            if (!GIVEN.add(port)) {
                continue;
            }
            try (ServerSocket socket = new ServerSocket()) {
                socket.setReuseAddress(false);
                socket.bind(new java.net.InetSocketAddress("0.0.0.0", port));
                return port;
            } catch (IOException e) {
                // in use: another
            }
        }
        throw new IllegalStateException("no free port found between 20000 and 32000");
    }

    static void deleteTree(Path root) throws IOException {
        HostTools.deleteTree(root);
    }

    /** Something to do on one instance. */
    interface Task {
        void run(KarafProcess k) throws Exception;
    }

    /** Runs {@code task} on every instance at once; rethrows the first failure. */
    static void inParallel(List<KarafProcess> ks, Task task) throws Exception {
        java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(ks.size());
        try {
            List<java.util.concurrent.Future<?>> done = new ArrayList<>();
            for (KarafProcess k : ks) {
                done.add(pool.submit(() -> {
                    task.run(k);
                    return null;
                }));
            }
            for (java.util.concurrent.Future<?> f : done) {
                try {
                    f.get(10, TimeUnit.MINUTES);
                } catch (java.util.concurrent.ExecutionException e) {
                    if (e.getCause() instanceof Exception x) {
                        throw x;
                    }
                    throw new AssertionError(e.getCause());
                }
            }
        } finally {
            pool.shutdownNow();
        }
    }

    /**
     * Starts instances at once, then waits for the host to write back what their unpacking
     * left: hundreds of MiB that the first synced heartbeats on a shared LUN or directory would
     * otherwise wait for behind ext4's journal (it commits the data it orders), as long as a
     * stalled LUN, and a host whose heartbeat cannot land for the expiry fences itself.
     */
    static void startAll(List<KarafProcess> ks) throws Exception {
        inParallel(ks, KarafProcess::start);
        Process sync = new ProcessBuilder("sync").redirectErrorStream(true).start();
        if (!sync.waitFor(5, TimeUnit.MINUTES)) {
            sync.destroyForcibly();
        }
    }

    static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted", e);
        }
    }
}

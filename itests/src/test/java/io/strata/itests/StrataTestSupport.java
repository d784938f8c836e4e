package io.strata.itests;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;
import static org.ops4j.pax.exam.CoreOptions.maven;
import static org.ops4j.pax.exam.CoreOptions.systemProperty;
import static org.ops4j.pax.exam.karaf.options.KarafDistributionOption.configureConsole;
import static org.ops4j.pax.exam.karaf.options.KarafDistributionOption.editConfigurationFilePut;
import static org.ops4j.pax.exam.karaf.options.KarafDistributionOption.karafDistributionConfiguration;
import static org.ops4j.pax.exam.karaf.options.KarafDistributionOption.keepRuntimeFolder;
import static org.ops4j.pax.exam.karaf.options.KarafDistributionOption.logLevel;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.PrintStream;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.security.PrivilegedAction;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;
import java.util.function.Predicate;
import java.util.function.Supplier;
import java.util.regex.Pattern;

import javax.inject.Inject;
import javax.security.auth.Subject;

import org.apache.karaf.jaas.boot.principal.RolePrincipal;
import org.apache.karaf.jaas.boot.principal.UserPrincipal;
import org.apache.karaf.shell.api.console.Session;
import org.apache.karaf.shell.api.console.SessionFactory;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.Configuration;
import org.ops4j.pax.exam.Option;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.karaf.options.LogLevelOption.LogLevel;
import org.ops4j.pax.exam.options.MavenArtifactUrlReference;
import org.ops4j.pax.exam.options.extra.VMOption;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;
import org.osgi.framework.BundleContext;

/**
 * Base of Strata's integration tests: boots the assembled Strata distribution (the
 * tar.gz of karaf-features/distribution, taken from the local Maven repository) in a
 * forked JVM, one container per test class, and runs shell commands inside it.
 *
 * <p>Subclasses add tests, and may add options by overriding {@link #extraOptions()}
 * (for instance a deploy folder or system properties). Tests that restart or kill the
 * container cannot use Pax Exam's container (it owns the process); they should drive a
 * copy of the distribution with bin/start and bin/client instead.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public abstract class StrataTestSupport {

    /** How long to wait for asynchronous things (services, states) inside the container. */
    protected static final Duration TIMEOUT = Duration.ofSeconds(60);

    private static final Pattern ANSI = Pattern.compile("\u001B\\[[0-9;]*[A-Za-z]");

    @Inject
    protected BundleContext bundleContext;

    @Inject
    protected SessionFactory sessionFactory;

    /** The NBD server's port in this class's container (a free one, not 10809). */
    protected static final String NBD_PORT = freePort();
    /** The HTTP port of this class's container: plain HTTP, so probes reach the REST API without a trust store. */
    protected static final String HTTP_PORT = freePort();

    /** @return the NBD URI of an export in the container */
    /** Connects and negotiates an export with NBD_OPT_GO, as a client holding a session open. */
    protected static Socket nbdConnect(String export) throws Exception {
        String[] hostPort = nbdUri("").substring("nbd://".length()).split("[:/]");
        Socket s = new Socket(hostPort[0], Integer.parseInt(hostPort[1]));
        s.setSoTimeout(10_000);
        DataInputStream in = new DataInputStream(s.getInputStream());
        DataOutputStream out = new DataOutputStream(s.getOutputStream());
        in.readFully(new byte[18]);
        out.writeInt(3); // fixed newstyle, no zeroes
        byte[] name = export.getBytes(StandardCharsets.UTF_8);
        out.writeLong(0x49484156454f5054L);
        out.writeInt(7); // NBD_OPT_GO
        out.writeInt(4 + name.length + 2);
        out.writeInt(name.length);
        out.write(name);
        out.writeShort(0);
        out.flush();
        while (true) {
            in.readLong();
            in.readInt();
            int type = in.readInt();
            in.readFully(new byte[in.readInt()]);
            if (type == 1) {
                return s; // NBD_REP_ACK: transmission
            }
            assertEquals("NBD_REP_INFO", 3, type);
        }
    }

    protected static String nbdUri(String export) {
        return "nbd://127.0.0.1:" + System.getProperty("strata.itest.nbdPort", NBD_PORT) + "/" + export;
    }

    @Configuration
    public Option[] config() {
        String version = System.getProperty("strata.version", "0.1.0-SNAPSHOT");
        String karafVersion = System.getProperty("karaf.version", "4.4.10");
        String localRepo = System.getProperty("strata.localRepository",
                System.getProperty("user.home") + "/.m2/repository");
        MavenArtifactUrlReference distribution = maven()
                .groupId("io.strata").artifactId("strata-distribution").version(version).type("tar.gz");

        List<Option> options = new ArrayList<>(Arrays.asList(
                karafDistributionConfiguration()
                        .frameworkUrl(distribution)
                        .karafVersion(karafVersion)
                        .name("Strata")
                        .unpackDirectory(new File("target/exam"))
                        .useDeployFolder(false),
                configureConsole().ignoreLocalConsole().ignoreRemoteShell(),
                logLevel(LogLevel.valueOf(System.getProperty("strata.itest.logLevel", "WARN"))),
                // Free ports, so tests can run next to `./strata run` or another Karaf.
                editConfigurationFilePut("etc/org.apache.karaf.shell.cfg", "sshPort", freePort()),
                editConfigurationFilePut("etc/org.apache.karaf.management.cfg", "rmiRegistryPort", freePort()),
                editConfigurationFilePut("etc/org.apache.karaf.management.cfg", "rmiServerPort", freePort()),
                editConfigurationFilePut("etc/io.strata.nbd.cfg", "port", NBD_PORT),
                // The container's data directory (target/exam/<uuid>/data) can be too long a
                // path for a Unix socket; KarafProcess instances test the socket.
                editConfigurationFilePut("etc/io.strata.nbd.cfg", "socket", "off"),
                editConfigurationFilePut("etc/org.ops4j.pax.web.cfg", "org.osgi.service.http.enabled", "true"),
                editConfigurationFilePut("etc/org.ops4j.pax.web.cfg", "org.osgi.service.http.port", HTTP_PORT),
                editConfigurationFilePut("etc/org.ops4j.pax.web.cfg", "strata.https.auto", "false"),
                systemProperty("strata.itest.httpPort").value(HTTP_PORT),
                systemProperty("strata.itest.nbdPort").value(NBD_PORT),
                // Resolve mvn: URLs (Pax Exam's own bundles) from the local repository only.
                editConfigurationFilePut("etc/org.ops4j.pax.url.mvn.cfg",
                        "org.ops4j.pax.url.mvn.localRepository", localRepo),
                editConfigurationFilePut("etc/org.ops4j.pax.url.mvn.cfg",
                        "org.ops4j.pax.url.mvn.repositories", ""),
                systemProperty("strata.itest").value("true"),
                systemProperty("strata.version").value(version)));
        if (Boolean.getBoolean("strata.itest.keep")) {
            options.add(keepRuntimeFolder());
        }
        options.addAll(java17Options(karafVersion));
        // As KarafProcess does: boot speed matters more than peak speed for a container that
        // lives for one test class; C1 only and the serial collector about halve the CPU a
        // boot takes (20-27 s against 11-14 s on a 2-core machine).
        options.add(new VMOption("-XX:TieredStopAtLevel=1"));
        options.add(new VMOption("-XX:+UseSerialGC"));
        options.addAll(extraOptions());
        return options.toArray(new Option[0]);
    }

    /** Options a test class adds to the standard ones. */
    protected List<Option> extraOptions() {
        return List.of();
    }

    /**
     * What bin/karaf passes to a Java 9+ JVM: Pax Exam builds its own command line and
     * leaves these to the caller since 4.12. Paths are relative to the Karaf home, the
     * forked JVM's working directory.
     */
    private static List<Option> java17Options(String karafVersion) {
        List<Option> vm = new ArrayList<>();
        for (String arg : new String[] {
                "--add-reads=java.xml=java.logging",
                "--add-exports=java.base/org.apache.karaf.specs.locator=java.xml,ALL-UNNAMED",
                "--patch-module", "java.base=lib/endorsed/org.apache.karaf.specs.locator-" + karafVersion + ".jar",
                "--patch-module", "java.xml=lib/endorsed/org.apache.karaf.specs.java.xml-" + karafVersion + ".jar",
                "--add-opens", "java.base/java.security=ALL-UNNAMED",
                "--add-opens", "java.base/java.net=ALL-UNNAMED",
                "--add-opens", "java.base/java.lang=ALL-UNNAMED",
                "--add-opens", "java.base/java.util=ALL-UNNAMED",
                "--add-opens", "java.naming/javax.naming.spi=ALL-UNNAMED",
                "--add-opens", "java.rmi/sun.rmi.transport.tcp=ALL-UNNAMED",
                "--add-exports=java.base/sun.net.www.protocol.file=ALL-UNNAMED",
                "--add-exports=java.base/sun.net.www.protocol.ftp=ALL-UNNAMED",
                "--add-exports=java.base/sun.net.www.protocol.http=ALL-UNNAMED",
                "--add-exports=java.base/sun.net.www.protocol.https=ALL-UNNAMED",
                "--add-exports=java.base/sun.net.www.protocol.jar=ALL-UNNAMED",
                "--add-exports=java.base/sun.net.www.content.text=ALL-UNNAMED",
                "--add-exports=jdk.xml.dom/org.w3c.dom.html=ALL-UNNAMED",
                "--add-exports=jdk.naming.rmi/com.sun.jndi.url.rmi=ALL-UNNAMED",
                "--add-exports=java.rmi/sun.rmi.registry=ALL-UNNAMED",
                "--add-exports=java.security.sasl/com.sun.security.sasl=ALL-UNNAMED",
                "--add-exports=java.naming/com.sun.jndi.ldap=ALL-UNNAMED",
                // Strata's bin/setenv: the NBD server sets local connections' congestion control
                "--add-exports=java.base/sun.nio.ch=ALL-UNNAMED",
                "-classpath", "lib/jdk9plus/*" + File.pathSeparator + "lib/boot/*"}) {
            vm.add(new VMOption(arg));
        }
        return vm;
    }

    private static String freePort() {
        try (ServerSocket socket = new ServerSocket(0)) {
            return Integer.toString(socket.getLocalPort());
        } catch (IOException e) {
            throw new IllegalStateException("no free port", e);
        }
    }

    // ---------------------------------------------------------------- shell

    /** What one shell command did: its printed output and, when it threw, the error line. */
    public static final class Result {
        public final String command;
        public final String output;
        /** Karaf's one-line message for a failed command, null on success. */
        public final String error;

        Result(String command, String output, String error) {
            this.command = command;
            this.output = output;
            this.error = error;
        }

        public boolean failed() {
            return error != null;
        }

        @Override
        public String toString() {
            return "$ " + command + "\n" + output + (error == null ? "" : "\n[error] " + error);
        }
    }

    /**
     * Runs one command line in a new console session inside the container, the way
     * Karaf's own integration tests do through {@link SessionFactory}; ANSI colour
     * codes are removed. A command Karaf does not know is tried again for up to 30 s:
     * Karaf's shell withdraws every command of a bundle while a service one of them
     * references is re-registered, which a component's late configuration does shortly
     * after start (a clean-clone run once found {@code storage:volume-create} missing
     * right after {@code storage:datastore-list} had answered).
     */
    protected Result run(String command) {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (true) {
            Result result = runOnce(command);
            if (!result.failed() || !result.error.startsWith("Command not found")
                    || System.nanoTime() > deadline) {
                return result;
            }
            try {
                Thread.sleep(250);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return result;
            }
        }
    }

    private Result runOnce(String command) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);
        String[] error = {null};
        // Karaf hides commands guarded by an ACL (feature:*, bundle:*, config:*) from a
        // session without a subject; run as an admin, like a user logged in over SSH.
        Subject subject = new Subject();
        subject.getPrincipals().add(new UserPrincipal("karaf"));
        for (String role : new String[] {"admin", "manager", "viewer", "systembundles"}) {
            subject.getPrincipals().add(new RolePrincipal(role));
        }
        Subject.doAs(subject, (PrivilegedAction<Void>) () -> {
            try (Session session = sessionFactory.create(System.in, out, out)) {
                Object value = session.execute(command);
                if (value != null) {
                    out.println(value);
                }
            } catch (Exception e) {
                error[0] = e.getMessage() == null ? e.getClass().getName() : e.getMessage();
            }
            return null;
        });
        out.flush();
        return new Result(command, strip(bytes.toString(StandardCharsets.UTF_8)),
                error[0] == null ? null : strip(error[0]));
    }

    /** Runs a command that must succeed and returns its output. */
    protected String ok(String command) {
        Result result = run(command);
        if (result.failed()) {
            fail("command failed: " + result);
        }
        return result.output;
    }

    /** Runs a command that must fail and returns its error line. */
    protected String error(String command) {
        Result result = run(command);
        assertTrue("command should have failed: " + result, result.failed());
        return result.error;
    }

    protected static String strip(String text) {
        return ANSI.matcher(text).replaceAll("");
    }

    /** Parses the {@code key: value} lines that the info commands print. */
    protected static Map<String, String> keyValues(String text) {
        Map<String, String> map = new LinkedHashMap<>();
        for (String line : text.split("\\R")) {
            int colon = line.indexOf(": ");
            if (colon > 0) {
                map.put(line.substring(0, colon).trim(), line.substring(colon + 2).trim());
            } else if (line.endsWith(":")) {
                map.put(line.substring(0, line.length() - 1).trim(), "");
            }
        }
        return map;
    }

    /**
     * Splits a table printed with {@code --no-format} into rows of cells, skipping blank lines.
     */
    protected static List<String[]> rows(String text) {
        List<String[]> rows = new ArrayList<>();
        for (String line : text.split("\\R")) {
            if (!line.isBlank()) {
                rows.add(line.split("\t", -1));
            }
        }
        return rows;
    }

    /** Waits until the condition holds, failing with the message after {@link #TIMEOUT}. */
    protected static void await(Supplier<String> message, BooleanSupplier condition) {
        long deadline = System.nanoTime() + TIMEOUT.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                fail("timed out after " + TIMEOUT.toSeconds() + "s: " + message.get());
            }
            try {
                Thread.sleep(250);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                fail("interrupted while waiting: " + message.get());
            }
        }
    }

    /** Waits until a command succeeds and its output satisfies the check; returns that output. */
    protected String awaitOutput(String command, Predicate<String> check) {
        Result[] last = {null};
        await(() -> "`" + command + "` never gave the expected output; last:\n" + last[0], () -> {
            last[0] = run(command);
            return !last[0].failed() && check.test(last[0].output);
        });
        return last[0].output;
    }

    /** Waits until {@code storage:datastore-list} shows the datastore in that state. */
    protected void awaitDatastore(String name, String state) {
        awaitOutput("storage:datastore-list --no-format -b", out -> rows(out).stream()
                .anyMatch(r -> r.length > 3 && r[0].equals(name) && r[3].equals(state)));
    }

    protected static void assertNoError(Result result) {
        assertFalse("command failed: " + result, result.failed());
    }
}

package io.strata.itests;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assume.assumeTrue;

import io.strata.testing.Tgt;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.AfterClass;
import org.junit.BeforeClass;
import org.junit.FixMethodOrder;
import org.junit.Test;
import org.junit.runners.MethodSorters;

/**
 * The SAN against a real iSCSI target: a private tgtd with two portals (127.0.0.1 and
 * 127.0.0.2 on one port, so every LUN has two paths), a thin LUN and a thick one, and the real
 * distribution (its own run directory and ports) attaching it with the iscsi driver:
 * <ol>
 * <li>discovery groups the paths by LUN identity; a LUN mapped whole as a volume (raw device
 * mapping) carries data written over NBD by qemu-io and fio (crc32c verification), and qemu-img
 * reading the LUN directly over {@code iscsi://} finds the same bytes; a trim reaches the thin
 * LUN as UNMAP; a mapped LUN is refused a second mapping and a filesystem;</li>
 * <li>a path set offline for maintenance gets no I/O; with the policy changed at run time to
 * fixed (a preferred path, immediate failback), the preferred portal's traffic is dropped
 * (iptables) while fio writes with verification: fio sees no error, path-list shows the path go
 * down while the other carries the I/O, and the preferred path active again once it is back;
 * both portals dropped for longer than
 * no-path-retry: reads fail cleanly and the paths are down, and once a portal returns the
 * volume serves the same bytes;</li>
 * <li>the iscsi bundle uninstalled while the LUN is exported: reads fail meanwhile; dropped
 * back into deploy/, the same export serves the same bytes, and the uninstalled revision's
 * classes are unloaded (jcmd: one class loader holds the driver's session class);</li>
 * <li>a target with CHAP: the resource's secret is in no configuration Karaf shows or saves
 * and in no log, only in etc/strata-secrets.properties (mode 0600), and after a restart the
 * resource logs in again with it.</li>
 * </ol>
 * The methods run in order on one container and one tgtd.
 */
@FixMethodOrder(MethodSorters.NAME_ASCENDING)
public class SanIT {
    private static final String IQN = "iqn.2026-12.io.strata.test:san1";
    private static final int MIB = 1 << 20;
    private static Tgt tgt;
    private static KarafProcess karaf;
    private static String thinLun;
    private static String thickLun;

    @BeforeClass
    public static void setUp() throws Exception {
        assumeTrue(Tgt.unavailableReason().orElse(""), Tgt.unavailableReason().isEmpty());
        assumeTrue("qemu-io and fio are needed", HostTools.has("qemu-io") && HostTools.has("fio"));
        Path dir = Paths.get("target", "san-it").toAbsolutePath();
        KarafProcess.deleteTree(dir);
        Files.createDirectories(dir);
        tgt = Tgt.start(dir);
        Tgt.Target t = tgt.addTarget(1, IQN);
        tgt.addLun(t, 1, "thin.img", 64L * MIB, true);
        tgt.addLun(t, 2, "thick.img", 32L * MIB, false);
        karaf = new KarafProcess("san");
        karaf.start();
        // Short time limits so that the failures below are seen within seconds: a command on a
        // dropped portal fails after 5 s, the checker runs every second, and with no path left
        // I/O waits 8 s before it fails.
        karaf.ok("storage:resource-add san iscsi portal=" + tgt.portal1() + "," + tgt.portal2()
                + " timeout=5 checker-interval=1 no-path-retry=8");
        List<String[]> devices = rows(karaf.ok("storage:device-list --no-format san"));
        assertEquals("two LUNs: " + devices, 2, devices.size());
        for (String[] d : devices) {
            assertTrue(Arrays.toString(d), d[4].contains("2 path"));
            String id = d[0].substring("san/".length());
            if (d[2].startsWith("64")) {
                thinLun = id;
            } else {
                thickLun = id;
            }
        }
        assertTrue("the 64 MiB LUN is listed: " + devices.stream().map(Arrays::toString).toList(),
                thinLun != null && thickLun != null);
    }

    @AfterClass
    public static void tearDown() {
        if (karaf != null) {
            karaf.close();
        }
        if (tgt != null) {
            tgt.close();
        }
    }

    private static List<String[]> rows(String out) {
        return out.lines().filter(l -> !l.isBlank()).map(l -> l.split("\t", -1)).collect(Collectors.toList());
    }

    private static String nbd(String export) {
        return "nbd://127.0.0.1:" + karaf.nbdPort + "/" + export;
    }

    private static String iscsi(int lun) {
        return "iscsi://" + tgt.portal1() + "/" + IQN + "/" + lun;
    }

    /** Runs a host tool; returns exit status and output. */
    private static Map.Entry<Integer, String> tool(long timeoutSeconds, String... command) throws Exception {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IOException("timed out: " + String.join(" ", command));
        }
        return Map.entry(p.exitValue(), out);
    }

    private static String qemuIo(String uri, String... commands) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("qemu-io", "-f", "raw"));
        for (String c : commands) {
            cmd.add("-c");
            cmd.add(c);
        }
        cmd.add(uri);
        Map.Entry<Integer, String> r = tool(180, cmd.toArray(new String[0]));
        assertTrue(r.getValue(), r.getKey() == 0 && !r.getValue().contains("failed"));
        return r.getValue();
    }

    /** The paths of the thin LUN: path id to its row. */
    private static Map<String, String[]> paths() {
        return rows(karaf.ok("storage:path-list --no-format san/" + thinLun)).stream()
                .collect(Collectors.toMap(r -> r[2], r -> r));
    }

    private static String pathThrough(String address) {
        return paths().entrySet().stream().filter(e -> e.getValue()[3].contains(address + ":")).map(Map.Entry::getKey)
                .findFirst().orElseThrow(() -> new AssertionError("no path through " + address + ": " + paths()));
    }

    private static void awaitPath(String path, String state) {
        karaf.awaitOutput("storage:path-list --no-format san/" + thinLun, Duration.ofSeconds(90),
                out -> rows(out).stream().anyMatch(r -> r[2].equals(path) && r[4].equals(state)));
    }

    @Test
    public void a_aMappedLunCarriesDataWrittenOverNbdAndQemuReadsItOnTheLun() throws Exception {
        assertEquals(4, rows(karaf.ok("storage:path-list --no-format san")).size());
        assertTrue(paths().values().stream().allMatch(r -> r[4].equals("up")));
        karaf.ok("storage:volume-map local/lun1 san/" + thinLun);
        assertTrue(karaf.error("storage:volume-map local/again san/" + thinLun).startsWith("RESOURCE_IN_USE"));
        assertTrue(karaf.error("storage:datastore-create -f x ext4 san/" + thinLun).startsWith("RESOURCE_IN_USE"));
        Map<String, String> info = KarafProcess.keyValues(karaf.ok("storage:volume-info local/lun1"));
        assertEquals("rdm", info.get("format"));
        karaf.ok("storage:export-add local/lun1 lun1");

        qemuIo(nbd("lun1"), "write -P 0x5a 0 1M", "write -P 0xa5 1M 1M", "flush");
        // The bytes are on the LUN: qemu reads it directly, through its own libiscsi driver.
        qemuIo(iscsi(1), "read -P 0x5a 0 1M", "read -P 0xa5 1M 1M");

        Map.Entry<Integer, String> fio = tool(300, "fio", "--name=verify", "--ioengine=nbd", "--uri=" + nbd("lun1"),
                "--rw=randwrite", "--bs=4k", "--iodepth=16", "--offset=4M", "--size=16M", "--verify=crc32c",
                "--verify_fatal=1", "--do_verify=1", "--verify_state_save=0");
        assertTrue(fio.getValue(), fio.getKey() == 0 && !fio.getValue().contains("verify: bad"));
        Map.Entry<Integer, String> cmp = tool(300, "qemu-img", "compare", "-f", "raw", "-F", "raw", nbd("lun1"),
                iscsi(1));
        assertTrue(cmp.getValue(), cmp.getKey() == 0 && cmp.getValue().contains("identical"));

        // A trim of whole blocks reaches the thin LUN as UNMAP: it then reads zeros.
        qemuIo(nbd("lun1"), "discard 0 1M");
        qemuIo(iscsi(1), "read -P 0 0 1M", "read -P 0xa5 1M 1M");
    }

    private static long ios(String path) {
        return Long.parseLong(paths().get(path)[7]);
    }

    private static void awaitActive(String path) {
        karaf.awaitOutput("storage:path-list --no-format san/" + thinLun, Duration.ofSeconds(90),
                out -> rows(out).stream().anyMatch(r -> r[2].equals(path) && r[6].equals("*"))
                        && rows(out).stream().filter(r -> r[6].equals("*")).count() == 1);
    }

    @Test
    public void b_aPortalDroppedUnderFioLosesNothingAndWithNoPathLeftReadsFailCleanly() throws Exception {
        String first = pathThrough(Tgt.PORTAL_1);
        String second = pathThrough(Tgt.PORTAL_2);
        // Maintenance: a path set offline gets no I/O, and says so.
        karaf.ok("storage:path-set san " + first + " offline");
        assertEquals("offline", paths().get(first)[5]);
        long before = ios(first);
        qemuIo(nbd("lun1"), "read -P 0xa5 1M 1M", "write -P 0xa5 1M 1M", "flush");
        assertEquals("no I/O on a path set offline", before, ios(first));
        karaf.ok("storage:path-set san " + first + " online");
        assertEquals("online", paths().get(first)[5]);

        // Failover only, to a preferred path, with immediate failback: changed at run time.
        karaf.ok("storage:resource-set san policy=fixed preferred=" + second + " failback=immediate");
        awaitActive(second);
        ProcessBuilder pb = new ProcessBuilder("fio", "--name=failover", "--ioengine=nbd", "--uri=" + nbd("lun1"),
                "--rw=randwrite", "--bs=64k", "--iodepth=8", "--offset=24M", "--size=16M", "--verify=crc32c",
                "--verify_backlog=64", "--verify_fatal=1", "--verify_state_save=0", "--loops=1000", "--runtime=40")
                .redirectErrorStream(true);
        Process fio = pb.start();
        StringBuilder fioOut = new StringBuilder();
        Thread reader = new Thread(() -> {
            try {
                fioOut.append(new String(fio.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
            } catch (IOException e) {
                fioOut.append(e);
            }
        });
        reader.start();
        try {
            KarafProcess.sleep(3000);
            tgt.block(Tgt.PORTAL_2);
            awaitPath(second, "down");
            awaitActive(first);
            KarafProcess.sleep(3000);
            tgt.unblock(Tgt.PORTAL_2);
            awaitPath(second, "up");
            awaitActive(second); // failback: the preferred path is used again as soon as it is up
            assertTrue("fio did not finish", fio.waitFor(180, TimeUnit.SECONDS));
            reader.join(10_000);
            assertTrue(fioOut.toString(), fio.exitValue() == 0 && !fioOut.toString().contains("verify: bad")
                    && !fioOut.toString().contains("error="));
        } finally {
            fio.destroyForcibly();
            tgt.unblock(Tgt.PORTAL_2);
        }
        String[] row = paths().get(second);
        assertTrue("the dropped path counted its errors: " + Arrays.toString(row), Long.parseLong(row[8]) > 0);
        karaf.ok("storage:resource-set san policy=round-robin");

        // No path left for longer than no-path-retry (8 s): reads fail, cleanly.
        qemuIo(nbd("lun1"), "write -P 0x3c 4M 1M", "flush");
        tgt.block(Tgt.PORTAL_1);
        tgt.block(Tgt.PORTAL_2);
        try {
            long start = System.nanoTime();
            Map.Entry<Integer, String> r = tool(300, "qemu-io", "-f", "raw", "-c", "read -P 0x3c 4M 64k", nbd("lun1"));
            long waited = TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - start);
            assertTrue(r.getValue(), r.getKey() != 0 || r.getValue().contains("failed"));
            assertTrue("I/O queued for no-path-retry before failing, waited " + waited + " s", waited >= 5);
            String state = karaf.awaitOutput("storage:path-list --no-format san/" + thinLun, Duration.ofSeconds(60),
                    out -> rows(out).stream().allMatch(p -> p[4].equals("down")));
            assertTrue(state, !state.isBlank());
        } finally {
            tgt.unblock(Tgt.PORTAL_1);
            tgt.unblock(Tgt.PORTAL_2);
        }
        awaitPath(pathThrough(Tgt.PORTAL_1), "up");
        qemuIo(nbd("lun1"), "read -P 0x3c 4M 1M", "read -P 0xa5 1M 1M");
    }

    @Test
    public void c_theIscsiBundleLeavesAndReturnsWhileTheLunIsExported() throws Exception {
        qemuIo(nbd("lun1"), "write -P 0x77 8M 1M", "flush");
        Path jar = Paths.get(System.getProperty("user.home"), ".m2/repository/io/strata/strata-driver-iscsi",
                System.getProperty("strata.version", "0.1.0-SNAPSHOT"),
                "strata-driver-iscsi-" + System.getProperty("strata.version", "0.1.0-SNAPSHOT") + ".jar");
        assertTrue("driver jar " + jar, Files.isRegularFile(jar));
        karaf.ok("bundle:uninstall io.strata.driver-iscsi");
        karaf.awaitOutput("storage:resource-list --no-format", Duration.ofSeconds(60),
                out -> rows(out).stream().anyMatch(r -> r[0].equals("san") && r[2].equals("UNAVAILABLE")));
        Map.Entry<Integer, String> r = tool(120, "qemu-io", "-f", "raw", "-c", "read -P 0x77 8M 64k", nbd("lun1"));
        assertTrue("reads fail while the driver is gone: " + r.getValue(),
                r.getKey() != 0 || r.getValue().contains("failed"));

        Files.copy(jar, karaf.home().resolve("deploy").resolve(jar.getFileName()), StandardCopyOption.REPLACE_EXISTING);
        karaf.awaitOutput("storage:resource-list --no-format", Duration.ofSeconds(120),
                out -> rows(out).stream().anyMatch(x -> x[0].equals("san") && x[2].equals("ONLINE")));
        qemuIo(nbd("lun1"), "read -P 0x77 8M 1M", "read -P 0xa5 1M 1M");

        // the uninstalled revision, whose sessions used libiscsi through JNA, is unloaded: one
        // class loader has the session class, the new revision's
        long loaders = -1;
        for (long end = System.nanoTime() + Duration.ofSeconds(60).toNanos(); System.nanoTime() < end;) {
            karaf.jcmd("GC.run");
            loaders = Pattern.compile("(?m)[ :]io\\.strata\\.iscsi\\.internal\\.Session$")
                    .matcher(karaf.jcmd("VM.classloaders", "show-classes=true")).results().count();
            if (loaders == 1) {
                break;
            }
            Thread.sleep(1000);
        }
        assertEquals("class loaders holding the iscsi driver's Session class", 1, loaders);
    }

    @Test
    public void d_aChapSecretIsKeptOutOfTheConfigurationAndSurvivesARestart() throws Exception {
        String secret = "Sh0uldNeverBeSeen42";
        Tgt.Target t = tgt.addTarget(2, IQN + "-chap");
        tgt.addLun(t, 1, "chap.img", 16L * MIB, false);
        tgt.chap(t, "strata", secret);
        karaf.ok("storage:resource-add chapsan iscsi portal=" + tgt.portal1() + " target=" + IQN + "-chap"
                + " chap-user=strata chap-secret=" + secret + " timeout=5");
        assertEquals(1, rows(karaf.ok("storage:device-list --no-format chapsan")).size());

        String config = karaf.ok("config:list");
        assertTrue("the resource's configuration is listed", config.contains("chap-user=strata"));
        assertTrue("config:list shows no secret", !config.contains(secret));
        Path secrets = karaf.home().resolve("etc").resolve("strata-secrets.properties");
        assertTrue(Files.readString(secrets).contains(secret));
        assertEquals("rw-------", java.nio.file.attribute.PosixFilePermissions.toString(
                Files.getPosixFilePermissions(secrets)));
        assertEquals("no other file under etc/ or data/ (configuration, logs) holds the secret", List.of(),
                filesContaining(secret, secrets));

        karaf.stop();
        karaf.start();
        karaf.awaitOutput("storage:resource-list --no-format", Duration.ofSeconds(120),
                out -> rows(out).stream().anyMatch(r -> r[0].equals("chapsan") && r[2].equals("ONLINE")));
        assertEquals("logged in again with the kept secret", 1,
                rows(karaf.ok("storage:device-list --no-format chapsan")).size());
        karaf.ok("storage:resource-remove chapsan");
        assertTrue("the secret goes with its resource", !Files.readString(secrets).contains(secret));
    }

    /** Text files under etc/ and data/ (not the bundle cache's jars) that contain {@code text}. */
    private static List<Path> filesContaining(String text, Path except) throws IOException {
        List<Path> found = new ArrayList<>();
        for (Path root : List.of(karaf.home().resolve("etc"), karaf.data())) {
            try (var files = Files.walk(root)) {
                for (Path f : (Iterable<Path>) files.filter(Files::isRegularFile)::iterator) {
                    String name = f.getFileName().toString();
                    if (f.equals(except) || name.endsWith(".jar") || Files.size(f) > 64L * MIB) {
                        continue;
                    }
                    if (new String(Files.readAllBytes(f), StandardCharsets.ISO_8859_1).contains(text)) {
                        found.add(f);
                    }
                }
            }
        }
        return found;
    }
}

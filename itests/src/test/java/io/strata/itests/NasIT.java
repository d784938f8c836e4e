package io.strata.itests;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;
import static org.junit.Assume.assumeTrue;

import io.strata.testing.Ganesha;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.AfterClass;
import org.junit.BeforeClass;
import org.junit.Test;

/**
 * The nas driver and the nfs layer in the real distribution against a real NFS server (a
 * private nfs-ganesha): the server's exports listed as file-share devices through the shell; an
 * NFS datastore in a directory of the export with a VHD volume written over NBD by qemu-io,
 * snapshotted, read back, and checked by qemu-img in the exported directory; thick-lazy refused,
 * thick written; clear errors for a server that does not answer and for NFSv4.
 */
public class NasIT {
    private static Ganesha ganesha;
    private static KarafProcess karaf;

    @BeforeClass
    public static void setUp() throws Exception {
        assumeTrue(Ganesha.unavailableReason().orElse(""), Ganesha.unavailableReason().isEmpty());
        Path dir = Paths.get("target", "nas-it").toAbsolutePath();
        KarafProcess.deleteTree(dir);
        Files.createDirectories(dir);
        ganesha = Ganesha.start(dir);
        karaf = new KarafProcess("nas");
        karaf.start();
    }

    @AfterClass
    public static void tearDown() {
        if (karaf != null) {
            karaf.close();
        }
        if (ganesha != null) {
            ganesha.close();
        }
    }

    @Test
    public void theServersExportsAreFileShareDevices() {
        karaf.ok("storage:resource-add nas1 nas server=127.0.0.1 nfsport=" + ganesha.nfsPort() + " mountport="
                + ganesha.mountPort());
        List<String[]> devices = KarafProcess.rows(karaf.ok("storage:device-list --no-format nas1"));
        String id = "nas1/" + ganesha.exportPath().substring(1).replace('/', ':');
        String[] export = devices.stream().filter(d -> d[0].equals(id)).findFirst()
                .orElseThrow(() -> new AssertionError("no export " + id + " in " + devices.stream()
                        .map(Arrays::toString).toList()));
        assertTrue(Arrays.toString(export), String.join(" ", export).contains("NFS export " + ganesha.exportPath()));
        assertEquals(3, devices.size());
        karaf.ok("storage:resource-remove nas1");
    }

    @Test
    public void aVolumeOnAnNfsDatastoreIsAFileOnTheExportThatQemuImgReadsAndSnapshotsWork() throws Exception {
        assumeTrue("qemu-io and qemu-img are needed", HostTools.has("qemu-io") && HostTools.has("qemu-img"));
        karaf.ok("storage:resource-add nas2 nas server=127.0.0.1 nfsport=" + ganesha.nfsPort() + " mountport="
                + ganesha.mountPort());
        String id = ganesha.exportPath().substring(1).replace('/', ':');
        karaf.ok("storage:datastore-create -o path=vm/ds1 nfsds nfs nas2/" + id);
        String info = karaf.ok("storage:datastore-info nfsds");
        assertTrue(info, info.contains("nfs") && info.contains("server") && info.contains("online"));
        karaf.ok("storage:volume-create nfsds v1 64M");
        karaf.ok("storage:export-add nfsds/v1");
        String uri = "nbd://127.0.0.1:" + karaf.nbdPort + "/v1";
        qemuIo(uri, "write -P 0x5a 0 1M", "write -P 0x3c 8M 64k", "flush");
        karaf.ok("storage:export-remove v1");
        karaf.ok("storage:snapshot-create nfsds/v1 s1");
        karaf.ok("storage:export-add nfsds/v1");
        qemuIo(uri, "write -P 0x11 512k 64k", "flush");
        qemuIo(uri, "read -P 0x5a 0 512k", "read -P 0x11 512k 64k", "read -P 0x5a 576k 448k", "read -P 0x3c 8M 64k");
        karaf.ok("storage:export-remove v1");

        // The images are files in the export's directory: the snapshot a dynamic VHD that QEMU
        // reads with the data written before it, the volume now a differencing VHD on it (QEMU's
        // vpc driver does not follow differencing disks, and has no check for VHD).
        Path dsDir = ganesha.exportDir().resolve("vm/ds1");
        List<Path> images;
        try (var files = Files.list(dsDir)) {
            images = files.filter(f -> f.getFileName().toString().endsWith(".vhd")).sorted().toList();
        }
        assertEquals("the volume and its snapshot: " + images, 2, images.size());
        Path base = null;
        int differencing = 0;
        for (Path image : images) {
            int type = java.nio.ByteBuffer.wrap(Files.readAllBytes(image), 60, 4).getInt();
            if (type == 3) {
                base = image;
            } else if (type == 4) {
                differencing++;
            }
        }
        assertTrue("a dynamic base and a differencing volume: " + images, base != null && differencing == 1);
        String imageInfo = HostTools.run(List.of("qemu-img", "info", "--output=json", "-f", "vpc", base.toString()));
        assertTrue(imageInfo, imageInfo.contains("\"virtual-size\": 67108864"));
        String read = HostTools.run(List.of("qemu-io", "-r", "-f", "vpc", "-c", "read -P 0x5a 0 1M", "-c",
                "read -P 0x3c 8M 64k", "-c", "read -P 0 1M 7M", base.toString()));
        assertFalse(read, read.contains("Pattern verification failed") || read.contains("failed"));
        // NFS cannot reserve space without writing it
        String lazy = karaf.error("storage:volume-create --provisioning thick-lazy nfsds v2 16M");
        assertTrue(lazy, lazy.contains("thick-lazy is not available"));
        karaf.ok("storage:volume-create --provisioning thick nfsds v3 8M");
        assertTrue(Files.size(dsDir.resolve("v3.vhd")) >= 8L << 20);
        karaf.ok("storage:volume-delete nfsds/v3");
        karaf.ok("storage:volume-delete nfsds/v1");
        karaf.ok("storage:datastore-remove nfsds");
        karaf.ok("storage:resource-remove nas2");
    }

    private static String qemuIo(String uri, String... commands) throws Exception {
        List<String> cmd = new java.util.ArrayList<>(List.of("qemu-io", "-f", "raw"));
        for (String c : commands) {
            cmd.add("-c");
            cmd.add(c);
        }
        cmd.add(uri);
        String out = HostTools.run(cmd);
        assertFalse(out, out.contains("Pattern verification failed") || out.contains("failed"));
        return out;
    }

    @Test
    public void aServerThatDoesNotAnswerAndNfsVersion4AreClearErrors() {
        int nothing = KarafProcess.freePort();
        String unreachable = karaf.error("storage:resource-add gone nas server=127.0.0.1 nfsport=" + nothing
                + " mountport=" + nothing);
        assertTrue(unreachable, unreachable.contains("unreachable"));
        assertFalse(unreachable, unreachable.contains("Exception"));
        String v4 = karaf.error("storage:resource-add v4 nas server=127.0.0.1 version=4 mountport="
                + ganesha.mountPort());
        assertTrue(v4, v4.contains("NFSv3"));
        assertFalse(karaf.ok("storage:resource-list --no-format").contains("gone"));
    }

    private static String exportId(String path) {
        return path.substring(1).replace('/', ':');
    }

    private static String nasResource(String name, String... extra) {
        return "storage:resource-add " + name + " nas server=127.0.0.1 nfsport=" + ganesha.nfsPort() + " mountport="
                + ganesha.mountPort() + (extra.length == 0 ? "" : " " + String.join(" ", extra));
    }

    /** Runs a host tool with a time limit; returns exit status and output. */
    private static Map.Entry<Integer, String> tool(long timeoutSeconds, List<String> command) throws Exception {
        Path out = Files.createTempFile("nas-it-tool", ".out");
        try {
            Process p = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(out.toFile()).start();
            if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
                p.destroyForcibly().waitFor();
                throw new AssertionError("not done within " + timeoutSeconds + " s: " + String.join(" ", command)
                        + "\n" + Files.readString(out));
            }
            return Map.entry(p.exitValue(), Files.readString(out));
        } finally {
            Files.deleteIfExists(out);
        }
    }

    /** @return datastore-info's lines: state, message (when there is one), figures, details */
    private static String datastoreRow(String name) {
        return karaf.ok("storage:datastore-info " + name);
    }

    private static void await(String what, long seconds, java.util.function.BooleanSupplier done)
            throws InterruptedException {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (!done.getAsBoolean()) {
            if (System.nanoTime() > end) {
                throw new AssertionError("not within " + seconds + " s: " + what);
            }
            Thread.sleep(250);
        }
    }

    @Test
    public void fioWithVerificationThroughNbdSeesNoErrorWhileTheServerRestarts() throws Exception {
        assumeTrue("fio is needed", HostTools.has("fio"));
        karaf.ok(nasResource("nas4"));
        karaf.ok("storage:datastore-create -o path=vm/ds4 nfs4 nfs nas4/" + exportId(ganesha.exportPath()));
        karaf.ok("storage:volume-create nfs4 f1 128M");
        karaf.ok("storage:export-add nfs4/f1");
        // About 10 s of writes (rate-limited), every block checked afterwards: writes acknowledged
        // before, during and after the restart, sent again by the client when the server lost them.
        List<String> fio = List.of("fio", "--name=restart", "--ioengine=nbd",
                "--uri=nbd://127.0.0.1:" + karaf.nbdPort + "/f1", "--rw=randwrite", "--bs=16k", "--iodepth=8",
                "--size=64M", "--rate_iops=400", "--verify=crc32c", "--verify_fatal=1", "--do_verify=1",
                "--verify_state_save=0", "--fsync=64");
        java.util.concurrent.ExecutorService runner = java.util.concurrent.Executors.newSingleThreadExecutor();
        try {
            java.util.concurrent.Future<Map.Entry<Integer, String>> run = runner.submit(() -> tool(600, fio));
            Thread.sleep(3000);
            assertFalse("fio finished before the server stopped", run.isDone());
            ganesha.stop();
            Thread.sleep(3000);
            ganesha.start();
            Map.Entry<Integer, String> r = run.get(10, TimeUnit.MINUTES);
            assertTrue(r.getValue(), r.getKey() == 0 && !r.getValue().contains("verify: bad"));
            assertTrue(r.getValue(), r.getValue().contains("restart: (groupid=0, jobs=1): err= 0:"));
        } finally {
            runner.shutdownNow();
            ganesha.start();
        }
        assertTrue(datastoreRow("nfs4"), datastoreRow("nfs4").contains("state: ONLINE"));
        karaf.ok("storage:export-remove f1");
        karaf.ok("storage:volume-delete nfs4/f1");
        karaf.ok("storage:datastore-remove nfs4");
        karaf.ok("storage:resource-remove nas4");
    }

    @Test
    public void aServerGoneLongerThanItsTimeoutMakesTheDatastoreUnavailableThenOnlineByItself() throws Exception {
        assumeTrue("qemu-io is needed", HostTools.has("qemu-io"));
        karaf.ok(nasResource("nas5", "timeout=3"));
        karaf.ok("storage:datastore-create -o path=vm/ds5 nfs5 nfs nas5/" + exportId(ganesha.exportPath()));
        karaf.ok("storage:volume-create nfs5 g1 16M");
        karaf.ok("storage:export-add nfs5/g1");
        String uri = "nbd://127.0.0.1:" + karaf.nbdPort + "/g1";
        qemuIo(uri, "write -P 0x6b 0 1M", "flush");
        karaf.ok("storage:export-remove g1");
        try {
            // Gone past the 3 s timeout but within the lease expiry (16 s): UNAVAILABLE, mount kept.
            ganesha.stop();
            await("nfs5 UNAVAILABLE", 60, () -> datastoreRow("nfs5").contains("state: UNAVAILABLE"));
            String row = datastoreRow("nfs5");
            assertTrue(row, row.contains("DEVICE_UNAVAILABLE"));
            ganesha.start();
            await("nfs5 ONLINE again", 60, () -> datastoreRow("nfs5").contains("state: ONLINE"));

            // Gone past the lease expiry: the host fences itself there, and the core mounts the
            // datastore again on its retry timer once the server answers.
            ganesha.stop();
            await("nfs5 fenced", 90, () -> datastoreRow("nfs5").contains("lease"));
            ganesha.start();
            await("nfs5 mounted again", 120, () -> datastoreRow("nfs5").contains("state: ONLINE"));
        } finally {
            ganesha.start();
        }
        karaf.ok("storage:export-add nfs5/g1");
        qemuIo(uri, "read -P 0x6b 0 1M", "read -P 0 1M 15M");
        karaf.ok("storage:export-remove g1");
        karaf.ok("storage:volume-delete nfs5/g1");
        karaf.ok("storage:datastore-remove nfs5");
        karaf.ok("storage:resource-remove nas5");
    }

    @Test
    public void aMissingAHiddenAReadOnlyAndARootSquashedExportAreClearErrorsForDatastoreCreate() {
        karaf.ok(nasResource("nas6"));
        String missing = karaf.error("storage:datastore-create m nfs nas6/" + exportId(ganesha.exportPath() + "-none"));
        assertTrue(missing, missing.contains("DEVICE_NOT_FOUND") || missing.contains("not found")
                || missing.contains("no export"));
        String hidden = karaf.error("storage:datastore-create h nfs nas6/" + exportId(ganesha.deniedExportPath()));
        assertTrue(hidden, hidden.contains("DEVICE_NOT_FOUND") || hidden.contains("not"));
        String readOnly = karaf.error("storage:datastore-create r nfs nas6/" + exportId(ganesha.readOnlyExportPath()));
        assertTrue(readOnly, readOnly.contains("read-only") || readOnly.contains("READ_ONLY"));
        String squashed = karaf.error("storage:datastore-create -o path=vm s nfs nas6/"
                + exportId(ganesha.squashedExportPath()));
        assertTrue(squashed, squashed.contains("PERMISSION_DENIED") || squashed.contains("ermission"));
        for (String e : List.of(missing, hidden, readOnly, squashed)) {
            assertFalse(e, e.contains("Exception") || e.contains("\tat "));
        }
        String list = karaf.ok("storage:datastore-list --no-format");
        for (String name : List.of("m", "h", "r", "s")) {
            assertFalse(list, KarafProcess.rows(list).stream().anyMatch(r -> r[0].equals(name)));
        }
        karaf.ok("storage:resource-remove nas6");
    }

    /** @return the {@code nfs://} URL QEMU's libnfs driver opens for a file of the export (ports from rpcbind) */
    private static String nfsUrl(String relative) {
        return "nfs://127.0.0.1" + ganesha.exportPath() + "/" + relative;
    }

    private static String ran(Map.Entry<Integer, String> r) {
        assertTrue(r.getValue(), r.getKey() == 0 && !r.getValue().contains("failed"));
        return r.getValue();
    }

    @Test
    public void qemuImgChecksAndComparesVolumesOverNfsAndImagesQemuMadeOnTheExportAreImported() throws Exception {
        assumeTrue("qemu-img and qemu-io are needed", HostTools.has("qemu-io") && HostTools.has("qemu-img"));
        Map.Entry<Integer, String> probe = tool(60, List.of("qemu-img", "--help"));
        assumeTrue("qemu-img has no nfs driver (qemu-block-extra)", probe.getValue().contains(" nfs"));
        // QEMU finds the server's ports through rpcbind: they must be this server's.
        ganesha.ensureRegistered();
        karaf.ok(nasResource("nas7"));
        karaf.ok("storage:datastore-create -o path=vm/ds7 nfs7 nfs nas7/" + exportId(ganesha.exportPath()));

        // A qcow2 volume written over NBD, then read by QEMU over nfs:// (its own NFS client).
        karaf.ok("storage:volume-create --format qcow2 nfs7 q1 64M");
        karaf.ok("storage:export-add nfs7/q1");
        qemuIo("nbd://127.0.0.1:" + karaf.nbdPort + "/q1", "write -P 0x4d 0 1M", "write -P 0x2e 40M 64k", "flush");
        karaf.ok("storage:export-remove q1");
        String check = ran(tool(120, List.of("qemu-img", "check", "-f", "qcow2", nfsUrl("vm/ds7/q1.qcow2"))));
        assertTrue(check, check.contains("No errors were found"));
        Path expected = Files.createTempFile(Paths.get("target"), "nas-it-expected", ".raw");
        try {
            ran(tool(60, List.of("qemu-img", "create", "-f", "raw", expected.toString(), "64M")));
            ran(tool(60, List.of("qemu-io", "-f", "raw", "-c", "write -P 0x4d 0 1M", "-c", "write -P 0x2e 40M 64k",
                    expected.toString())));
            String same = ran(tool(120, List.of("qemu-img", "compare", "-f", "qcow2", "-F", "raw",
                    nfsUrl("vm/ds7/q1.qcow2"), expected.toString())));
            assertTrue(same, same.contains("Images are identical"));
        } finally {
            Files.deleteIfExists(expected);
        }

        // Images QEMU made on the export through nfs:// are imported, as qcow2 and as a dynamic VHD.
        Files.createDirectories(ganesha.exportDir().resolve("incoming"));
        ran(tool(60, List.of("qemu-img", "create", "-f", "qcow2", nfsUrl("incoming/made.qcow2"), "32M")));
        ran(tool(60, List.of("qemu-io", "-f", "qcow2", "-c", "write -P 0x21 0 512k", nfsUrl("incoming/made.qcow2"))));
        ran(tool(60, List.of("qemu-img", "create", "-f", "vpc", "-o", "subformat=dynamic", nfsUrl("incoming/made.vhd"),
                "32M")));
        ran(tool(60, List.of("qemu-io", "-f", "vpc", "-c", "write -P 0x22 1M 512k", nfsUrl("incoming/made.vhd"))));
        karaf.ok("storage:volume-import --format qcow2 nfs7/mq " + ganesha.exportDir().resolve("incoming/made.qcow2"));
        karaf.ok("storage:volume-import --format vhd nfs7/mv " + ganesha.exportDir().resolve("incoming/made.vhd"));
        karaf.ok("storage:export-add nfs7/mq");
        karaf.ok("storage:export-add nfs7/mv");
        qemuIo("nbd://127.0.0.1:" + karaf.nbdPort + "/mq", "read -P 0x21 0 512k", "read -P 0 512k 1M");
        qemuIo("nbd://127.0.0.1:" + karaf.nbdPort + "/mv", "read -P 0 0 1M", "read -P 0x22 1M 512k");
        karaf.ok("storage:export-remove mq");
        karaf.ok("storage:export-remove mv");
        for (String v : List.of("q1", "mq", "mv")) {
            karaf.ok("storage:volume-delete nfs7/" + v);
        }
        karaf.ok("storage:datastore-remove nfs7");
        karaf.ok("storage:resource-remove nas7");
    }
}

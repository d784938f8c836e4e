package io.strata.itests;

import static io.strata.itests.KarafProcess.keyValues;
import static io.strata.itests.KarafProcess.rows;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import org.junit.After;
import org.junit.Test;

/**
 * A clean stop and start of the real distribution keeps the host configuration
 * (resources, datastores, in Configuration Admin) and every volume (the catalogs on
 * the datastores), all ONLINE/READY with the same sizes.
 */
public class RestartIT {

    private KarafProcess karaf;

    @After
    public void tearDown() {
        if (karaf != null) {
            karaf.close();
        }
    }

    @Test
    public void restartKeepsResourcesDatastoresAndVolumes() throws Exception {
        karaf = new KarafProcess("restart");
        karaf.start();

        Path store = karaf.home().resolve("store1");
        karaf.ok("storage:resource-add r1 local kind=directory path=" + store);
        Map<String, String> ds = keyValues(karaf.ok("storage:datastore-create ds1 dir r1"));
        assertEquals("ONLINE", ds.get("state"));
        assertEquals("r1/dir", ds.get("device"));

        karaf.ok("storage:volume-create ds1 thin1 1G");
        karaf.ok("storage:volume-create --provisioning thick ds1 thick1 8M");
        karaf.ok("storage:volume-create --provisioning thick-lazy ds1 lazy1 16M");
        karaf.ok("storage:volume-create --format raw ds1 raw1 3M");
        karaf.ok("storage:volume-create --format raw --provisioning thick local raw2 2M");
        karaf.ok("storage:volume-create local thin2 100M");
        // A grown volume keeps its new size too.
        karaf.ok("storage:volume-resize ds1/thin1 2G");

        Map<String, String> volumesBefore = volumeRows();
        assertEquals(volumesBefore.toString(), 6, volumesBefore.size());
        Map<String, Map<String, String>> infoBefore = infos(volumesBefore);
        String resourcesBefore = karaf.ok("storage:resource-list --no-format");
        assertTrue(resourcesBefore, resourcesBefore.contains("r1\tlocal\tONLINE\t"));

        karaf.stop();
        assertTrue("Karaf still running after stop", !karaf.isRunning());
        karaf.start();

        // Both datastores come back ONLINE on the same devices.
        karaf.awaitOutput("storage:datastore-list --no-format -b", KarafProcess.BOOT_TIMEOUT,
                out -> out.contains("ds1\tdir\tr1/dir\tONLINE\t") && out.contains("local\tdir\tlocal/dir\tONLINE\t"));
        assertEquals(resourcesBefore, karaf.ok("storage:resource-list --no-format"));

        // Same volumes, same formats, provisioning, sizes and states.
        assertEquals(volumesBefore, volumeRows());
        Map<String, Map<String, String>> infoAfter = infos(volumesBefore);
        for (String ref : volumesBefore.keySet()) {
            Map<String, String> before = infoBefore.get(ref);
            Map<String, String> after = infoAfter.get(ref);
            for (String key : List.of("format", "provisioning", "virtual-size", "path", "file", "state", "created")) {
                assertEquals(ref + " " + key, before.get(key), after.get(key));
            }
            assertEquals("READY", after.get("state"));
            Path image = Paths.get(after.get("path"));
            assertTrue("image of " + ref + " missing: " + image, Files.isRegularFile(image));
            if (HostTools.has("qemu-img")) {
                assertEquals("qemu-img virtual size of " + ref, after.get("virtual-size"),
                        Long.toString(QemuImg.virtualSize(image, after.get("format"))));
            }
        }
        assertEquals(2147483648L, Long.parseLong(infoAfter.get("ds1/thin1").get("virtual-size")));

        // And the datastores still work: a new volume, then everything deleted.
        karaf.ok("storage:volume-create ds1 after 1M");
        for (String ref : volumeRows().keySet()) {
            karaf.ok("storage:volume-delete " + ref);
        }
        assertEquals("", karaf.ok("storage:volume-list --no-format").trim());
        karaf.ok("storage:datastore-remove ds1");
        karaf.ok("storage:resource-remove r1");
        karaf.stop();
    }

    /**
     * Exports are host configuration: after a restart the export is listed again and a
     * client reads through it what it wrote (and flushed) before; while exported the volume
     * is in use. The volume's QoS limits come back with it.
     */
    /**
     * Connects to the NBD port, waits for the server's greeting (sent once the connection is
     * set up) and reads the congestion control of the server's side from the kernel ({@code ss}).
     */
    static String serverCongestion(int port) throws Exception {
        try (java.net.Socket s = new java.net.Socket("127.0.0.1", port)) {
            s.setSoTimeout(30_000);
            byte[] magic = new byte[8];
            new java.io.DataInputStream(s.getInputStream()).readFully(magic);
            assertEquals("NBDMAGIC", new String(magic, java.nio.charset.StandardCharsets.US_ASCII));
            String out = HostTools.run(List.of("ss", "-Htin", "state", "established",
                    "( sport = :" + port + " and dport = :" + s.getLocalPort() + " )"));
            String[] lines = out.strip().split("\n");
            assertEquals(out, 2, lines.length);
            // the info line: the options (ts, sack, ecn, ecnseen, fastopen) where negotiated, then the algorithm
            for (String token : lines[1].strip().split("\\s+")) {
                if (!java.util.Set.of("ts", "sack", "ecn", "ecnseen", "fastopen").contains(token)) {
                    return token;
                }
            }
            throw new AssertionError("no algorithm in " + out);
        }
    }

    @Test
    public void exportsSurviveARestart() throws Exception {
        org.junit.Assume.assumeTrue("qemu-io is needed", HostTools.has("qemu-io"));
        karaf = new KarafProcess("restart-export");
        karaf.start();
        karaf.ok("storage:volume-create local ex1 32M");
        Map<String, String> added = keyValues(karaf.ok("storage:export-add local/ex1"));
        String uri = "nbd://127.0.0.1:" + karaf.nbdPort + "/ex1";
        assertEquals(uri, added.get("uri"));
        assertEquals("read-write", added.get("mode"));
        // The Unix domain socket a hypervisor on this host attaches through, owner and group only.
        Path socket = karaf.data().resolve("strata/nbd.sock");
        String local = "nbd+unix:///ex1?socket=" + socket;
        assertEquals(local, added.get("local-uri"));
        assertEquals("rw-rw----", java.nio.file.attribute.PosixFilePermissions.toString(
                Files.getPosixFilePermissions(socket, java.nio.file.LinkOption.NOFOLLOW_LINKS)));
        String wrote = HostTools.run(List.of("qemu-io", "-f", "raw", "-c", "write -P 0x42 4096 1048576",
                "-c", "flush", uri));
        assertTrue(wrote, wrote.contains("wrote 1048576/1048576 bytes"));
        // A TCP client on this host is paced by reno (tcp.congestion.local), whatever the host's
        // default: the distribution's JVM lets the server reach the socket's descriptor.
        assertEquals("reno", serverCongestion(karaf.nbdPort));
        assertTrue(karaf.error("storage:volume-delete local/ex1").startsWith("VOLUME_IN_USE"));
        karaf.ok("storage:volume-qos --read-iops 300 --bps 50M local/ex1");

        karaf.stop();
        karaf.start();
        karaf.awaitOutput("storage:export-list --no-format", KarafProcess.BOOT_TIMEOUT,
                out -> out.startsWith("ex1\tlocal/ex1\trw\t"));
        String read = HostTools.run(List.of("qemu-io", "-f", "raw", "-r", "-c", "read -P 0x42 4096 1048576",
                "-c", "read -P 0 0 4096", uri));
        assertTrue(read, read.contains("read 1048576/1048576 bytes") && !read.contains("failed"));
        // And through the socket, made again at start (the stopped server removed its own).
        String readLocal = HostTools.run(List.of("qemu-io", "-f", "raw", "-r", "-c", "read -P 0x42 4096 1048576",
                local));
        assertTrue(readLocal, readLocal.contains("read 1048576/1048576 bytes") && !readLocal.contains("failed"));
        // QoS limits are host configuration too.
        Map<String, String> qos = keyValues(karaf.ok("storage:volume-qos local/ex1"));
        assertEquals("300", qos.get("read-iops"));
        assertEquals(Long.toString(50L << 20), qos.get("bps"));
        assertEquals("read-iops=300,bps=52428800,burst=0.1s",
                keyValues(karaf.ok("storage:volume-stats local/ex1")).get("qos"));
        assertTrue(karaf.ok("storage:export-list --no-format").startsWith("ex1\tlocal/ex1\trw\tONLINE\t"));
        assertEquals("Export ex1 removed", karaf.ok("storage:export-remove ex1").trim());
        karaf.ok("storage:volume-delete local/ex1");
        assertEquals("", karaf.ok("storage:export-list --no-format").trim());
        karaf.stop();
    }

    /** volume-list rows by reference, every column (sizes in bytes). */
    private Map<String, String> volumeRows() {
        Map<String, String> map = new TreeMap<>();
        for (String[] row : rows(karaf.ok("storage:volume-list --no-format -b"))) {
            map.put(row[0], String.join("\t", row));
        }
        return map;
    }

    private Map<String, Map<String, String>> infos(Map<String, String> volumes) {
        Map<String, Map<String, String>> infos = new TreeMap<>();
        for (String ref : volumes.keySet()) {
            infos.put(ref, keyValues(karaf.ok("storage:volume-info " + ref)));
        }
        return infos;
    }
}

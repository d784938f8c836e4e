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
}

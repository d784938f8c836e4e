package io.strata.itests;

import static io.strata.itests.VolumeData.assertFails;
import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;
import static org.junit.Assume.assumeTrue;

import io.strata.api.ErrorCode;
import io.strata.api.format.VirtualDisk;
import io.strata.api.service.VolumeRef;
import io.strata.api.service.VolumeService;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import javax.inject.Inject;

import org.junit.After;
import org.junit.Test;
import org.osgi.framework.Bundle;

/**
 * Data on an EXT4 datastore, end to end, as root: a 256 MiB file-backed LUN formatted
 * and mounted (loop device) by the ext4 layer; VHD thin/thick and raw volumes written
 * through {@link VolumeService#open} and read back, the thin image converted by
 * qemu-img and compared; then the ext4 bundle itself leaves with a volume open (the
 * datastore turns UNAVAILABLE, the mount and the loop device are released, the handle
 * fails with DEVICE_UNAVAILABLE) and returns through deploy/ (mounted again, data
 * unchanged); finally volumes, datastore and resource are removed and nothing stays
 * mounted or attached. Ext4DatastoreIT covers the commands' output and reformatting.
 */
public class Ext4VolumesIT extends StrataTestSupport {

    private static final String FS_BUNDLE = "io.strata.fs-ext4";

    @Inject
    protected VolumeService volumes;

    private Path lun;

    @After
    public void cleanUp() {
        // Whatever happened, leave no mount or loop device on the host.
        for (String ref : List.of("e4/thin", "e4/thick", "e4/raw")) {
            run("storage:volume-delete " + ref);
        }
        run("storage:datastore-remove e4");
        run("storage:resource-remove lun0");
    }

    @Test
    public void volumesOnExt4KeepTheirDataWhileTheFilesystemBundleComesAndGoes() throws Exception {
        assumeTrue("needs root (mkfs.ext4, losetup, mount)", "root".equals(System.getProperty("user.name")));
        awaitState("local", "ONLINE");
        lun = Paths.get(System.getProperty("karaf.data"), "luns", "lun0.img");

        ok("storage:resource-add lun0 local kind=file-lun path=" + lun + " size=256M");
        Map<String, String> ds = keyValues(ok("storage:datastore-create e4 ext4 lun0/lun"));
        assertEquals("ONLINE", ds.get("state"));
        String mountPoint = ds.get("path");
        assertTrue("not mounted at " + mountPoint, mounted(mountPoint));
        String loop = loopDevice();
        assertTrue("no loop device for " + lun, loop.startsWith("/dev/loop"));

        Map<String, Long> sizes = new LinkedHashMap<>();
        sizes.put("e4/thin", create("thin", "", 96L << 20));
        sizes.put("e4/thick", create("thick", "--provisioning thick", 16L << 20));
        sizes.put("e4/raw", create("raw", "--format raw --provisioning thick-lazy", 16L << 20));
        Map<String, Path> images = new TreeMap<>();
        for (String ref : sizes.keySet()) {
            VolumeData.write(volumes, VolumeRef.parse(ref), sizes.get(ref));
            VolumeData.check(volumes, VolumeRef.parse(ref), sizes.get(ref));
            Path image = Paths.get(keyValues(ok("storage:volume-info " + ref)).get("path"));
            assertTrue(ref + " image not on the ext4 mount: " + image, image.startsWith(mountPoint));
            images.put(ref, image);
        }
        List<String[]> listed = rows(ok("storage:volume-list --no-format -b e4"));
        assertEquals(3, listed.size());
        for (String[] row : listed) {
            assertEquals(row[0], "READY", row[5]);
            assertEquals(row[0], Long.toString(sizes.get(row[0])), row[3]);
        }
        // The bytes really are in a VHD that qemu reads the same way.
        if (HostTools.has("qemu-img")) {
            assertQemuReadsPattern(images.get("e4/thin"), VolumeRef.parse("e4/thin"), sizes.get("e4/thin"));
        }
        Map<String, String> hashes = new TreeMap<>();
        images.forEach((ref, path) -> hashes.put(ref, VolumeData.sha256(path)));

        // ---- the ext4 layer leaves while a volume is open
        VolumeRef openRef = VolumeRef.parse("e4/thick");
        VirtualDisk open = volumes.open(openRef, false);
        try {
            uninstallBundle(FS_BUNDLE);
            awaitOutput("storage:driver-list --no-format",
                    out -> rows(out).stream().noneMatch(r -> r.length > 1 && r[1].equals("ext4")));
            awaitState("e4", "UNAVAILABLE");
            awaitState("local", "ONLINE");
            for (String[] row : rows(ok("storage:volume-list --no-format -b e4"))) {
                assertEquals(row[0], "UNAVAILABLE", row[5]);
            }
            assertEquals(3, rows(ok("storage:volume-list --no-format -b e4")).size());
            assertFails(ErrorCode.DEVICE_UNAVAILABLE, "read on the open handle",
                    () -> open.read(ByteBuffer.allocate(512), 0));
            assertFails(ErrorCode.DEVICE_UNAVAILABLE, "write on the open handle",
                    () -> open.write(ByteBuffer.allocate(512), 0));
            // The layer released what it held: no mount, no loop device.
            await(() -> "still mounted: " + mountPoint, () -> !mounted(mountPoint));
            assertEquals("loop device left attached", "", loopDevice());
        } finally {
            open.close();
        }

        // ---- back through deploy/
        Path jar = BundleJars.jar("strata-fs-ext4");
        Files.copy(jar, BundleJars.deployFolder().resolve(jar.getFileName()), StandardCopyOption.REPLACE_EXISTING);
        awaitOutput("storage:driver-list --no-format",
                out -> rows(out).stream().anyMatch(r -> r.length > 1 && r[1].equals("ext4")));
        awaitState("e4", "ONLINE");
        assertTrue("not mounted again at " + mountPoint, mounted(mountPoint));
        for (String ref : sizes.keySet()) {
            assertEquals(ref + " image changed", hashes.get(ref), VolumeData.sha256(images.get(ref)));
            VolumeData.check(volumes, VolumeRef.parse(ref), sizes.get(ref));
            assertEquals(ref, "READY", keyValues(ok("storage:volume-info " + ref)).get("state"));
        }

        // ---- removed cleanly
        for (String ref : sizes.keySet()) {
            ok("storage:volume-delete " + ref);
            assertFalse(ref + " image left behind", Files.exists(images.get(ref)));
        }
        assertEquals("", ok("storage:volume-list --no-format e4").trim());
        ok("storage:datastore-remove e4");
        assertFalse("still mounted after datastore-remove", mounted(mountPoint));
        assertEquals("loop device left after datastore-remove", "", loopDevice());
        ok("storage:resource-remove lun0");
        assertTrue("a LUN's file is data, it stays", Files.isRegularFile(lun));
    }

    private long create(String name, String options, long size) {
        Map<String, String> info = keyValues(ok("storage:volume-create " + options + " e4 " + name + " " + size));
        assertEquals(Long.toString(size), info.get("virtual-size"));
        assertEquals("READY", info.get("state"));
        return size;
    }

    /** qemu-img converts the image to raw; the pattern must be at the same offsets. */
    private static void assertQemuReadsPattern(Path image, VolumeRef ref, long size) throws Exception {
        Path raw = Files.createTempFile("strata-it-", ".raw");
        try {
            HostTools.run(List.of("qemu-img", "convert", "-U", "-f", "vpc", "-O", "raw",
                    image.toString(), raw.toString()));
            assertEquals(size, Files.size(raw));
            long[] offsets = VolumeData.offsets(size);
            try (RandomAccessFile f = new RandomAccessFile(raw.toFile(), "r")) {
                for (int i = 0; i < offsets.length; i++) {
                    byte[] data = new byte[VolumeData.CHUNK];
                    f.seek(offsets[i]);
                    f.readFully(data);
                    assertArrayEquals("qemu's view of " + ref + " at " + offsets[i],
                            VolumeData.chunk(ref.toString(), i), data);
                }
            }
        } finally {
            Files.deleteIfExists(raw);
        }
    }

    private static boolean mounted(String mountPoint) {
        try {
            return Files.readAllLines(Paths.get("/proc/self/mountinfo")).stream()
                    .anyMatch(l -> l.split(" ")[4].equals(mountPoint));
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    /** The loop device(s) backed by the LUN file, as {@code losetup -j} names them; empty if none. */
    private String loopDevice() {
        try {
            String out = HostTools.run(List.of(losetup(), "-j", lun.toString())).trim();
            int colon = out.indexOf(':');
            return colon < 0 ? out : out.substring(0, colon);
        } catch (IOException | InterruptedException e) {
            throw new AssertionError("losetup -j failed", e);
        }
    }

    private static String losetup() {
        for (String dir : new String[] {"/usr/sbin", "/sbin", "/usr/bin", "/bin"}) {
            if (Files.isExecutable(Paths.get(dir, "losetup"))) {
                return dir + "/losetup";
            }
        }
        return "losetup";
    }

    /** Waits until {@code storage:datastore-list} shows the datastore in that state. */
    private void awaitState(String datastore, String state) {
        awaitOutput("storage:datastore-list --no-format -b", out -> rows(out).stream()
                .anyMatch(r -> r.length > 3 && r[0].equals(datastore) && r[3].equals(state)));
    }

    /** What {@code bundle:uninstall <symbolic name>} does. */
    private void uninstallBundle(String symbolicName) throws Exception {
        for (Bundle b : bundleContext.getBundles()) {
            if (symbolicName.equals(b.getSymbolicName())) {
                b.uninstall();
                return;
            }
        }
        throw new AssertionError(symbolicName + " is not installed");
    }
}

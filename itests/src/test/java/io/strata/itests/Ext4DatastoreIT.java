package io.strata.itests;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;
import static org.junit.Assume.assumeTrue;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Map;

import org.junit.After;
import org.junit.Before;
import org.junit.Test;

/**
 * An EXT4 datastore on a file-backed LUN, end to end: resource, device, format and
 * mount (loop device), volumes, removal. Needs root (mkfs.ext4, losetup, mount); as
 * any other user it only checks the clear error.
 */
public class Ext4DatastoreIT extends StrataTestSupport {

    private Path lun;

    @Before
    public void setUp() {
        awaitDatastore("local", "ONLINE");
        lun = Paths.get(System.getProperty("karaf.data"), "luns", "lun1.img");
    }

    @After
    public void cleanUp() {
        // Leave no mount or loop device behind, whatever the test did.
        run("storage:volume-delete e4/v1");
        run("storage:datastore-remove e4");
        run("storage:resource-remove lun1");
    }

    @Test
    public void ext4DatastoreOnFileLun() throws IOException {
        assumeTrue("needs root", isRoot());

        String added = ok("storage:resource-add lun1 local kind=file-lun path=" + lun + " size=256M");
        assertTrue(added, added.startsWith("Resource lun1 added (driver local, ONLINE)"));
        assertTrue(Files.isRegularFile(lun));
        assertEquals(256L << 20, Files.size(lun));
        assertTrue(ok("storage:device-list --no-format -b lun1").startsWith("lun1/lun\t"));

        Map<String, String> ds = keyValues(ok("storage:datastore-create e4 ext4 lun1"));
        assertEquals("ext4", ds.get("filesystem"));
        assertEquals("ONLINE", ds.get("state"));
        String mountPoint = ds.get("path");
        assertTrue("not mounted at " + mountPoint + ":\n" + mounts(), mounts().contains(" " + mountPoint + " "));

        Map<String, String> vol = keyValues(ok("storage:volume-create e4 v1 64M"));
        assertEquals("67108864", vol.get("virtual-size"));
        File image = new File(vol.get("path"));
        assertTrue(image.isFile());
        assertTrue(image.getPath().startsWith(mountPoint));
        assertEquals("134217728",
                keyValues(ok("storage:volume-resize e4/v1 128M")).get("virtual-size"));
        assertTrue(ok("storage:volume-list --no-format -b e4").startsWith("e4/v1\tvhd\tthin\t134217728\t"));

        assertEquals("Volume e4/v1 deleted", ok("storage:volume-delete e4/v1").trim());
        ok("storage:datastore-remove e4");
        assertFalse("still mounted after removal:\n" + mounts(), mounts().contains(" " + mountPoint + " "));

        // The LUN now holds ext4: creating again without --force is refused, with it allowed.
        assertTrue(error("storage:datastore-create e4 ext4 lun1").startsWith("DEVICE_HAS_FILESYSTEM"));
        assertEquals("ONLINE", keyValues(ok("storage:datastore-create --force e4 ext4 lun1")).get("state"));
        ok("storage:datastore-remove e4");
        ok("storage:resource-remove lun1");
    }

    @Test
    public void withoutRootTheErrorSaysSo() {
        assumeTrue("only meaningful as another user", !isRoot());
        ok("storage:resource-add lun1 local kind=file-lun path=" + lun + " size=64M");
        assertTrue(error("storage:datastore-create e4 ext4 lun1").startsWith("PERMISSION_DENIED"));
    }

    private static boolean isRoot() {
        return "root".equals(System.getProperty("user.name"));
    }

    private static String mounts() {
        try {
            return Files.readString(Paths.get("/proc/self/mountinfo"));
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }
}

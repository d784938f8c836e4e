package io.strata.itests;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.io.File;
import java.nio.file.Files;
import java.util.List;
import java.util.Map;

import org.junit.Before;
import org.junit.Test;

/**
 * The embedded default datastore `local` and the volume commands on it, asserted on
 * the exact output formats documented in bundles/shell/README.md.
 */
public class LocalDatastoreIT extends StrataTestSupport {

    @Before
    public void localIsOnline() {
        awaitDatastore("local", "ONLINE");
    }

    @Test
    public void localDatastoreIsOnlineInItsDataDirectory() {
        Map<String, String> info = keyValues(ok("storage:datastore-info local"));
        assertEquals("local", info.get("name"));
        assertEquals("dir", info.get("filesystem"));
        assertEquals("ONLINE", info.get("state"));
        File expected = new File(System.getProperty("karaf.data"), "datastores/local");
        assertEquals(expected.getAbsoluteFile().toPath().normalize().toString(),
                new File(info.get("path")).toPath().normalize().toString());
        assertTrue(Long.parseLong(info.get("capacity")) > 0);
    }

    @Test
    public void volumeLifecycle() {
        // create: prints the volume-info block
        Map<String, String> created = keyValues(ok("storage:volume-create local/vm1 64M"));
        assertEquals("vm1", created.get("name"));
        assertEquals("local", created.get("datastore"));
        assertEquals("vhd", created.get("format"));
        assertEquals("thin", created.get("provisioning"));
        assertEquals("67108864", created.get("virtual-size"));

        // list: one row for it, sizes in bytes
        List<String[]> rows = rows(ok("storage:volume-list --no-format -b local"));
        String[] row = rows.stream().filter(r -> r[0].equals("local/vm1")).findFirst()
                .orElseThrow(() -> new AssertionError("local/vm1 not listed"));
        assertEquals("vhd", row[1]);
        assertEquals("thin", row[2]);
        assertEquals("67108864", row[3]);
        assertEquals("READY", row[5]);

        // info: the image file exists where it says
        Map<String, String> info = keyValues(ok("storage:volume-info local/vm1"));
        assertEquals("67108864", info.get("virtual-size"));
        assertEquals("vhd", info.get("format"));
        assertEquals("READY", info.get("state"));
        File image = new File(info.get("path"));
        assertTrue("image file missing: " + image, image.isFile());
        assertTrue("path not absolute: " + image, image.isAbsolute());

        // resize: grows the virtual size
        Map<String, String> resized = keyValues(ok("storage:volume-resize local/vm1 128M"));
        assertEquals("134217728", resized.get("virtual-size"));
        assertEquals("134217728", keyValues(ok("storage:volume-info local/vm1")).get("virtual-size"));

        // delete: gone from the list and from the disk
        assertEquals("Volume local/vm1 deleted", ok("storage:volume-delete local/vm1").trim());
        assertFalse(ok("storage:volume-list --no-format -b local").contains("local/vm1"));
        assertFalse("image file still there: " + image, image.exists());
        assertTrue(error("storage:volume-info local/vm1").startsWith("VOLUME_NOT_FOUND"));
    }

    @Test
    public void rawAndThickVolumes() {
        Map<String, String> raw = keyValues(ok("storage:volume-create --format raw local/r1 1M"));
        assertEquals("raw", raw.get("format"));
        assertEquals("1048576", raw.get("virtual-size"));
        assertEquals(1048576L, new File(raw.get("path")).length());

        Map<String, String> thick = keyValues(
                ok("storage:volume-create --provisioning thick local/t1 2M"));
        assertEquals("vhd", thick.get("format"));
        assertEquals("thick", thick.get("provisioning"));
        // VHD fixed: the data area followed by a 512-byte footer
        assertEquals(2 * 1048576L + 512, new File(thick.get("path")).length());

        ok("storage:volume-delete local/r1");
        ok("storage:volume-delete local/t1");
    }

    @Test
    public void errorsCarryTheirCode() {
        assertTrue(error("storage:volume-create local/a..b 64M").startsWith("INVALID_NAME"));
        assertTrue(error("storage:volume-create nosuch/vm 64M").startsWith("DATASTORE_NOT_FOUND"));
        ok("storage:volume-create local/dup 1M");
        try {
            assertTrue(error("storage:volume-create local/dup 1M").startsWith("ALREADY_EXISTS"));
        } finally {
            ok("storage:volume-delete local/dup");
        }
        assertTrue(error("storage:volume-create local 64M").startsWith("INVALID_NAME"));
        assertTrue(error("storage:volume-create local/vm2 vm3 64M").startsWith("INVALID_ARGUMENT: too many arguments"));
    }

    @Test
    public void createAndImportStillTakeTheDeprecatedDatastoreNameForm() throws Exception {
        Map<String, String> created = keyValues(ok("storage:volume-create local old1 1M"));
        assertEquals("old1", created.get("name"));
        assertEquals("local", created.get("datastore"));
        assertEquals("1048576", created.get("virtual-size"));

        File image = new File(System.getProperty("karaf.data"), "import-source.raw");
        Files.write(image.toPath(), new byte[1048576]);
        try {
            Map<String, String> imported = keyValues(ok("storage:volume-import --format raw local/imp1 " + image));
            assertEquals("imp1", imported.get("name"));
            assertEquals("raw", imported.get("format"));
            Map<String, String> old = keyValues(ok("storage:volume-import --format raw local imp2 " + image));
            assertEquals("imp2", old.get("name"));
            assertEquals("1048576", old.get("virtual-size"));
        } finally {
            Files.deleteIfExists(image.toPath());
            for (String v : List.of("old1", "imp1", "imp2")) {
                ok("storage:volume-delete local/" + v);
            }
        }
    }
}

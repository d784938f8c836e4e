package io.strata.shell.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.strata.api.format.Provisioning;
import io.strata.api.service.VolumeRef;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class VolumeCommandsTest {
    private final Fakes fakes = new Fakes();

    private VolumeCreateCommand create(String volume, String size) {
        VolumeCreateCommand c = new VolumeCreateCommand();
        c.volumes = fakes.volumes;
        c.volume = volume;
        c.size = size;
        return c;
    }

    private VolumeImportCommand importing(String volume, String path) {
        VolumeImportCommand c = new VolumeImportCommand();
        c.volumes = fakes.volumes;
        c.volume = volume;
        c.path = path;
        return c;
    }

    @Test
    void createDefaultsToThinVhdAndPrintsTheVolumeInfo() {
        assertEquals(""
                + "name: vm3\n"
                + "datastore: local\n"
                + "format: vhd\n"
                + "provisioning: thin\n"
                + "virtual-size: 10737418240\n"
                + "allocated: 1536\n"
                + "path: /var/lib/strata/local/vm3.vhd\n"
                + "file: vm3.vhd\n"
                + "state: READY\n"
                + "created: 2026-11-21T10:00:00Z\n",
                create("local/vm3", "10G").run());
    }

    @Test
    void createTakesFormatProvisioningAndPlainBytes() {
        VolumeCreateCommand c = create("local/db", "1048576");
        c.format = "raw";
        c.provisioning = "thick-lazy";
        c.run();
        var v = fakes.volumes.info(new VolumeRef("local", "db"));
        assertEquals("raw", v.format());
        assertEquals(Provisioning.THICK_LAZY, v.provisioning());
        assertEquals(1048576L, v.virtualSize());
    }

    @Test
    void createErrors() {
        assertEquals("Error executing command: INVALID_NAME: volume name 'a/b' must not contain a path separator\n",
                Shell.errorOutput(create("local/a/b", "1G")));
        assertEquals("Error executing command: INVALID_NAME: volume name 'x\\u0007' must not contain control characters\n",
                Shell.errorOutput(create("local/x\u0007", "1G")));
        assertEquals("Error executing command: INVALID_SIZE: 'ten' is not a size (examples: 10G, 512M, 1048576)\n",
                Shell.errorOutput(create("local/vm3", "ten")));
        VolumeCreateCommand c = create("local/vm3", "1G");
        c.provisioning = "fat";
        assertEquals("Error executing command: INVALID_ARGUMENT: unknown provisioning 'fat' (use thin, thick or thick-lazy)\n",
                Shell.errorOutput(c));
        assertEquals("Error executing command: ALREADY_EXISTS: volume local/vm1 already exists\n",
                Shell.errorOutput(create("local/vm1", "1G")));
        assertEquals("Error executing command: DATASTORE_NOT_FOUND: datastore nope does not exist\n",
                Shell.errorOutput(create("nope/vm3", "1G")));
        c = create("local/big", "1T");
        c.provisioning = "thick";
        assertEquals("Error executing command: DATASTORE_FULL: datastore local has 53687091200 bytes free, "
                + "volume local/big needs 1099511627776\n", Shell.errorOutput(c));
        assertEquals(2, fakes.volumes.list(null).size());
    }

    @Test
    void listShowsEveryVolume() {
        create("local/vm3", "512M").run();
        VolumeListCommand c = new VolumeListCommand();
        c.volumes = fakes.volumes;
        assertEquals(""
                + "Volume    | Format | Provisioning | Virtual size | Allocated | State\n"
                + "----------+--------+--------------+--------------+-----------+-------\n"
                + "local/vm1 | vhd    | thin         |        10.0G |      2.0M | IN_USE\n"
                + "local/vm2 | raw    | thick        |         1.0G |      1.0G | READY\n"
                + "local/vm3 | vhd    | thin         |       512.0M |      1.5K | READY\n",
                c.run());
        c.datastore = "local";
        c.bytes = true;
        c.noFormat = true;
        assertEquals(""
                + "local/vm1\tvhd\tthin\t10737418240\t2097152\tIN_USE\n"
                + "local/vm2\traw\tthick\t1073741824\t1073741824\tREADY\n"
                + "local/vm3\tvhd\tthin\t536870912\t1536\tREADY\n",
                c.run());
    }

    @Test
    void listOfAnUnknownDatastore() {
        VolumeListCommand c = new VolumeListCommand();
        c.volumes = fakes.volumes;
        c.datastore = "nope";
        assertEquals("Error executing command: DATASTORE_NOT_FOUND: datastore nope does not exist\n",
                Shell.errorOutput(c));
    }

    @Test
    void infoPrintsExactlyTheDocumentedKeysInOrder() {
        VolumeInfoCommand c = new VolumeInfoCommand();
        c.volumes = fakes.volumes;
        c.volume = "local/vm2";
        assertEquals(""
                + "name: vm2\n"
                + "datastore: local\n"
                + "format: raw\n"
                + "provisioning: thick\n"
                + "virtual-size: 1073741824\n"
                + "allocated: 1073741824\n"
                + "path: /var/lib/strata/local/vm2.img\n"
                + "file: vm2.img\n"
                + "state: READY\n"
                + "created: 2026-11-21T10:00:00Z\n",
                c.run());
    }

    @Test
    void infoErrors() {
        VolumeInfoCommand c = new VolumeInfoCommand();
        c.volumes = fakes.volumes;
        c.volume = "local/ghost";
        assertEquals("Error executing command: VOLUME_NOT_FOUND: volume local/ghost does not exist\n",
                Shell.errorOutput(c));
        c.volume = "vm1";
        assertEquals("Error executing command: INVALID_NAME: 'vm1' is not of the form <datastore>/<volume>\n",
                Shell.errorOutput(c));
        c.volume = "local/../etc";
        assertEquals("Error executing command: INVALID_NAME: volume name '../etc' must not contain a path separator\n",
                Shell.errorOutput(c));
    }

    @Test
    void resizePrintsTheNewSize() {
        VolumeResizeCommand c = new VolumeResizeCommand();
        c.volumes = fakes.volumes;
        c.volume = "local/vm2";
        c.size = "2G";
        assertEquals(""
                + "name: vm2\n"
                + "datastore: local\n"
                + "format: raw\n"
                + "provisioning: thick\n"
                + "virtual-size: 2147483648\n"
                + "allocated: 1073741824\n"
                + "path: /var/lib/strata/local/vm2.img\n"
                + "file: vm2.img\n"
                + "state: READY\n"
                + "created: 2026-11-21T10:00:00Z\n",
                c.run());
        c.size = "1G";
        assertEquals("Error executing command: INVALID_SIZE: volume local/vm2 is 2147483648 bytes; "
                + "shrinking to 1073741824 is not supported\n", Shell.errorOutput(c));
    }

    @Test
    void deleteConfirmsAndIsRefusedWhileInUse() {
        VolumeDeleteCommand c = new VolumeDeleteCommand();
        c.volumes = fakes.volumes;
        c.volume = "local/vm2";
        assertEquals("Volume local/vm2 deleted\n", c.run());
        c.volume = "local/vm1";
        assertEquals("Error executing command: VOLUME_IN_USE: volume local/vm1 is open (1 writer)\n",
                Shell.errorOutput(c));
        c.volume = "local/vm2";
        assertEquals("Error executing command: VOLUME_NOT_FOUND: volume local/vm2 does not exist\n",
                Shell.errorOutput(c));
        assertEquals(1, fakes.volumes.list(null).size());
    }

    @Test
    void importResolvesTheSourceAndPrintsTheVolume(@org.junit.jupiter.api.io.TempDir Path dir) {
        VolumeImportCommand c = importing("local/imported", dir.resolve("sub/../disk.vhd").toString());
        assertEquals(""
                + "name: imported\n"
                + "datastore: local\n"
                + "format: vhd\n"
                + "provisioning: thin\n"
                + "virtual-size: 1048576\n"
                + "allocated: 4096\n"
                + "path: /var/lib/strata/local/imported.vhd\n"
                + "file: imported.vhd\n"
                + "state: READY\n"
                + "created: 2026-11-21T10:00:00Z\n",
                c.run());
        assertEquals(dir.resolve("disk.vhd"), fakes.volumes.lastImport);
        assertNull(fakes.volumes.lastImportFormat);
    }

    @Test
    void importWithoutSessionResolvesRelativePathsAgainstTheWorkingDirectory() {
        VolumeImportCommand c = importing("local/rel", "images/a.vhd");
        c.format = "vhd";
        c.run();
        assertEquals(Path.of("images/a.vhd").toAbsolutePath(), fakes.volumes.lastImport);
        assertEquals("vhd", fakes.volumes.lastImportFormat);
    }

    @Test
    void importOfADamagedImage() {
        VolumeImportCommand c = importing("local/bad", "/tmp/bad.img");
        assertEquals("Error executing command: CORRUPT_IMAGE: /tmp/bad.img is not a VHD image: bad footer cookie\n",
                Shell.errorOutput(c));
        c.volume = "local/a/b";
        assertEquals("Error executing command: INVALID_NAME: volume name 'a/b' must not contain a path separator\n",
                Shell.errorOutput(c));
        c.volume = "local";
        assertEquals("Error executing command: INVALID_NAME: 'local' is not of the form <datastore>/<volume>\n",
                Shell.errorOutput(c));
    }

    @Test
    void createAndImportStillTakeTheDeprecatedDatastoreNameForm(@org.junit.jupiter.api.io.TempDir Path dir) {
        // storage:volume-create local old1 1M, as scripts written before <datastore>/<volume> do.
        VolumeCreateCommand create = create("local", "old1");
        create.deprecatedSize = "1M";
        assertEquals(create("local/new1", "1M").run().replace("new1", "old1"), create.run());
        assertEquals(1048576L, fakes.volumes.info(new VolumeRef("local", "old1")).virtualSize());

        VolumeImportCommand imp = importing("local", "old2");
        imp.deprecatedPath = dir.resolve("disk.vhd").toString();
        assertEquals(importing("local/new2", dir.resolve("disk.vhd").toString()).run().replace("new2", "old2"),
                imp.run());
        assertEquals(dir.resolve("disk.vhd"), fakes.volumes.lastImport);
    }

    @Test
    void aVolumeRefFollowedByTwoMoreArgumentsIsRefused() {
        VolumeCreateCommand create = create("local/vm3", "vm4");
        create.deprecatedSize = "1G";
        assertEquals("Error executing command: INVALID_ARGUMENT: too many arguments: give the volume as "
                + "<datastore>/<volume>, then the size\n", Shell.errorOutput(create));
        VolumeImportCommand imp = importing("local/vm3", "vm4");
        imp.deprecatedPath = "/tmp/disk.vhd";
        assertEquals("Error executing command: INVALID_ARGUMENT: too many arguments: give the volume as "
                + "<datastore>/<volume>, then the image's path\n", Shell.errorOutput(imp));
        assertEquals(2, fakes.volumes.list(null).size());
    }
}

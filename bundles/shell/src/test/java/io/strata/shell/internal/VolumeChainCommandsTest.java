package io.strata.shell.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.strata.api.format.CheckReport;
import io.strata.api.format.Provisioning;
import io.strata.api.service.Availability;
import io.strata.api.service.DatastoreInfo;
import io.strata.api.service.VolumeRef;
import io.strata.api.service.VolumeUsage;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** volume-clone, volume-reclaim, volume-check, volume-usage, and qcow2 in volume-create. */
class VolumeChainCommandsTest {
    private final Fakes fakes = new Fakes();

    private VolumeCloneCommand clone(String source, String datastore, String name) {
        VolumeCloneCommand c = new VolumeCloneCommand();
        c.volumes = fakes.volumes;
        c.source = source;
        c.datastore = datastore;
        c.name = name;
        return c;
    }

    private VolumeCheckCommand check(String volume) {
        VolumeCheckCommand c = new VolumeCheckCommand();
        c.volumes = fakes.volumes;
        c.volume = volume;
        return c;
    }

    private VolumeReclaimCommand reclaim(String volume) {
        VolumeReclaimCommand c = new VolumeReclaimCommand();
        c.volumes = fakes.volumes;
        c.volume = volume;
        return c;
    }

    private VolumeUsageCommand usage(String volume) {
        VolumeUsageCommand c = new VolumeUsageCommand();
        c.volumes = fakes.volumes;
        c.volume = volume;
        return c;
    }

    private static VolumeRef ref(String text) {
        return VolumeRef.parse(text);
    }

    @Test
    void aFullCloneKeepsTheSourcesFormatAndProvisioning() {
        assertEquals(""
                + "name: copy\n"
                + "datastore: local\n"
                + "format: raw\n"
                + "provisioning: thick\n"
                + "virtual-size: 1073741824\n"
                + "allocated: 1073741824\n"
                + "path: /var/lib/strata/local/copy.img\n"
                + "file: copy.img\n"
                + "state: READY\n"
                + "created: 2026-11-21T10:00:00Z\n",
                clone("local/vm2", "local", "copy").run());
        assertEquals(Arrays.asList(ref("local/vm2"), null, ref("local/copy"), false, null, null),
                fakes.volumes.lastClone);
    }

    @Test
    void aFullCloneOfASnapshotCanChangeFormatAndProvisioning() {
        fakes.snapshots.create(ref("local/vm1"), "s1");
        VolumeCloneCommand c = clone("local/vm1@s1", "local", "big");
        c.format = "qcow2";
        c.provisioning = "thick";
        assertEquals(""
                + "name: big\n"
                + "datastore: local\n"
                + "format: qcow2\n"
                + "provisioning: thick\n"
                + "virtual-size: 10737418240\n"
                + "allocated: 10737418240\n"
                + "path: /var/lib/strata/local/big.qcow2\n"
                + "file: big.qcow2\n"
                + "state: READY\n"
                + "created: 2026-11-21T10:00:00Z\n",
                c.run());
        assertEquals(Arrays.asList(ref("local/vm1"), "s1", ref("local/big"), false, "qcow2", Provisioning.THICK),
                fakes.volumes.lastClone);
    }

    @Test
    void aLinkedCloneIsThinOverItsBase() {
        fakes.snapshots.create(ref("local/vm1"), "gold");
        VolumeCloneCommand c = clone("local/vm1@gold", "local", "web1");
        c.linked = true;
        assertEquals(""
                + "name: web1\n"
                + "datastore: local\n"
                + "format: vhd\n"
                + "provisioning: thin\n"
                + "virtual-size: 10737418240\n"
                + "allocated: 4096\n"
                + "path: /var/lib/strata/local/web1.vhd\n"
                + "file: web1.vhd\n"
                + "state: READY\n"
                + "created: 2026-11-21T10:00:00Z\n",
                c.run());
        assertEquals(Arrays.asList(ref("local/vm1"), "gold", ref("local/web1"), true, null, null),
                fakes.volumes.lastClone);
        assertEquals(Map.of("local/vm1@gold", List.of("local/web1")), fakes.snapshots.clonesOf);
    }

    @Test
    void aBaseWithLinkedClonesCannotBeDeleted() {
        fakes.volumes.put(new io.strata.api.service.VolumeInfo("local", "gold", "vhd", Provisioning.THIN, 1073741824L,
                4096, "gold.vhd", "/var/lib/strata/local/gold.vhd", io.strata.api.service.VolumeState.READY,
                Fakes.CREATED));
        fakes.snapshots.create(ref("local/gold"), "v1");
        for (String name : List.of("web2", "web1")) {
            VolumeCloneCommand c = clone("local/gold@v1", "local", name);
            c.linked = true;
            c.run();
        }
        VolumeDeleteCommand d = new VolumeDeleteCommand();
        d.volumes = fakes.volumes;
        d.volume = "local/gold";
        assertEquals("Error executing command: VOLUME_IN_USE: volume local/gold is the base of linked clones "
                + "local/web1, local/web2\n", Shell.errorOutput(d));
        d.volume = "local/web1";
        assertEquals("Volume local/web1 deleted\n", d.run());
    }

    @Test
    void cloneErrors() {
        fakes.datastores.map.put("fast", new DatastoreInfo("fast", "ext4", "host/lun0", Availability.ONLINE, "",
                1073741824L, 1073741824L, 0, 0, 0, "/mnt/fast", Map.of()));
        assertEquals("Error executing command: SNAPSHOT_NOT_FOUND: volume local/vm1 has no snapshot nope\n",
                Shell.errorOutput(clone("local/vm1@nope", "local", "c1")));
        assertEquals("Error executing command: INVALID_NAME: snapshot name '../x' must not contain a path separator\n",
                Shell.errorOutput(clone("local/vm1@../x", "local", "c1")));
        assertEquals("Error executing command: INVALID_NAME: snapshot name must not be empty\n",
                Shell.errorOutput(clone("local/vm1@", "local", "c1")));
        assertEquals("Error executing command: INVALID_NAME: volume name 'a/b' must not contain a path separator\n",
                Shell.errorOutput(clone("local/vm1", "local", "a/b")));
        assertEquals("Error executing command: INVALID_NAME: datastore name '..' must not contain '..'\n",
                Shell.errorOutput(clone("local/vm1", "..", "c1")));
        assertEquals("Error executing command: ALREADY_EXISTS: volume local/vm2 already exists\n",
                Shell.errorOutput(clone("local/vm1", "local", "vm2")));
        assertEquals("Error executing command: VOLUME_NOT_FOUND: volume local/ghost does not exist\n",
                Shell.errorOutput(clone("local/ghost", "local", "c1")));
        VolumeCloneCommand c = clone("local/vm1", "fast", "c1");
        c.linked = true;
        assertEquals("Error executing command: INVALID_ARGUMENT: a linked clone must be in its base's datastore "
                + "local, not fast\n", Shell.errorOutput(c));
        c = clone("local/vm1", "local", "c1");
        c.linked = true;
        c.format = "qcow2";
        assertEquals("Error executing command: INVALID_ARGUMENT: --format and --provisioning apply to full clones "
                + "only; a linked clone has its base's format\n", Shell.errorOutput(c));
        c = clone("local/vm1", "local", "c1");
        c.provisioning = "fat";
        assertEquals("Error executing command: INVALID_ARGUMENT: unknown provisioning 'fat' (use thin, thick or "
                + "thick-lazy)\n", Shell.errorOutput(c));
        c = clone("local/vm1", "local", "c1");
        c.format = "vmdk";
        assertEquals("Error executing command: FORMAT_NOT_FOUND: no disk format of type vmdk is installed\n",
                Shell.errorOutput(c));
        assertEquals(2, fakes.volumes.list(null).size());
    }

    @Test
    void reclaimReportsTheBytesReturned() {
        fakes.volumes.create(ref("local/db"), 1073741824L, "vhd", Provisioning.THIN);
        fakes.volumes.reclaimable.put("local/db", 3145728L);
        assertEquals("Reclaimed 3145728 bytes (3.0M) from local/db\n", reclaim("local/db").run());
        fakes.volumes.reclaimable.put("local/db", 0L);
        assertEquals("Reclaimed 0 bytes from local/db\n", reclaim("local/db").run());
    }

    @Test
    void reclaimErrors() {
        assertEquals("Error executing command: VOLUME_IN_USE: volume local/vm1 is open (1 writer)\n",
                Shell.errorOutput(reclaim("local/vm1")));
        assertEquals("Error executing command: UNSUPPORTED: volume local/vm2 is raw; space reclamation needs a vhd "
                + "or qcow2 image\n", Shell.errorOutput(reclaim("local/vm2")));
        assertEquals("Error executing command: INVALID_NAME: volume name '../etc' must not contain a path separator\n",
                Shell.errorOutput(reclaim("local/../etc")));
    }

    @Test
    void aCleanCheckSaysOkPerImage() {
        fakes.volumes.checks.put("local/vm1", List.of(
                new CheckReport("vm1.vhd", List.of(), List.of(), List.of(), 0),
                new CheckReport("vm1.s1.vhd", List.of(), List.of(), List.of(), 0)));
        assertEquals(""
                + "vm1.vhd: ok\n"
                + "vm1.s1.vhd: ok\n"
                + "Checked 2 images of local/vm1: 0 errors, 0 leaks, 0 repaired\n",
                Shell.transcript(check("local/vm1")));
    }

    @Test
    void errorsFailTheCommandAfterTheReport() {
        fakes.volumes.checks.put("local/vm1", List.of(
                new CheckReport("vm1.vhd", List.of("BAT entry 3 overlaps BAT entry 1 at sector 4096",
                        "footer copy differs from the footer"), List.of("block at sector 8200 is not referenced"),
                        List.of(), 2097152),
                new CheckReport("vm1.s1.vhd", List.of(), List.of(), List.of(), 0)));
        assertEquals(""
                + "vm1.vhd: 2 errors, 1 leak\n"
                + "  error: BAT entry 3 overlaps BAT entry 1 at sector 4096\n"
                + "  error: footer copy differs from the footer\n"
                + "  leak: block at sector 8200 is not referenced\n"
                + "vm1.s1.vhd: ok\n"
                + "Checked 2 images of local/vm1: 2 errors, 1 leak (2097152 bytes), 0 repaired; "
                + "--repair frees leaked space\n"
                + "Error executing command: CORRUPT_IMAGE: volume local/vm1 has 2 errors in vm1.vhd\n",
                Shell.transcript(check("local/vm1")));
        CommandFailure f = org.junit.jupiter.api.Assertions.assertThrows(CommandFailure.class,
                check("local/vm1")::runForShell);
        assertEquals(io.strata.api.ErrorCode.CORRUPT_IMAGE, f.code());
    }

    @Test
    void leaksAloneDoNotFailTheCommand() {
        fakes.volumes.checks.put("local/vm2", List.of(
                new CheckReport("vm2.img", List.of(), List.of("cluster 7 is not referenced", "cluster 9 is not referenced"),
                        List.of(), 131072)));
        assertEquals(""
                + "vm2.img: 2 leaks\n"
                + "  leak: cluster 7 is not referenced\n"
                + "  leak: cluster 9 is not referenced\n"
                + "Checked 1 image of local/vm2: 0 errors, 2 leaks (131072 bytes), 0 repaired; "
                + "--repair frees leaked space\n",
                Shell.transcript(check("local/vm2")));
    }

    @Test
    void repairListsWhatItFixed() {
        fakes.volumes.repairs.put("local/vm2", List.of(
                new CheckReport("vm2.img", List.of(), List.of(), List.of("footer copy rewritten",
                        "freed leaked block at sector 8200"), 0)));
        VolumeCheckCommand c = check("local/vm2");
        c.repair = true;
        assertEquals(""
                + "vm2.img: repaired\n"
                + "  repaired: footer copy rewritten\n"
                + "  repaired: freed leaked block at sector 8200\n"
                + "Checked 1 image of local/vm2: 0 errors, 0 leaks, 2 repaired\n",
                Shell.transcript(c));
        c = check("local/vm1");
        c.repair = true;
        assertEquals("Error executing command: VOLUME_IN_USE: volume local/vm1 is open (1 writer); repair needs it "
                + "closed\n", Shell.transcript(c));
    }

    @Test
    void usageOfALinkedCloneAndOfItsBase() {
        fakes.volumes.usages.put("local/web1", new VolumeUsage(ref("local/web1"), 4096, 2097152, "local/vm1@gold",
                List.of()));
        fakes.volumes.usages.put("local/vm1", new VolumeUsage(ref("local/vm1"), 2101248, 0, "",
                List.of("local/web1", "local/web2")));
        fakes.snapshots.create(ref("local/vm1"), "gold");
        VolumeCloneCommand c = clone("local/vm1@gold", "local", "web1");
        c.linked = true;
        c.run();
        assertEquals(""
                + "volume: local/web1\n"
                + "unique: 4096\n"
                + "shared: 2097152\n"
                + "base: local/vm1@gold\n"
                + "dependents: \n",
                usage("local/web1").run());
        assertEquals(""
                + "volume: local/vm1\n"
                + "unique: 2101248\n"
                + "shared: 0\n"
                + "base: \n"
                + "dependents: local/web1,local/web2\n",
                usage("local/vm1").run());
        assertEquals("Error executing command: VOLUME_NOT_FOUND: volume local/ghost does not exist\n",
                Shell.errorOutput(usage("local/ghost")));
    }

    @Test
    void volumeCreateAcceptsQcow2() {
        VolumeCreateCommand c = new VolumeCreateCommand();
        c.volumes = fakes.volumes;
        c.format = "qcow2";
        c.volume = "local/q1";
        c.size = "3T";
        assertEquals(""
                + "name: q1\n"
                + "datastore: local\n"
                + "format: qcow2\n"
                + "provisioning: thin\n"
                + "virtual-size: 3298534883328\n"
                + "allocated: 1536\n"
                + "path: /var/lib/strata/local/q1.qcow2\n"
                + "file: q1.qcow2\n"
                + "state: READY\n"
                + "created: 2026-11-21T10:00:00Z\n",
                c.run());
    }
}

package io.strata.shell.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.api.ErrorCode;
import io.strata.api.format.CheckReport;
import io.strata.api.service.Availability;
import io.strata.api.service.DatastoreInfo;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** datastore-check, datastore-grow, and the layer's details in datastore-info. */
class DatastoreMaintenanceCommandsTest {
    private final Fakes fakes = new Fakes();

    private DatastoreCheckCommand check(String name) {
        DatastoreCheckCommand c = new DatastoreCheckCommand();
        c.datastores = fakes.datastores;
        c.name = name;
        return c;
    }

    private DatastoreGrowCommand grow(String name) {
        DatastoreGrowCommand c = new DatastoreGrowCommand();
        c.datastores = fakes.datastores;
        c.name = name;
        return c;
    }

    private static DatastoreInfo local(long capacity, long free, Map<String, String> details) {
        return new DatastoreInfo("local", "vims", "san/lun0", Availability.ONLINE, "", capacity, free,
                11811160064L, 1074790400L, 2, "", Map.of(), details);
    }

    @Test
    void aCleanCheckSaysOk() {
        fakes.datastores.checks.put("local", new CheckReport(".vims.sf", List.of(), List.of(), List.of(), 0));
        assertEquals(""
                + ".vims.sf: ok\n"
                + "Checked datastore local: 0 errors, 0 leaks, 0 repaired\n",
                Shell.transcript(check("local")));
        assertFalse(fakes.datastores.lastRepair);
    }

    @Test
    void errorsFailTheCommandAfterTheReport() {
        fakes.datastores.checks.put("local", new CheckReport(".vims.sf", List.of("block 12 is in two files: vm1.vhd, "
                + "vm2.vhd", "directory entry 'x' points past the end"), List.of("block 40 is allocated but unused"),
                List.of(), 1048576));
        assertEquals(""
                + ".vims.sf: 2 errors, 1 leak\n"
                + "  error: block 12 is in two files: vm1.vhd, vm2.vhd\n"
                + "  error: directory entry 'x' points past the end\n"
                + "  leak: block 40 is allocated but unused\n"
                + "Checked datastore local: 2 errors, 1 leak (1048576 bytes), 0 repaired; --repair frees leaked space\n"
                + "Error executing command: CORRUPT_IMAGE: the filesystem of datastore local has 2 errors\n",
                Shell.transcript(check("local")));
        CommandFailure f = assertThrows(CommandFailure.class, check("local")::runForShell);
        assertEquals(ErrorCode.CORRUPT_IMAGE, f.code());
    }

    @Test
    void leaksAloneDoNotFailAndRepairListsWhatItFixed() {
        fakes.datastores.checks.put("local", new CheckReport(".vims.sf", List.of(), List.of("block 40 is unused"),
                List.of(), 1048576));
        assertEquals(""
                + ".vims.sf: 1 leak\n"
                + "  leak: block 40 is unused\n"
                + "Checked datastore local: 0 errors, 1 leak (1048576 bytes), 0 repaired; --repair frees leaked space\n",
                Shell.transcript(check("local")));
        fakes.datastores.checks.put("local", new CheckReport(".vims.sf", List.of(), List.of(),
                List.of("freed block 40"), 0));
        DatastoreCheckCommand c = check("local");
        c.repair = true;
        assertEquals(""
                + ".vims.sf: repaired\n"
                + "  repaired: freed block 40\n"
                + "Checked datastore local: 0 errors, 0 leaks, 1 repaired\n",
                Shell.transcript(c));
        assertTrue(fakes.datastores.lastRepair);
    }

    @Test
    void checkReportsALayerWithoutCheckerAndAnUnknownDatastore() {
        assertEquals("Error executing command: UNSUPPORTED: filesystem 'dir' of datastore 'local' has no checker\n",
                Shell.transcript(check("local")));
        assertEquals("Error executing command: DATASTORE_NOT_FOUND: datastore nope does not exist\n",
                Shell.transcript(check("nope")));
    }

    @Test
    void growPrintsTheOldAndNewCapacity() {
        fakes.datastores.map.put("local", local(107374182400L, 53687091200L, Map.of()));
        fakes.datastores.grown.put("local", local(214748364800L, 161061273600L, Map.of()));
        assertEquals("Datastore local grown: capacity 107374182400 (100.0G) -> 214748364800 (200.0G), "
                + "free 161061273600 (150.0G)\n", grow("local").run());
        // Once more: the device has no more room.
        assertEquals("Datastore local unchanged (its device has no more room): capacity 214748364800 (200.0G) -> "
                + "214748364800 (200.0G), free 161061273600 (150.0G)\n", grow("local").run());
    }

    @Test
    void growReportsALayerThatCannotGrow() {
        assertEquals("Error executing command: UNSUPPORTED: filesystem 'dir' of datastore 'local' cannot grow\n",
                Shell.errorOutput(grow("local")));
        assertEquals("Error executing command: DATASTORE_NOT_FOUND: datastore nope does not exist\n",
                Shell.errorOutput(grow("nope")));
    }

    @Test
    void infoPrintsTheLayersDetailsInItsOrderAfterTheFixedLines() {
        Map<String, String> details = new LinkedHashMap<>();
        details.put("block size", "1 MiB");
        details.put("hosts", "a (slot 0, alive), b (slot 1, dead)");
        details.put("name", "not the datastore's name\nsecond line");
        fakes.datastores.map.put("local", local(107374182400L, 53687091200L, details));
        DatastoreInfoCommand c = new DatastoreInfoCommand();
        c.datastores = fakes.datastores;
        c.name = "local";
        assertEquals(""
                + "name: local\n"
                + "filesystem: vims\n"
                + "device: san/lun0\n"
                + "state: ONLINE\n"
                + "capacity: 107374182400\n"
                + "free: 53687091200\n"
                + "provisioned: 11811160064\n"
                + "allocated: 1074790400\n"
                + "overcommit-ratio: 0.11\n"
                + "volumes: 2\n"
                + "path: \n"
                + "block size: 1 MiB\n"
                + "hosts: a (slot 0, alive), b (slot 1, dead)\n"
                + "name: not the datastore's name second line\n",
                c.run());
    }
}

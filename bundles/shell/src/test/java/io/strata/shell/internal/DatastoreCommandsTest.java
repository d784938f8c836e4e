package io.strata.shell.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.api.device.DeviceInfo;
import io.strata.api.device.DeviceKind;
import io.strata.api.service.Availability;
import io.strata.api.service.DatastoreInfo;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class DatastoreCommandsTest {
    private final Fakes fakes = new Fakes();

    private DatastoreCreateCommand create(String name, String fs, String device) {
        DatastoreCreateCommand c = new DatastoreCreateCommand();
        c.datastores = fakes.datastores;
        c.resources = fakes.resources;
        c.name = name;
        c.filesystem = fs;
        c.device = device;
        return c;
    }

    @Test
    void createPrintsTheNewDatastoreAndPassesOptionsAndForce() {
        DatastoreCreateCommand c = create("fast", "ext4", "host/data");
        c.options = List.of("label=fast", "reserved=1");
        c.force = true;
        assertEquals(""
                + "name: fast\n"
                + "filesystem: ext4\n"
                + "device: host/data\n"
                + "state: ONLINE\n"
                + "capacity: 1073741824\n"
                + "free: 1006632960\n"
                + "provisioned: 0\n"
                + "allocated: 0\n"
                + "overcommit-ratio: 0.00\n"
                + "volumes: 0\n"
                + "path: /mnt/fast\n",
                c.run());
        assertEquals(Map.of("label", "fast", "reserved", "1"), fakes.datastores.lastOptions);
        assertTrue(fakes.datastores.lastForce);
    }

    @Test
    void aResourceWithOneDeviceStandsForThatDevice() {
        create("second", "dir", "host").run();
        assertEquals("host/data", fakes.datastores.lastDevice);
        assertFalse(fakes.datastores.lastForce);
    }

    @Test
    void aResourceWithSeveralDevicesMustBeNamedPrecisely() {
        fakes.resources.devices.add(new DeviceInfo("host", "lun0", DeviceKind.BLOCK, 1 << 30, 512, "file LUN"));
        assertEquals("Error executing command: INVALID_ARGUMENT: resource host offers 2 devices; "
                + "name one as resource/device: host/data, host/lun0\n", Shell.errorOutput(create("x", "dir", "host")));
    }

    @Test
    void aResourceWithoutDevices() {
        fakes.resources.add("empty", "local", Map.of());
        assertEquals("Error executing command: DEVICE_NOT_FOUND: resource empty offers no device\n",
                Shell.errorOutput(create("x", "dir", "empty")));
    }

    @Test
    void createRefusesBadNamesAndDuplicateOptions() {
        assertEquals("Error executing command: INVALID_NAME: datastore name 'a/b' must not contain a path separator\n",
                Shell.errorOutput(create("a/b", "dir", "host/data")));
        assertEquals("Error executing command: INVALID_NAME: datastore name '..' must not contain '..'\n",
                Shell.errorOutput(create("..", "dir", "host/data")));
        DatastoreCreateCommand c = create("x", "dir", "host/data");
        c.options = List.of("a=1", "a=2");
        assertEquals("Error executing command: INVALID_ARGUMENT: option 'a' is given twice\n", Shell.errorOutput(c));
        assertEquals(1, fakes.datastores.list().size());
    }

    @Test
    void createReportsAnExistingDatastore() {
        assertEquals("Error executing command: ALREADY_EXISTS: datastore local already exists\n",
                Shell.errorOutput(create("local", "dir", "host/data")));
    }

    @Test
    void listShowsSpaceAccounting() {
        fakes.datastores.map.put("gone", new DatastoreInfo("gone", "ext4", "luns/lun0", Availability.UNAVAILABLE,
                "filesystem ext4 is not installed", 0, 0, 2147483648L, 0, 1, "", Map.of()));
        DatastoreListCommand c = new DatastoreListCommand();
        c.datastores = fakes.datastores;
        assertEquals(""
                + "Name  | FS   | Device    | State       | Capacity |  Free | Provisioned | Allocated | Overcommit | Volumes\n"
                + "------+------+-----------+-------------+----------+-------+-------------+-----------+------------+--------\n"
                + "gone  | ext4 | luns/lun0 | UNAVAILABLE |        0 |     0 |        2.0G |         0 |          - |       1\n"
                + "local | dir  | host/data | ONLINE      |   100.0G | 50.0G |       11.0G |      1.0G |       0.11 |       2\n",
                c.run());
        c.bytes = true;
        c.noFormat = true;
        assertEquals(""
                + "gone\text4\tluns/lun0\tUNAVAILABLE\t0\t0\t2147483648\t0\t-\t1\n"
                + "local\tdir\thost/data\tONLINE\t107374182400\t53687091200\t11811160064\t1074790400\t0.11\t2\n",
                c.run());
    }

    @Test
    void infoPrintsKeyValueLinesAndTheMessageOnlyWhenThereIsOne() {
        DatastoreInfoCommand c = new DatastoreInfoCommand();
        c.datastores = fakes.datastores;
        c.name = "local";
        assertEquals(""
                + "name: local\n"
                + "filesystem: dir\n"
                + "device: host/data\n"
                + "state: ONLINE\n"
                + "capacity: 107374182400\n"
                + "free: 53687091200\n"
                + "provisioned: 11811160064\n"
                + "allocated: 1074790400\n"
                + "overcommit-ratio: 0.11\n"
                + "volumes: 2\n"
                + "path: /var/lib/strata/local\n",
                c.run());
        fakes.datastores.map.put("gone", new DatastoreInfo("gone", "ext4", "luns/lun0", Availability.UNAVAILABLE,
                "filesystem ext4 is not installed", 0, 0, 2147483648L, 0, 1, "", Map.of()));
        c.name = "gone";
        assertEquals(""
                + "name: gone\n"
                + "filesystem: ext4\n"
                + "device: luns/lun0\n"
                + "state: UNAVAILABLE\n"
                + "message: filesystem ext4 is not installed\n"
                + "capacity: 0\n"
                + "free: 0\n"
                + "provisioned: 2147483648\n"
                + "allocated: 0\n"
                + "overcommit-ratio: -\n"
                + "volumes: 1\n"
                + "path: \n",
                c.run());
    }

    @Test
    void infoOfAnUnknownDatastore() {
        DatastoreInfoCommand c = new DatastoreInfoCommand();
        c.datastores = fakes.datastores;
        c.name = "nope";
        assertEquals("Error executing command: DATASTORE_NOT_FOUND: datastore nope does not exist\n",
                Shell.errorOutput(c));
    }

    @Test
    void removeConfirmsAndIsRefusedWhileAVolumeIsOpen() {
        create("spare", "dir", "host/data").run();
        DatastoreRemoveCommand c = new DatastoreRemoveCommand();
        c.datastores = fakes.datastores;
        c.name = "spare";
        assertEquals("Datastore spare removed (its files stay on the device)\n", c.run());
        c.name = "local";
        assertEquals("Error executing command: VOLUME_IN_USE: datastore local has open volumes\n",
                Shell.errorOutput(c));
    }
}

package io.strata.shell.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.strata.api.service.Availability;
import io.strata.api.service.ResourceInfo;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class DriverAndResourceCommandsTest {
    private final Fakes fakes = new Fakes();

    @Test
    void driverListShowsEveryPluginWithItsCapabilities() {
        DriverListCommand c = new DriverListCommand();
        c.resources = fakes.resources;
        assertEquals(""
                + "Kind       | Type  | Bundle                 | Capabilities                               | Description\n"
                + "-----------+-------+------------------------+--------------------------------------------+------------------------------------------------------\n"
                + "driver     | local | io.strata.driver.local | device-discovery,block-devices,file-shares | Local directories, file-backed LUNs and block devices\n"
                + "filesystem | dir   | io.strata.fs.dir       | sparse-files,local-paths                   | A datastore in a local directory\n"
                + "format     | vhd   | io.strata.format.vhd   | thin,thick,resize                          | Microsoft VHD, fixed and dynamic\n",
                c.run());
    }

    @Test
    void driverListWithoutFormatIsBareTabSeparatedRows() {
        DriverListCommand c = new DriverListCommand();
        c.resources = fakes.resources;
        c.noFormat = true;
        assertEquals(""
                + "driver\tlocal\tio.strata.driver.local\tdevice-discovery,block-devices,file-shares\tLocal directories, file-backed LUNs and block devices\n"
                + "filesystem\tdir\tio.strata.fs.dir\tsparse-files,local-paths\tA datastore in a local directory\n"
                + "format\tvhd\tio.strata.format.vhd\tthin,thick,resize\tMicrosoft VHD, fixed and dynamic\n",
                c.run());
    }

    @Test
    void emptyListPrintsOnlyTheHeader() {
        fakes.resources.plugins.clear();
        DriverListCommand c = new DriverListCommand();
        c.resources = fakes.resources;
        assertEquals("Kind | Type | Bundle | Capabilities | Description\n"
                + "-----+------+--------+--------------+------------\n", c.run());
        c.noFormat = true;
        assertEquals("", c.run());
    }

    @Test
    void resourceAddPassesParametersAndConfirms() {
        ResourceAddCommand c = new ResourceAddCommand();
        c.resources = fakes.resources;
        c.name = "luns";
        c.driver = "local";
        c.parameters = List.of("path=/srv/luns", "mode=file");
        assertEquals("Resource luns added (driver local, ONLINE)\n", c.run());
        assertEquals(new ResourceInfo("luns", "local", Map.of("path", "/srv/luns", "mode", "file"),
                Availability.ONLINE, ""), fakes.resources.resource("luns"));
    }

    /**
     * Karaf runs a command on a thread named after the whole command line, which every log
     * line made meanwhile shows: the command masks the secret in it before doing anything.
     */
    @Test
    void theSecretInTheCommandLineIsMaskedInTheThreadNameTheLogShows() throws Exception {
        ResourceAddCommand c = new ResourceAddCommand();
        c.resources = fakes.resources;
        c.name = "san";
        c.driver = "local";
        c.parameters = List.of("portal=10.0.0.1", "chap-user=u", "chap-secret=TopSecret1");
        String[] during = new String[1];
        fakes.resources.onAdd = () -> during[0] = Thread.currentThread().getName();
        Thread t = new Thread(c::execute,
                "pipe-storage:resource-add san local portal=10.0.0.1 chap-user=u chap-secret=TopSecret1 X-Password='a b'");
        t.start();
        t.join(10_000);
        assertEquals("pipe-storage:resource-add san local portal=10.0.0.1 chap-user=u chap-secret=******** "
                + "X-Password=********", during[0]);
        assertEquals("a=1 password=******** secret=******** b=2",
                StorageCommand.maskSecrets("a=1 password=\"x y\" secret=z b=2"));
    }

    @Test
    void resourceAddRefusesANameWithASlashBeforeCallingTheService() {
        ResourceAddCommand c = new ResourceAddCommand();
        c.resources = fakes.resources;
        c.name = "a/b";
        c.driver = "local";
        assertEquals("Error executing command: INVALID_NAME: resource name 'a/b' must not contain a path separator\n",
                Shell.errorOutput(c));
        assertEquals(1, fakes.resources.resources().size());
    }

    @Test
    void resourceAddRefusesAParameterWithoutEquals() {
        ResourceAddCommand c = new ResourceAddCommand();
        c.resources = fakes.resources;
        c.name = "luns";
        c.driver = "local";
        c.parameters = List.of("path");
        assertEquals("Error executing command: INVALID_ARGUMENT: parameter 'path' is not of the form key=value\n",
                Shell.errorOutput(c));
    }

    @Test
    void resourceAddReportsAMissingDriver() {
        ResourceAddCommand c = new ResourceAddCommand();
        c.resources = fakes.resources;
        c.name = "san";
        c.driver = "iscsi";
        assertEquals("Error executing command: DRIVER_NOT_FOUND: no storage driver of type iscsi is installed\n",
                Shell.errorOutput(c));
    }

    @Test
    void resourceListShowsParametersSortedByKey() {
        fakes.resources.add("luns", "local", Map.of("path", "/srv/luns", "mode", "file"));
        ResourceListCommand c = new ResourceListCommand();
        c.resources = fakes.resources;
        assertEquals(""
                + "Name | Driver | State  | Parameters\n"
                + "-----+--------+--------+-------------------------\n"
                + "host | local  | ONLINE | path=/var/lib/strata\n"
                + "luns | local  | ONLINE | mode=file,path=/srv/luns\n",
                c.run());
    }

    @Test
    void resourceRemove() {
        fakes.resources.add("luns", "local", Map.of());
        ResourceRemoveCommand c = new ResourceRemoveCommand();
        c.resources = fakes.resources;
        c.name = "luns";
        assertEquals("Resource luns removed\n", c.run());
        assertEquals(1, fakes.resources.resources().size());
    }

    @Test
    void resourceRemoveRefusedWhileADatastoreUsesIt() {
        ResourceRemoveCommand c = new ResourceRemoveCommand();
        c.resources = fakes.resources;
        c.name = "host";
        assertEquals("Error executing command: RESOURCE_IN_USE: resource host carries datastore local\n",
                Shell.errorOutput(c));
    }

    @Test
    void deviceListShowsRefsKindsAndSizes() {
        DeviceListCommand c = new DeviceListCommand();
        c.resources = fakes.resources;
        assertEquals(""
                + "Device    | Kind       |   Size | Sector | Description\n"
                + "----------+------------+--------+--------+--------------------------\n"
                + "host/data | file-share | 100.0G |      - | directory /var/lib/strata\n",
                c.run());
        c.bytes = true;
        c.noFormat = true;
        assertEquals("host/data\tfile-share\t107374182400\t-\tdirectory /var/lib/strata\n", c.run());
    }

    @Test
    void deviceListOfAnUnknownResource() {
        DeviceListCommand c = new DeviceListCommand();
        c.resources = fakes.resources;
        c.resource = "nope";
        assertEquals("Error executing command: RESOURCE_NOT_FOUND: resource nope does not exist\n",
                Shell.errorOutput(c));
    }
}

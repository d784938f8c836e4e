package io.strata.shell.internal.completers;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.device.DeviceInfo;
import io.strata.api.device.DeviceKind;
import io.strata.api.service.Availability;
import io.strata.api.service.DatastoreInfo;
import io.strata.api.service.DatastoreService;
import io.strata.api.service.PluginInfo;
import io.strata.api.service.PluginKind;
import io.strata.api.service.ResourceInfo;
import io.strata.api.service.ResourceService;
import io.strata.api.service.VolumeInfo;
import io.strata.api.service.VolumeService;
import java.lang.reflect.Proxy;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.karaf.shell.api.console.CommandLine;
import org.apache.karaf.shell.api.console.Completer;
import org.junit.jupiter.api.Test;

class CompletersTest {

    /** The command line as Karaf passes it while the user types {@code word} and presses tab. */
    private static CommandLine typing(String word) {
        return new CommandLine() {
            @Override public int getCursorArgumentIndex() { return 1; }
            @Override public String getCursorArgument() { return word; }
            @Override public int getArgumentPosition() { return word.length(); }
            @Override public String[] getArguments() { return new String[] {"storage:x", word}; }
            @Override public int getBufferPosition() { return 10 + word.length(); }
            @Override public String getBuffer() { return "storage:x " + word; }
        };
    }

    private static List<String> complete(Completer c, String word) {
        List<String> out = new ArrayList<>();
        c.complete(null, typing(word), out);
        return out;
    }

    /** A service whose listed methods answer, and every other method fails. */
    @SuppressWarnings("unchecked")
    private static <T> T service(Class<T> type, Map<String, Object> answers) {
        return (T) Proxy.newProxyInstance(type.getClassLoader(), new Class<?>[] {type}, (p, m, a) -> {
            if (answers.containsKey(m.getName())) {
                return answers.get(m.getName());
            }
            throw new StorageException(ErrorCode.DEVICE_UNAVAILABLE, "not in this test");
        });
    }

    private static DatastoreInfo ds(String name) {
        return new DatastoreInfo(name, "dir", "host/data", Availability.ONLINE, "", 0, 0, 0, 0, 0, "", Map.of());
    }

    @Test
    void datastoreNames() {
        DatastoreNameCompleter c = new DatastoreNameCompleter();
        c.datastores = service(DatastoreService.class, Map.of("list", List.of(ds("local"), ds("lun"), ds("nfs"))));
        assertEquals(List.of("local ", "lun "), complete(c, "l"));
        assertEquals(List.of("local ", "lun ", "nfs "), complete(c, ""));
        assertEquals(List.of(), complete(c, "L"));
    }

    @Test
    void volumeRefs() {
        VolumeRefCompleter c = new VolumeRefCompleter();
        var created = java.time.Instant.EPOCH;
        c.volumes = service(VolumeService.class, Map.of("list", List.of(
                new VolumeInfo("local", "vm1", "vhd", io.strata.api.format.Provisioning.THIN, 1, 1, "f", "",
                        io.strata.api.service.VolumeState.READY, created),
                new VolumeInfo("nfs", "vm1", "vhd", io.strata.api.format.Provisioning.THIN, 1, 1, "f", "",
                        io.strata.api.service.VolumeState.READY, created))));
        assertEquals(List.of("local/vm1 "), complete(c, "local/"));
    }

    @Test
    void resourceNamesAndDeviceRefs() {
        ResourceService rs = service(ResourceService.class, Map.of(
                "resources", List.of(new ResourceInfo("host", "local", Map.of(), Availability.ONLINE, "")),
                "devices", List.of(new DeviceInfo("host", "data", DeviceKind.FILE_SHARE, 1, 0, ""),
                        new DeviceInfo("host", "lun0", DeviceKind.BLOCK, 1, 512, ""))));
        ResourceNameCompleter names = new ResourceNameCompleter();
        names.resources = rs;
        assertEquals(List.of("host "), complete(names, "h"));
        DeviceRefCompleter devices = new DeviceRefCompleter();
        devices.resources = rs;
        assertEquals(List.of("host/data ", "host/lun0 "), complete(devices, "host/"));
        assertEquals(List.of("host/data ", "host/lun0 "), complete(devices, "h"));
    }

    @Test
    void aResourceWithOneDeviceIsOfferedByItsName() {
        DeviceRefCompleter devices = new DeviceRefCompleter();
        devices.resources = service(ResourceService.class, Map.of("devices", List.of(
                new DeviceInfo("host", "data", DeviceKind.FILE_SHARE, 1, 0, ""),
                new DeviceInfo("luns", "lun0", DeviceKind.BLOCK, 1, 512, ""),
                new DeviceInfo("luns", "lun1", DeviceKind.BLOCK, 1, 512, ""))));
        assertEquals(List.of("host ", "host/data ", "luns/lun0 ", "luns/lun1 "), complete(devices, ""));
    }

    @Test
    void freeTextAcceptsWhatWasTypedAndOffersNothingForAnEmptyWord() {
        FreeTextCompleter c = new FreeTextCompleter();
        assertEquals(List.of("vm7 "), complete(c, "vm7"));
        assertEquals(List.of(), complete(c, ""));
    }

    @Test
    void pluginTypesByKind() {
        ResourceService rs = service(ResourceService.class, Map.of("plugins", List.of(
                new PluginInfo(PluginKind.DRIVER, "local", "", Set.of(), "b"),
                new PluginInfo(PluginKind.FILESYSTEM, "dir", "", Set.of(), "b"),
                new PluginInfo(PluginKind.FILESYSTEM, "ext4", "", Set.of(), "b"),
                new PluginInfo(PluginKind.FORMAT, "raw", "", Set.of(), "b"),
                new PluginInfo(PluginKind.FORMAT, "vhd", "", Set.of(), "b"))));
        DriverTypeCompleter drivers = new DriverTypeCompleter();
        drivers.resources = rs;
        FilesystemTypeCompleter filesystems = new FilesystemTypeCompleter();
        filesystems.resources = rs;
        FormatTypeCompleter formats = new FormatTypeCompleter();
        formats.resources = rs;
        assertEquals(List.of("local "), complete(drivers, ""));
        assertEquals(List.of("dir ", "ext4 "), complete(filesystems, ""));
        assertEquals(List.of("raw ", "vhd "), complete(formats, ""));
    }

    @Test
    void provisioningValues() {
        assertEquals(List.of("thick ", "thick-lazy ", "thin "), complete(new ProvisioningCompleter(), "th"));
        assertEquals(List.of("thick ", "thick-lazy "), complete(new ProvisioningCompleter(), "thick"));
    }

    @Test
    void aFailingServiceOffersNothing() {
        DatastoreNameCompleter c = new DatastoreNameCompleter();
        c.datastores = service(DatastoreService.class, Map.of());
        List<String> out = new ArrayList<>();
        assertEquals(-1, c.complete(null, typing(""), out));
        assertEquals(List.of(), out);
    }
}

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
import io.strata.api.service.SnapshotInfo;
import io.strata.api.service.SnapshotService;
import io.strata.api.service.TaskInfo;
import io.strata.api.service.TaskService;
import io.strata.api.service.TaskState;
import io.strata.api.service.VolumeRef;
import java.time.Instant;
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

    /** The command line while the user types the last of {@code words} (word 0 is the command). */
    private static CommandLine typing(String... words) {
        String last = words[words.length - 1];
        String buffer = String.join(" ", words);
        return new CommandLine() {
            @Override public int getCursorArgumentIndex() { return words.length - 1; }
            @Override public String getCursorArgument() { return last; }
            @Override public int getArgumentPosition() { return last.length(); }
            @Override public String[] getArguments() { return words; }
            @Override public int getBufferPosition() { return buffer.length(); }
            @Override public String getBuffer() { return buffer; }
        };
    }

    private static List<String> complete(Completer c, CommandLine line) {
        List<String> out = new ArrayList<>();
        c.complete(null, line, out);
        return out;
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
    void newVolumeRefsOfferTheDatastoreThenAcceptTheTypedName() {
        NewVolumeRefCompleter c = new NewVolumeRefCompleter();
        c.datastores = service(DatastoreService.class, Map.of("list", List.of(ds("local"), ds("lun"), ds("nfs"))));
        // No space after "local/": the volume name follows.
        assertEquals(List.of("local/", "lun/"), complete(c, "l"));
        assertEquals(List.of("local/", "lun/", "nfs/"), complete(c, ""));
        assertEquals(List.of("local/vm9 "), complete(c, "local/vm9"));
        assertEquals(List.of(), complete(c, "x"));
        c.datastores = service(DatastoreService.class, Map.of());
        assertEquals(List.of(), complete(c, "l"));
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
    void formatsComeFromTheInstalledPluginsSoQcow2IsOfferedOnceInstalled() {
        FormatTypeCompleter formats = new FormatTypeCompleter();
        formats.resources = service(ResourceService.class, Map.of("plugins", List.of(
                new PluginInfo(PluginKind.FORMAT, "qcow2", "", Set.of(), "b"),
                new PluginInfo(PluginKind.FORMAT, "raw", "", Set.of(), "b"),
                new PluginInfo(PluginKind.FORMAT, "vhd", "", Set.of(), "b"))));
        assertEquals(List.of("qcow2 "), complete(formats, "q"));
        assertEquals(List.of("qcow2 ", "raw ", "vhd "), complete(formats, ""));
    }

    private static SnapshotInfo snap(String volume, String name) {
        return new SnapshotInfo(VolumeRef.parse(volume), name, "", name + ".vhd", Instant.EPOCH, 0, true);
    }

    @Test
    void snapshotNamesOfTheVolumeGivenBeforeTheCursor() {
        SnapshotNameCompleter c = new SnapshotNameCompleter();
        List<VolumeRef> asked = new ArrayList<>();
        c.snapshots = (SnapshotService) Proxy.newProxyInstance(SnapshotService.class.getClassLoader(),
                new Class<?>[] {SnapshotService.class}, (p, m, a) -> {
                    VolumeRef ref = (VolumeRef) a[0];
                    asked.add(ref);
                    if (!ref.volume().equals("vm1")) {
                        throw new StorageException(ErrorCode.VOLUME_NOT_FOUND, "no");
                    }
                    return List.of(snap("local/vm1", "base"), snap("local/vm1", "s1"), snap("local/vm1", "s2"));
                });
        assertEquals(List.of("s1 ", "s2 "), complete(c, typing("storage:snapshot-delete", "--no-wait", "local/vm1", "s")));
        assertEquals(List.of("base ", "s1 ", "s2 "), complete(c, typing("storage:snapshot-revert", "local/vm1", "")));
        assertEquals(List.of(VolumeRef.parse("local/vm1"), VolumeRef.parse("local/vm1")), asked);
        // No volume before the cursor, or one that does not exist: nothing offered.
        assertEquals(List.of(), complete(c, typing("storage:snapshot-revert", "")));
        assertEquals(List.of(), complete(c, typing("storage:snapshot-revert", "local/ghost", "")));
    }

    @Test
    void cloneSourcesAreVolumesAndAfterAnAtTheirSnapshots() {
        VolumeOrSnapshotCompleter c = new VolumeOrSnapshotCompleter();
        c.volumes = service(VolumeService.class, Map.of("list", List.of(
                new VolumeInfo("local", "vm1", "vhd", io.strata.api.format.Provisioning.THIN, 1, 1, "f", "",
                        io.strata.api.service.VolumeState.READY, Instant.EPOCH))));
        c.snapshots = service(SnapshotService.class, Map.of("list", List.of(snap("local/vm1", "gold"),
                snap("local/vm1", "s1"))));
        assertEquals(List.of("local/vm1 "), complete(c, "lo"));
        assertEquals(List.of("local/vm1@gold ", "local/vm1@s1 "), complete(c, "local/vm1@"));
        assertEquals(List.of("local/vm1@gold "), complete(c, "local/vm1@g"));
        assertEquals(List.of(), complete(c, "bad@"));
    }

    @Test
    void taskIdsOfTasksThatHaveNotEnded() {
        TaskIdCompleter c = new TaskIdCompleter();
        c.tasks = service(TaskService.class, Map.of("list", List.of(
                new TaskInfo("t3", "snapshot-delete", "local/vm1@s2", TaskState.RUNNING, 0.5, "", Instant.EPOCH, null),
                new TaskInfo("t2", "snapshot-delete", "local/vm1@s1", TaskState.SUCCEEDED, 1, "", Instant.EPOCH,
                        Instant.EPOCH),
                new TaskInfo("t1", "volume-clone", "local/c1", TaskState.QUEUED, 0, "", Instant.EPOCH, null))));
        assertEquals(List.of("t1 ", "t3 "), complete(c, "t"));
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

package io.strata.shell.internal;

import io.strata.api.ErrorCode;
import io.strata.api.Names;
import io.strata.api.StorageException;
import io.strata.api.device.DeviceInfo;
import io.strata.api.service.DatastoreService;
import io.strata.api.service.ResourceService;
import io.strata.shell.internal.completers.DeviceRefCompleter;
import io.strata.shell.internal.completers.FilesystemTypeCompleter;
import io.strata.shell.internal.completers.FreeTextCompleter;
import java.util.List;
import java.util.stream.Collectors;
import org.apache.karaf.shell.api.action.Argument;
import org.apache.karaf.shell.api.action.Command;
import org.apache.karaf.shell.api.action.Completion;
import org.apache.karaf.shell.api.action.Option;
import org.apache.karaf.shell.api.action.lifecycle.Reference;
import org.apache.karaf.shell.api.action.lifecycle.Service;

/** Formats (where the layer formats) and mounts a datastore on a device. */
@Command(scope = "storage", name = "datastore-create",
        description = "Creates a datastore on a device: formats it where the filesystem needs it, mounts it, records it")
@Service
public class DatastoreCreateCommand extends StorageCommand {

    @Reference
    DatastoreService datastores;

    @Reference
    ResourceService resources;

    @Option(name = "-f", aliases = "--force",
            description = "Format the device even when it already holds a filesystem (its data is lost)")
    boolean force;

    @Option(name = "-o", aliases = "--option", description = "A filesystem option as key=value (repeatable)",
            multiValued = true)
    List<String> options;

    @Argument(index = 0, name = "name", description = "The datastore name", required = true)
    @Completion(FreeTextCompleter.class)
    String name;

    @Argument(index = 1, name = "filesystem", description = "The filesystem type (see storage:driver-list)",
            required = true)
    @Completion(FilesystemTypeCompleter.class)
    String filesystem;

    @Argument(index = 2, name = "device",
            description = "The device as resource/device, or a resource that has exactly one device", required = true)
    @Completion(DeviceRefCompleter.class)
    String device;

    @Override
    String run() {
        Names.check("datastore", name);
        var opts = Text.parsePairs("option", options);
        var info = datastores.create(name, filesystem, deviceRef(), opts, force);
        return DatastoreInfoCommand.render(info);
    }

    private String deviceRef() {
        if (device.indexOf('/') >= 0) {
            return device;
        }
        List<DeviceInfo> devices = resources.devices(device);
        if (devices.size() == 1) {
            return devices.get(0).ref();
        }
        if (devices.isEmpty()) {
            throw new StorageException(ErrorCode.DEVICE_NOT_FOUND, "resource " + device + " offers no device");
        }
        throw new StorageException(ErrorCode.INVALID_ARGUMENT, "resource " + device + " offers "
                + devices.size() + " devices; name one as resource/device: "
                + devices.stream().map(DeviceInfo::ref).collect(Collectors.joining(", ")));
    }
}

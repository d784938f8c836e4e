package io.strata.shell.internal;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.service.VolumeInfo;
import io.strata.api.service.VolumeRef;
import io.strata.api.service.VolumeService;
import io.strata.shell.internal.completers.DeviceRefCompleter;
import io.strata.shell.internal.completers.NewVolumeRefCompleter;
import org.apache.karaf.shell.api.action.Argument;
import org.apache.karaf.shell.api.action.Command;
import org.apache.karaf.shell.api.action.Completion;
import org.apache.karaf.shell.api.action.lifecycle.Reference;
import org.apache.karaf.shell.api.action.lifecycle.Service;

/** Maps a whole block device as a volume (raw device mapping). */
@Command(scope = "storage", name = "volume-map",
        description = "Uses a whole block device (a LUN, a disk) as a volume: raw device mapping")
@Service
public class VolumeMapCommand extends StorageCommand {

    @Reference
    VolumeService volumes;

    @Argument(index = 0, name = "volume", description = "The new volume as <datastore>/<volume>; the datastore"
            + " keeps only a small mapping file", required = true)
    @Completion(NewVolumeRefCompleter.class)
    String volume;

    @Argument(index = 1, name = "device", description = "The device as <resource>/<device> (see storage:device-list)",
            required = true)
    @Completion(DeviceRefCompleter.class)
    String device;

    @Override
    String run() {
        VolumeRef ref = VolumeRef.parse(volume);
        int slash = device.indexOf('/');
        if (slash <= 0 || slash == device.length() - 1) {
            throw new StorageException(ErrorCode.INVALID_ARGUMENT,
                    "device must be given as <resource>/<device>, not '" + device + "'");
        }
        VolumeInfo v = volumes.mapDevice(ref, device.substring(0, slash), device.substring(slash + 1));
        return "Volume " + v.ref() + " maps device " + device + " (" + Text.size(v.virtualSize(), false) + ")\n";
    }
}

package io.strata.shell.internal;

import io.strata.api.service.VolumeRef;
import io.strata.api.service.VolumeService;
import io.strata.shell.internal.completers.VolumeRefCompleter;
import org.apache.karaf.shell.api.action.Argument;
import org.apache.karaf.shell.api.action.Command;
import org.apache.karaf.shell.api.action.Completion;
import org.apache.karaf.shell.api.action.lifecycle.Reference;
import org.apache.karaf.shell.api.action.lifecycle.Service;

/** Deletes a volume and its image; refused while the volume is open. */
@Command(scope = "storage", name = "volume-delete",
        description = "Deletes a volume and its image file (refused while the volume is in use)")
@Service
public class VolumeDeleteCommand extends StorageCommand {

    @Reference
    VolumeService volumes;

    @Argument(index = 0, name = "volume", description = "The volume as <datastore>/<volume>", required = true)
    @Completion(VolumeRefCompleter.class)
    String volume;

    @Override
    String run() {
        VolumeRef ref = VolumeRef.parse(volume);
        volumes.delete(ref);
        return "Volume " + ref + " deleted\n";
    }
}

package io.strata.shell.internal;

import io.strata.api.Names;
import io.strata.api.service.SnapshotService;
import io.strata.api.service.VolumeRef;
import io.strata.shell.internal.completers.SnapshotNameCompleter;
import io.strata.shell.internal.completers.VolumeRefCompleter;
import org.apache.karaf.shell.api.action.Argument;
import org.apache.karaf.shell.api.action.Command;
import org.apache.karaf.shell.api.action.Completion;
import org.apache.karaf.shell.api.action.lifecycle.Reference;
import org.apache.karaf.shell.api.action.lifecycle.Service;

/** Returns a volume to a snapshot; what was written since is discarded. */
@Command(scope = "storage", name = "snapshot-revert",
        description = "Returns a volume to a snapshot (the current state is discarded, other snapshots stay; "
                + "refused while the volume is in use)")
@Service
public class SnapshotRevertCommand extends StorageCommand {

    @Reference
    SnapshotService snapshots;

    @Argument(index = 0, name = "volume", description = "The volume as <datastore>/<volume>", required = true)
    @Completion(VolumeRefCompleter.class)
    String volume;

    @Argument(index = 1, name = "snapshot", description = "The snapshot to return to", required = true)
    @Completion(SnapshotNameCompleter.class)
    String snapshot;

    @Override
    String run() {
        VolumeRef ref = VolumeRef.parse(volume);
        Names.check("snapshot", snapshot);
        snapshots.revert(ref, snapshot);
        return "Volume " + ref + " reverted to snapshot " + snapshot + "\n";
    }
}

package io.strata.shell.internal;

import io.strata.api.Names;
import io.strata.api.service.SnapshotInfo;
import io.strata.api.service.SnapshotService;
import io.strata.api.service.VolumeRef;
import io.strata.shell.internal.completers.FreeTextCompleter;
import io.strata.shell.internal.completers.VolumeRefCompleter;
import org.apache.karaf.shell.api.action.Argument;
import org.apache.karaf.shell.api.action.Command;
import org.apache.karaf.shell.api.action.Completion;
import org.apache.karaf.shell.api.action.lifecycle.Reference;
import org.apache.karaf.shell.api.action.lifecycle.Service;

/** Takes a redirect-on-write snapshot and prints it as {@code key: value} lines. */
@Command(scope = "storage", name = "snapshot-create",
        description = "Takes a snapshot of a volume (constant time; the volume keeps its name and may stay in use)")
@Service
public class SnapshotCreateCommand extends StorageCommand {

    @Reference
    SnapshotService snapshots;

    @Argument(index = 0, name = "volume", description = "The volume as <datastore>/<volume>", required = true)
    @Completion(VolumeRefCompleter.class)
    String volume;

    @Argument(index = 1, name = "name", description = "The snapshot name, unique within the volume", required = true)
    @Completion(FreeTextCompleter.class)
    String name;

    @Override
    String run() {
        VolumeRef ref = VolumeRef.parse(volume);
        Names.check("snapshot", name);
        return render(snapshots.create(ref, name));
    }

    /**
     * A snapshot's lines, always these keys in this order: name, volume, parent
     * (empty for the first snapshot), created, allocated (bytes), file.
     */
    static String render(SnapshotInfo s) {
        return new Text.KeyValues()
                .put("name", s.name())
                .put("volume", s.volume())
                .put("parent", s.parent())
                .put("created", Text.time(s.created()))
                .put("allocated", s.allocated())
                .put("file", s.file())
                .toString();
    }
}

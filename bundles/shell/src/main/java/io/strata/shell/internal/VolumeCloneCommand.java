package io.strata.shell.internal;

import io.strata.api.ErrorCode;
import io.strata.api.Names;
import io.strata.api.StorageException;
import io.strata.api.format.Provisioning;
import io.strata.api.service.VolumeRef;
import io.strata.api.service.VolumeService;
import io.strata.shell.internal.completers.DatastoreNameCompleter;
import io.strata.shell.internal.completers.FormatTypeCompleter;
import io.strata.shell.internal.completers.FreeTextCompleter;
import io.strata.shell.internal.completers.ProvisioningCompleter;
import io.strata.shell.internal.completers.VolumeOrSnapshotCompleter;
import org.apache.karaf.shell.api.action.Argument;
import org.apache.karaf.shell.api.action.Command;
import org.apache.karaf.shell.api.action.Completion;
import org.apache.karaf.shell.api.action.Option;
import org.apache.karaf.shell.api.action.lifecycle.Reference;
import org.apache.karaf.shell.api.action.lifecycle.Service;

/** Clones a volume or one of its snapshots and prints the new volume as {@code storage:volume-info} does. */
@Command(scope = "storage", name = "volume-clone",
        description = "Clones a volume or volume@snapshot: a full copy, or with --linked a child over a shared read-only base")
@Service
public class VolumeCloneCommand extends StorageCommand {

    @Reference
    VolumeService volumes;

    @Option(name = "--linked",
            description = "A linked clone: constant time, same datastore, the source becomes a read-only base")
    boolean linked;

    @Option(name = "--format", description = "A full clone's disk format (default: the source's)")
    @Completion(FormatTypeCompleter.class)
    String format;

    @Option(name = "--provisioning", description = "A full clone's provisioning: thin, thick or thick-lazy "
            + "(default: the source's)")
    @Completion(ProvisioningCompleter.class)
    String provisioning;

    @Argument(index = 0, name = "source", description = "The source as <datastore>/<volume> or "
            + "<datastore>/<volume>@<snapshot>", required = true)
    @Completion(VolumeOrSnapshotCompleter.class)
    String source;

    @Argument(index = 1, name = "datastore", description = "The datastore of the new volume", required = true)
    @Completion(DatastoreNameCompleter.class)
    String datastore;

    @Argument(index = 2, name = "name", description = "The new volume's name", required = true)
    @Completion(FreeTextCompleter.class)
    String name;

    @Override
    String run() {
        // '@' is not allowed in names, so the first one separates the snapshot.
        int at = source.indexOf('@');
        VolumeRef from = VolumeRef.parse(at < 0 ? source : source.substring(0, at));
        String snapshot = at < 0 ? null : Names.check("snapshot", source.substring(at + 1));
        VolumeRef target = new VolumeRef(datastore, name);
        if (linked && (format != null || provisioning != null)) {
            // A linked clone is a child image of its base: same format, thin by construction.
            throw new StorageException(ErrorCode.INVALID_ARGUMENT,
                    "--format and --provisioning apply to full clones only; a linked clone has its base's format");
        }
        Provisioning p = provisioning == null ? null : Provisioning.parse(provisioning);
        return VolumeInfoCommand.render(volumes.clone(from, snapshot, target, linked, format, p));
    }
}

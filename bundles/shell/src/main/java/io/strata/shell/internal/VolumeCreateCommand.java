package io.strata.shell.internal;

import io.strata.api.Sizes;
import io.strata.api.format.Provisioning;
import io.strata.api.service.VolumeRef;
import io.strata.api.service.VolumeService;
import io.strata.shell.internal.completers.DatastoreNameCompleter;
import io.strata.shell.internal.completers.FormatTypeCompleter;
import io.strata.shell.internal.completers.FreeTextCompleter;
import io.strata.shell.internal.completers.ProvisioningCompleter;
import org.apache.karaf.shell.api.action.Argument;
import org.apache.karaf.shell.api.action.Command;
import org.apache.karaf.shell.api.action.Completion;
import org.apache.karaf.shell.api.action.Option;
import org.apache.karaf.shell.api.action.lifecycle.Reference;
import org.apache.karaf.shell.api.action.lifecycle.Service;

/** Creates a volume and prints it as {@code storage:volume-info} does. */
@Command(scope = "storage", name = "volume-create", description = "Creates a volume in a datastore")
@Service
public class VolumeCreateCommand extends StorageCommand {

    @Reference
    VolumeService volumes;

    @Option(name = "--format", description = "The disk format (default vhd)")
    @Completion(FormatTypeCompleter.class)
    String format = "vhd";

    @Option(name = "--provisioning", description = "thin, thick or thick-lazy (default thin)")
    @Completion(ProvisioningCompleter.class)
    String provisioning = "thin";

    @Argument(index = 0, name = "datastore", description = "The datastore", required = true)
    @Completion(DatastoreNameCompleter.class)
    String datastore;

    @Argument(index = 1, name = "name", description = "The volume name", required = true)
    @Completion(FreeTextCompleter.class)
    String name;

    @Argument(index = 2, name = "size", description = "The virtual size: 10G, 512M, 1T or bytes", required = true)
    @Completion(FreeTextCompleter.class)
    String size;

    @Override
    String run() {
        VolumeRef ref = new VolumeRef(datastore, name);
        Provisioning p = Provisioning.parse(provisioning);
        long bytes = Sizes.parse(size);
        return VolumeInfoCommand.render(volumes.create(ref, bytes, format, p));
    }
}

package io.strata.shell.internal;

import io.strata.api.Sizes;
import io.strata.api.format.Provisioning;
import io.strata.api.service.VolumeService;
import io.strata.shell.internal.completers.FormatTypeCompleter;
import io.strata.shell.internal.completers.FreeTextCompleter;
import io.strata.shell.internal.completers.NewVolumeRefCompleter;
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

    @Argument(index = 0, name = "volume", description = "The new volume as <datastore>/<volume>", required = true)
    @Completion(NewVolumeRefCompleter.class)
    String volume;

    @Argument(index = 1, name = "size", description = "The virtual size: 10G, 512M, 1T or bytes", required = true)
    @Completion(FreeTextCompleter.class)
    String size;

    /** The deprecated form {@code <datastore> <name> <size>}: the first two are then datastore and name. */
    @Argument(index = 2, name = "deprecated-size", description = "Only in the deprecated form "
            + "<datastore> <name> <size>, kept for old scripts: the size")
    @Completion(FreeTextCompleter.class)
    String deprecatedSize;

    @Override
    String run() {
        NewVolumeArguments args = NewVolumeArguments.parse(volume, size, deprecatedSize, "size");
        Provisioning p = Provisioning.parse(provisioning);
        long bytes = Sizes.parse(args.value());
        return VolumeInfoCommand.render(volumes.create(args.volume(), bytes, format, p));
    }
}

package io.strata.shell.internal;

import io.strata.api.Sizes;
import io.strata.api.service.VolumeRef;
import io.strata.api.service.VolumeService;
import io.strata.shell.internal.completers.FreeTextCompleter;
import io.strata.shell.internal.completers.VolumeRefCompleter;
import org.apache.karaf.shell.api.action.Argument;
import org.apache.karaf.shell.api.action.Command;
import org.apache.karaf.shell.api.action.Completion;
import org.apache.karaf.shell.api.action.lifecycle.Reference;
import org.apache.karaf.shell.api.action.lifecycle.Service;

/** Grows a volume and prints it as {@code storage:volume-info} does. */
@Command(scope = "storage", name = "volume-resize", description = "Grows a volume to a new virtual size")
@Service
public class VolumeResizeCommand extends StorageCommand {

    @Reference
    VolumeService volumes;

    @Argument(index = 0, name = "volume", description = "The volume as <datastore>/<volume>", required = true)
    @Completion(VolumeRefCompleter.class)
    String volume;

    @Argument(index = 1, name = "size", description = "The new virtual size: 10G, 512M, 1T or bytes", required = true)
    @Completion(FreeTextCompleter.class)
    String size;

    @Override
    String run() {
        VolumeRef ref = VolumeRef.parse(volume);
        long bytes = Sizes.parse(size);
        return VolumeInfoCommand.render(volumes.resize(ref, bytes));
    }
}

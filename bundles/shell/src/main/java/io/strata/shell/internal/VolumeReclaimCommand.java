package io.strata.shell.internal;

import io.strata.api.Sizes;
import io.strata.api.service.VolumeRef;
import io.strata.api.service.VolumeService;
import io.strata.shell.internal.completers.VolumeRefCompleter;
import org.apache.karaf.shell.api.action.Argument;
import org.apache.karaf.shell.api.action.Command;
import org.apache.karaf.shell.api.action.Completion;
import org.apache.karaf.shell.api.action.lifecycle.Reference;
import org.apache.karaf.shell.api.action.lifecycle.Service;

/** Frees the blocks of a volume's current image that read as zeros. */
@Command(scope = "storage", name = "volume-reclaim",
        description = "Frees blocks that read as zeros in a volume's current image and compacts it "
                + "(refused while the volume is in use)")
@Service
public class VolumeReclaimCommand extends StorageCommand {

    @Reference
    VolumeService volumes;

    @Argument(index = 0, name = "volume", description = "The volume as <datastore>/<volume>", required = true)
    @Completion(VolumeRefCompleter.class)
    String volume;

    @Override
    String run() {
        VolumeRef ref = VolumeRef.parse(volume);
        long bytes = volumes.reclaim(ref);
        // Below 1 KiB the short form is the same number, so it is not repeated.
        String human = bytes < 1024 ? "" : " (" + Sizes.human(bytes) + ")";
        return "Reclaimed " + bytes + " bytes" + human + " from " + ref + "\n";
    }
}

package io.strata.shell.internal;

import io.strata.api.service.VolumeRef;
import io.strata.api.service.VolumeService;
import io.strata.api.service.VolumeUsage;
import io.strata.shell.internal.completers.VolumeRefCompleter;
import org.apache.karaf.shell.api.action.Argument;
import org.apache.karaf.shell.api.action.Command;
import org.apache.karaf.shell.api.action.Completion;
import org.apache.karaf.shell.api.action.lifecycle.Reference;
import org.apache.karaf.shell.api.action.lifecycle.Service;

/** Shows what a volume shares with other volumes and what is its own, as {@code key: value} lines. */
@Command(scope = "storage", name = "volume-usage",
        description = "Shows a volume's space: unique, shared with a linked clone's base, and the clones that depend on it")
@Service
public class VolumeUsageCommand extends StorageCommand {

    @Reference
    VolumeService volumes;

    @Argument(index = 0, name = "volume", description = "The volume as <datastore>/<volume>", required = true)
    @Completion(VolumeRefCompleter.class)
    String volume;

    @Override
    String run() {
        VolumeUsage u = volumes.usage(VolumeRef.parse(volume));
        return new Text.KeyValues()
                .put("volume", u.volume())
                .put("unique", u.unique())
                .put("shared", u.shared())
                .put("base", u.base())
                .put("dependents", String.join(",", u.dependents()))
                .toString();
    }
}

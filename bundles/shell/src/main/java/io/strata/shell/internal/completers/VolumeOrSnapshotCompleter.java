package io.strata.shell.internal.completers;

import io.strata.api.service.SnapshotService;
import io.strata.api.service.VolumeRef;
import io.strata.api.service.VolumeService;
import java.util.Collection;
import java.util.stream.Collectors;
import org.apache.karaf.shell.api.action.lifecycle.Reference;
import org.apache.karaf.shell.api.action.lifecycle.Service;
import org.apache.karaf.shell.api.console.CommandLine;

/**
 * Completes {@code datastore/volume}, and once the word has an {@code @},
 * {@code datastore/volume@snapshot} for that volume's snapshots (listing every
 * volume's snapshots up front would read every chain on each tab).
 */
@Service
public class VolumeOrSnapshotCompleter extends ListCompleter {

    @Reference
    VolumeService volumes;

    @Reference
    SnapshotService snapshots;

    @Override
    Collection<String> values() {
        return volumes.list(null).stream().map(v -> v.ref().toString()).collect(Collectors.toList());
    }

    @Override
    Collection<String> values(CommandLine commandLine) {
        String word = commandLine.getCursorArgument();
        int at = word == null ? -1 : word.indexOf('@');
        if (at < 0) {
            return values();
        }
        String volume = word.substring(0, at);
        return snapshots.list(VolumeRef.parse(volume)).stream().map(s -> volume + "@" + s.name())
                .collect(Collectors.toList());
    }
}

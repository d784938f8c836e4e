package io.strata.shell.internal.completers;

import io.strata.api.service.SnapshotInfo;
import io.strata.api.service.SnapshotService;
import io.strata.api.service.VolumeRef;
import java.util.Collection;
import java.util.List;
import java.util.stream.Collectors;
import org.apache.karaf.shell.api.action.lifecycle.Reference;
import org.apache.karaf.shell.api.action.lifecycle.Service;
import org.apache.karaf.shell.api.console.CommandLine;

/**
 * Completes the snapshot names of the volume named earlier on the line (the
 * nearest preceding {@code datastore/volume} word that is not an option).
 */
@Service
public class SnapshotNameCompleter extends ListCompleter {

    @Reference
    SnapshotService snapshots;

    @Override
    Collection<String> values() {
        return List.of();
    }

    @Override
    Collection<String> values(CommandLine commandLine) {
        VolumeRef ref = volumeBefore(commandLine);
        if (ref == null) {
            return List.of();
        }
        return snapshots.list(ref).stream().map(SnapshotInfo::name).collect(Collectors.toList());
    }

    /** @return the volume argument before the cursor, or null when there is none */
    static VolumeRef volumeBefore(CommandLine commandLine) {
        String[] words = commandLine.getArguments();
        // Word 0 is the command itself.
        for (int i = Math.min(commandLine.getCursorArgumentIndex(), words.length) - 1; i > 0; i--) {
            String w = words[i];
            if (!w.startsWith("-") && w.indexOf('/') > 0) {
                return VolumeRef.parse(w);
            }
        }
        return null;
    }
}

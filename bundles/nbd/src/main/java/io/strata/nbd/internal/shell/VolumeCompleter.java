package io.strata.nbd.internal.shell;

import io.strata.api.service.VolumeService;
import java.util.List;
import org.apache.karaf.shell.api.action.lifecycle.Reference;
import org.apache.karaf.shell.api.action.lifecycle.Service;
import org.apache.karaf.shell.api.console.CommandLine;
import org.apache.karaf.shell.api.console.Completer;
import org.apache.karaf.shell.api.console.Session;
import org.apache.karaf.shell.support.completers.StringsCompleter;

/** Completes {@code datastore/volume}. */
@Service
public class VolumeCompleter implements Completer {
    @Reference
    VolumeService volumes;

    @Override
    public int complete(Session session, CommandLine line, List<String> candidates) {
        StringsCompleter s = new StringsCompleter();
        try {
            volumes.list(null).forEach(v -> s.getStrings().add(v.ref().toString()));
        } catch (RuntimeException e) {
            return -1; // no candidates rather than a broken console
        }
        return s.complete(session, line, candidates);
    }
}

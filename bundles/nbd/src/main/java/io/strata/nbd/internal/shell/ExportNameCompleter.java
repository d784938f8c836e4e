package io.strata.nbd.internal.shell;

import io.strata.api.service.ExportService;
import java.util.List;
import org.apache.karaf.shell.api.action.lifecycle.Reference;
import org.apache.karaf.shell.api.action.lifecycle.Service;
import org.apache.karaf.shell.api.console.CommandLine;
import org.apache.karaf.shell.api.console.Completer;
import org.apache.karaf.shell.api.console.Session;
import org.apache.karaf.shell.support.completers.StringsCompleter;

/** Completes export names. */
@Service
public class ExportNameCompleter implements Completer {
    @Reference
    ExportService exports;

    @Override
    public int complete(Session session, CommandLine line, List<String> candidates) {
        StringsCompleter s = new StringsCompleter();
        try {
            exports.list().forEach(e -> s.getStrings().add(e.name()));
        } catch (RuntimeException e) {
            return -1;
        }
        return s.complete(session, line, candidates);
    }
}

package io.strata.shell.internal;

import io.strata.api.service.ExportService;
import io.strata.shell.internal.completers.ExportNameCompleter;
import org.apache.karaf.shell.api.action.Argument;
import org.apache.karaf.shell.api.action.Command;
import org.apache.karaf.shell.api.action.Completion;
import org.apache.karaf.shell.api.action.Option;
import org.apache.karaf.shell.api.action.lifecycle.Reference;
import org.apache.karaf.shell.api.action.lifecycle.Service;

/** Removes an NBD export (refused while clients are connected, unless forced). */
@Command(scope = "storage", name = "export-remove",
        description = "Removes an NBD export and closes its volume (refused while clients are connected)")
@Service
public class ExportRemoveCommand extends StorageCommand {

    @Reference(optional = true)
    ExportService exports;

    @Option(name = "--force", aliases = "-f", description = "Disconnect connected clients")
    boolean force;

    @Argument(index = 0, name = "name", description = "The export name", required = true)
    @Completion(ExportNameCompleter.class)
    String name;

    @Override
    String run() {
        Exports.require(exports).remove(name, force);
        return "Export " + name + " removed\n";
    }
}

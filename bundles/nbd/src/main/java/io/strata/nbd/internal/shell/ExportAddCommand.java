package io.strata.nbd.internal.shell;

import io.strata.api.service.ExportInfo;
import io.strata.api.service.ExportService;
import io.strata.api.service.VolumeRef;
import org.apache.karaf.shell.api.action.Argument;
import org.apache.karaf.shell.api.action.Command;
import org.apache.karaf.shell.api.action.Completion;
import org.apache.karaf.shell.api.action.Option;
import org.apache.karaf.shell.api.action.lifecycle.Reference;
import org.apache.karaf.shell.api.action.lifecycle.Service;

/** Exports a volume over NBD. */
@Command(scope = "storage", name = "export-add",
        description = "Exports a volume over NBD (kept across restarts); the volume is in use while exported")
@Service
public class ExportAddCommand extends ExportCommand {
    @Reference
    ExportService exports;

    @Option(name = "--read-only", aliases = "-r", description = "Clients may only read")
    boolean readOnly;

    @Argument(index = 0, name = "volume", description = "The volume as <datastore>/<volume>", required = true)
    @Completion(VolumeCompleter.class)
    String volume;

    @Argument(index = 1, name = "name", description = "Export name (default: the volume's name)")
    String name;

    @Override
    String run() {
        return ExportInfoText.of(exports.add(VolumeRef.parse(volume), name, readOnly));
    }
}

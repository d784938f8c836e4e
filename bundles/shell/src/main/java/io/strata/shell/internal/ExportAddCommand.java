package io.strata.shell.internal;

import io.strata.api.service.ExportService;
import io.strata.api.service.VolumeRef;
import io.strata.shell.internal.completers.FreeTextCompleter;
import io.strata.shell.internal.completers.VolumeRefCompleter;
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
public class ExportAddCommand extends StorageCommand {

    @Reference(optional = true)
    ExportService exports;

    @Option(name = "--read-only", aliases = "-r", description = "Clients may only read")
    boolean readOnly;

    @Option(name = "--tls", description = "TCP clients must start TLS before they may use the export (the NBD "
            + "server needs tls = on or require in etc/io.strata.nbd.cfg)")
    boolean tls;

    @Argument(index = 0, name = "volume", description = "The volume as <datastore>/<volume>", required = true)
    @Completion(VolumeRefCompleter.class)
    String volume;

    @Argument(index = 1, name = "name", description = "Export name (default: the volume's name)")
    @Completion(FreeTextCompleter.class)
    String name;

    @Override
    String run() {
        return Exports.info(Exports.require(exports).add(VolumeRef.parse(volume), name, readOnly, tls));
    }
}

package io.strata.shell.internal;

import io.strata.api.service.ExportInfo;
import io.strata.api.service.ExportService;
import org.apache.karaf.shell.api.action.Command;
import org.apache.karaf.shell.api.action.lifecycle.Reference;
import org.apache.karaf.shell.api.action.lifecycle.Service;

/** Lists NBD exports with their connected clients. */
@Command(scope = "storage", name = "export-list", description = "Lists NBD exports and their connected clients")
@Service
public class ExportListCommand extends ListCommand {

    @Reference(optional = true)
    ExportService exports;

    @Override
    String run() {
        Table table = new Table();
        table.column("Name");
        table.column("Volume");
        table.column("Mode");
        table.column("State");
        table.number("Clients");
        table.column("Connected from");
        table.column("URI");
        for (ExportInfo e : Exports.require(exports).list()) {
            table.row(e.name(), e.volume(), e.readOnly() ? "ro" : "rw", e.state(), e.clients().size(),
                    String.join(",", e.clients()), e.uri());
        }
        return table.render(!noFormat);
    }
}

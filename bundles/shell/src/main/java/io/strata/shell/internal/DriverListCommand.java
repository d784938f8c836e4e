package io.strata.shell.internal;

import io.strata.api.service.PluginInfo;
import io.strata.api.service.ResourceService;
import org.apache.karaf.shell.api.action.Command;
import org.apache.karaf.shell.api.action.lifecycle.Reference;
import org.apache.karaf.shell.api.action.lifecycle.Service;

/** Lists the installed drivers, filesystem layers and disk formats. */
@Command(scope = "storage", name = "driver-list",
        description = "Lists the installed storage drivers, filesystem layers and disk formats")
@Service
public class DriverListCommand extends ListCommand {

    @Reference
    ResourceService resources;

    @Override
    String run() {
        Table table = new Table();
        table.column("Kind");
        table.column("Type");
        table.column("Bundle");
        table.column("Capabilities");
        table.column("Description");
        for (PluginInfo p : resources.plugins()) {
            table.row(Text.label(p.kind()), p.type(), p.bundle(),
                    Text.capabilities(p.capabilities()), p.description());
        }
        return table.render(!noFormat);
    }
}

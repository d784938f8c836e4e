package io.strata.shell.internal;

import io.strata.api.service.ResourceInfo;
import io.strata.api.service.ResourceService;
import org.apache.karaf.shell.api.action.Command;
import org.apache.karaf.shell.api.action.lifecycle.Reference;
import org.apache.karaf.shell.api.action.lifecycle.Service;

/** Lists the configured storage resources. */
@Command(scope = "storage", name = "resource-list", description = "Lists the configured storage resources")
@Service
public class ResourceListCommand extends ListCommand {

    @Reference
    ResourceService resources;

    @Override
    String run() {
        Table table = new Table();
        table.column("Name");
        table.column("Driver");
        table.column("State");
        table.column("Parameters");
        for (ResourceInfo r : resources.resources()) {
            table.row(r.name(), r.driver(), r.state(), Text.pairs(r.shownParameters()));
        }
        return table.render(!noFormat);
    }
}

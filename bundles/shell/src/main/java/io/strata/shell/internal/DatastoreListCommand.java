package io.strata.shell.internal;

import io.strata.api.service.DatastoreInfo;
import io.strata.api.service.DatastoreService;
import org.apache.karaf.shell.api.action.Command;
import org.apache.karaf.shell.api.action.lifecycle.Reference;
import org.apache.karaf.shell.api.action.lifecycle.Service;

/** Lists the datastores with their space accounting. */
@Command(scope = "storage", name = "datastore-list", description = "Lists the datastores with their space accounting")
@Service
public class DatastoreListCommand extends ListCommand {

    @Reference
    DatastoreService datastores;

    @Override
    String run() {
        Table table = new Table();
        table.column("Name");
        table.column("FS");
        table.column("Device");
        table.column("State");
        table.number("Capacity");
        table.number("Free");
        table.number("Provisioned");
        table.number("Allocated");
        table.number("Overcommit");
        table.number("Volumes");
        for (DatastoreInfo d : datastores.list()) {
            table.row(d.name(), d.filesystem(), d.device(), d.state(),
                    Text.size(d.capacity(), bytes), Text.size(d.free(), bytes),
                    Text.size(d.provisioned(), bytes), Text.size(d.allocated(), bytes),
                    Text.ratio(d.provisioned(), d.capacity()), d.volumes());
        }
        return table.render(!noFormat);
    }
}

package io.strata.shell.internal;

import io.strata.api.service.VolumeInfo;
import io.strata.api.service.VolumeService;
import io.strata.shell.internal.completers.DatastoreNameCompleter;
import org.apache.karaf.shell.api.action.Argument;
import org.apache.karaf.shell.api.action.Command;
import org.apache.karaf.shell.api.action.Completion;
import org.apache.karaf.shell.api.action.lifecycle.Reference;
import org.apache.karaf.shell.api.action.lifecycle.Service;

/** Lists the volumes of one or all datastores. */
@Command(scope = "storage", name = "volume-list", description = "Lists the volumes of one or all datastores")
@Service
public class VolumeListCommand extends ListCommand {

    @Reference
    VolumeService volumes;

    @Argument(index = 0, name = "datastore", description = "Only this datastore's volumes")
    @Completion(DatastoreNameCompleter.class)
    String datastore;

    @Override
    String run() {
        Table table = new Table();
        table.column("Volume");
        table.column("Format");
        table.column("Provisioning");
        table.number("Virtual size");
        table.number("Allocated");
        table.column("State");
        for (VolumeInfo v : volumes.list(datastore)) {
            table.row(v.ref(), v.format(), v.provisioning().label(),
                    Text.size(v.virtualSize(), bytes), Text.size(v.allocated(), bytes), v.state());
        }
        return table.render(!noFormat);
    }
}

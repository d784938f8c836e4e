package io.strata.shell.internal;

import io.strata.api.device.DeviceInfo;
import io.strata.api.service.ResourceService;
import io.strata.shell.internal.completers.ResourceNameCompleter;
import org.apache.karaf.shell.api.action.Argument;
import org.apache.karaf.shell.api.action.Command;
import org.apache.karaf.shell.api.action.Completion;
import org.apache.karaf.shell.api.action.lifecycle.Reference;
import org.apache.karaf.shell.api.action.lifecycle.Service;

/** Lists the devices the resources offer. */
@Command(scope = "storage", name = "device-list", description = "Lists the devices of one or all storage resources")
@Service
public class DeviceListCommand extends ListCommand {

    @Reference
    ResourceService resources;

    @Argument(index = 0, name = "resource", description = "Only this resource's devices")
    @Completion(ResourceNameCompleter.class)
    String resource;

    @Override
    String run() {
        Table table = new Table();
        table.column("Device");
        table.column("Kind");
        table.number("Size");
        table.number("Sector");
        table.column("Description");
        for (DeviceInfo d : resources.devices(resource)) {
            table.row(d.ref(), Text.label(d.kind()), Text.size(d.size(), bytes),
                    d.sectorSize() > 0 ? Integer.toString(d.sectorSize()) : "-", d.description());
        }
        return table.render(!noFormat);
    }
}

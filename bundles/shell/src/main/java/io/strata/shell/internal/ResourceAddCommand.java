package io.strata.shell.internal;

import io.strata.api.Names;
import io.strata.api.service.ResourceInfo;
import io.strata.api.service.ResourceService;
import io.strata.shell.internal.completers.DriverTypeCompleter;
import io.strata.shell.internal.completers.FreeTextCompleter;
import java.util.List;
import org.apache.karaf.shell.api.action.Argument;
import org.apache.karaf.shell.api.action.Command;
import org.apache.karaf.shell.api.action.Completion;
import org.apache.karaf.shell.api.action.lifecycle.Reference;
import org.apache.karaf.shell.api.action.lifecycle.Service;

/** Attaches a storage resource and records it in the host configuration. */
@Command(scope = "storage", name = "resource-add",
        description = "Adds a storage resource (attached now and at every start)")
@Service
public class ResourceAddCommand extends StorageCommand {

    @Reference
    ResourceService resources;

    @Argument(index = 0, name = "name", description = "The resource name", required = true)
    @Completion(FreeTextCompleter.class)
    String name;

    @Argument(index = 1, name = "driver", description = "The driver type (see storage:driver-list)", required = true)
    @Completion(DriverTypeCompleter.class)
    String driver;

    @Argument(index = 2, name = "parameters", description = "Driver parameters as key=value",
            multiValued = true)
    @Completion(FreeTextCompleter.class)
    List<String> parameters;

    @Override
    String run() {
        Names.check("resource", name);
        ResourceInfo r = resources.add(name, driver, Text.parsePairs("parameter", parameters));
        return "Resource " + r.name() + " added (driver " + r.driver() + ", " + r.state() + ")\n";
    }
}

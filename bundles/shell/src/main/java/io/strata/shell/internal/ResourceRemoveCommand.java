package io.strata.shell.internal;

import io.strata.api.service.ResourceService;
import io.strata.shell.internal.completers.ResourceNameCompleter;
import org.apache.karaf.shell.api.action.Argument;
import org.apache.karaf.shell.api.action.Command;
import org.apache.karaf.shell.api.action.Completion;
import org.apache.karaf.shell.api.action.lifecycle.Reference;
import org.apache.karaf.shell.api.action.lifecycle.Service;

/** Detaches a storage resource and forgets it; data on its devices is never touched. */
@Command(scope = "storage", name = "resource-remove",
        description = "Removes a storage resource (refused while a datastore uses it; data is kept)")
@Service
public class ResourceRemoveCommand extends StorageCommand {

    @Reference
    ResourceService resources;

    @Argument(index = 0, name = "name", description = "The resource name", required = true)
    @Completion(ResourceNameCompleter.class)
    String name;

    @Override
    String run() {
        resources.remove(name);
        return "Resource " + name + " removed\n";
    }
}

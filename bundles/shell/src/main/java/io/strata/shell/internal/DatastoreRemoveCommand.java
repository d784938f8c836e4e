package io.strata.shell.internal;

import io.strata.api.service.DatastoreService;
import io.strata.shell.internal.completers.DatastoreNameCompleter;
import org.apache.karaf.shell.api.action.Argument;
import org.apache.karaf.shell.api.action.Command;
import org.apache.karaf.shell.api.action.Completion;
import org.apache.karaf.shell.api.action.lifecycle.Reference;
import org.apache.karaf.shell.api.action.lifecycle.Service;

/** Unmounts a datastore and forgets it; its files stay on the device. */
@Command(scope = "storage", name = "datastore-remove",
        description = "Unmounts a datastore and forgets it (its files stay on the device)")
@Service
public class DatastoreRemoveCommand extends StorageCommand {

    @Reference
    DatastoreService datastores;

    @Argument(index = 0, name = "name", description = "The datastore name", required = true)
    @Completion(DatastoreNameCompleter.class)
    String name;

    @Override
    String run() {
        datastores.remove(name);
        return "Datastore " + name + " removed (its files stay on the device)\n";
    }
}

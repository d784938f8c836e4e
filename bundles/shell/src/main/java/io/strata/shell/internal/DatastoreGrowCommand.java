package io.strata.shell.internal;

import io.strata.api.service.DatastoreInfo;
import io.strata.api.service.DatastoreService;
import io.strata.shell.internal.completers.DatastoreNameCompleter;
import org.apache.karaf.shell.api.action.Argument;
import org.apache.karaf.shell.api.action.Command;
import org.apache.karaf.shell.api.action.Completion;
import org.apache.karaf.shell.api.action.lifecycle.Reference;
import org.apache.karaf.shell.api.action.lifecycle.Service;

/** Grows a datastore's filesystem to its device's current size and prints the capacity before and after. */
@Command(scope = "storage", name = "datastore-grow",
        description = "Grows a datastore's filesystem to its device's current size (after the LUN was enlarged)")
@Service
public class DatastoreGrowCommand extends StorageCommand {

    @Reference
    DatastoreService datastores;

    @Argument(index = 0, name = "name", description = "The datastore name", required = true)
    @Completion(DatastoreNameCompleter.class)
    String name;

    @Override
    String run() {
        long before = datastores.info(name).capacity();
        DatastoreInfo after = datastores.grow(name);
        String grown = after.capacity() > before ? "grown" : "unchanged (its device has no more room)";
        return "Datastore " + name + " " + grown + ": capacity " + capacity(before) + " -> "
                + capacity(after.capacity()) + ", free " + capacity(after.free()) + "\n";
    }

    /** @return bytes, with the short form after them from 1 KiB on: {@code 2147483648 (2.0G)} */
    private static String capacity(long bytes) {
        return bytes < 1024 ? Long.toString(bytes) : bytes + " (" + Text.size(bytes, false) + ")";
    }
}

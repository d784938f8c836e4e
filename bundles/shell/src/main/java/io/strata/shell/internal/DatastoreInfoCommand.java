package io.strata.shell.internal;

import io.strata.api.service.DatastoreInfo;
import io.strata.api.service.DatastoreService;
import io.strata.shell.internal.completers.DatastoreNameCompleter;
import org.apache.karaf.shell.api.action.Argument;
import org.apache.karaf.shell.api.action.Command;
import org.apache.karaf.shell.api.action.Completion;
import org.apache.karaf.shell.api.action.lifecycle.Reference;
import org.apache.karaf.shell.api.action.lifecycle.Service;

/** Prints one datastore as {@code key: value} lines, sizes in bytes. */
@Command(scope = "storage", name = "datastore-info",
        description = "Shows a datastore as key: value lines (sizes in bytes)")
@Service
public class DatastoreInfoCommand extends StorageCommand {

    @Reference
    DatastoreService datastores;

    @Argument(index = 0, name = "name", description = "The datastore name", required = true)
    @Completion(DatastoreNameCompleter.class)
    String name;

    @Override
    String run() {
        return render(datastores.info(name));
    }

    /**
     * @return the {@code key: value} lines of a datastore; {@code message} only when there is one;
     *         then the filesystem layer's details, if any
     */
    static String render(DatastoreInfo d) {
        var kv = new Text.KeyValues()
                .put("name", d.name())
                .put("filesystem", d.filesystem())
                .put("device", d.device())
                .put("state", d.state());
        if (!d.message().isEmpty()) {
            kv.put("message", d.message());
        }
        kv.put("capacity", d.capacity())
                .put("free", d.free())
                .put("provisioned", d.provisioned())
                .put("allocated", d.allocated())
                .put("overcommit-ratio", Text.ratio(d.provisioned(), d.capacity()))
                .put("volumes", d.volumes())
                .put("path", d.path());
        StringBuilder out = new StringBuilder(kv.toString());
        // The layer's facts, in its order, after the fixed keys (never replacing one of them).
        d.details().forEach((k, v) -> out.append(oneLine(k)).append(": ").append(oneLine(v)).append('\n'));
        return out.toString();
    }

    /** @return the text with line breaks made spaces, so that one fact stays one line */
    private static String oneLine(String s) {
        return s.replace('\n', ' ').replace('\r', ' ');
    }
}

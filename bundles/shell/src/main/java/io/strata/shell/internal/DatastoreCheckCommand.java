package io.strata.shell.internal;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.format.CheckReport;
import io.strata.api.service.DatastoreService;
import io.strata.shell.internal.completers.DatastoreNameCompleter;
import org.apache.karaf.shell.api.action.Argument;
import org.apache.karaf.shell.api.action.Command;
import org.apache.karaf.shell.api.action.Completion;
import org.apache.karaf.shell.api.action.Option;
import org.apache.karaf.shell.api.action.lifecycle.Reference;
import org.apache.karaf.shell.api.action.lifecycle.Service;

/**
 * Checks a datastore's filesystem (the layer's own metadata, not the images) and prints the
 * report as {@code volume-check} does: errors make the command fail after the report, leaks
 * alone do not.
 */
@Command(scope = "storage", name = "datastore-check",
        description = "Checks a datastore's filesystem (its own metadata, not the volumes' images); "
                + "fails when errors remain")
@Service
public class DatastoreCheckCommand extends StorageCommand {

    @Reference
    DatastoreService datastores;

    @Option(name = "-r", aliases = "--repair", description = "Repair what the filesystem's checker can repair "
            + "safely; no volume is created or deleted meanwhile")
    boolean repair;

    @Argument(index = 0, name = "name", description = "The datastore name", required = true)
    @Completion(DatastoreNameCompleter.class)
    String name;

    @Override
    String run() {
        CheckReport r = datastores.check(name, repair);
        StringBuilder out = new StringBuilder();
        out.append(r.file()).append(": ").append(VolumeCheckCommand.status(r)).append('\n');
        r.errors().forEach(e -> out.append("  error: ").append(e).append('\n'));
        r.leaks().forEach(l -> out.append("  leak: ").append(l).append('\n'));
        r.repaired().forEach(f -> out.append("  repaired: ").append(f).append('\n'));
        out.append("Checked datastore ").append(name).append(": ").append(Text.count(r.errors().size(), "error"))
                .append(", ").append(Text.count(r.leaks().size(), "leak"));
        if (r.leakedBytes() > 0) {
            out.append(" (").append(r.leakedBytes()).append(" bytes)");
        }
        out.append(", ").append(r.repaired().size()).append(" repaired");
        if (!r.leaks().isEmpty() && !repair) {
            out.append("; --repair frees leaked space");
        }
        out.append('\n');
        if (!r.errors().isEmpty()) {
            throw new FailureAfterOutput(out.toString(), new StorageException(ErrorCode.CORRUPT_IMAGE,
                    "the filesystem of datastore " + name + " has " + Text.count(r.errors().size(), "error")));
        }
        return out.toString();
    }
}

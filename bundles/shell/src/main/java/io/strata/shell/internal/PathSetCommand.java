package io.strata.shell.internal;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.service.ResourceService;
import io.strata.shell.internal.completers.PathIdCompleter;
import io.strata.shell.internal.completers.ResourceNameCompleter;
import org.apache.karaf.shell.api.action.Argument;
import org.apache.karaf.shell.api.action.Command;
import org.apache.karaf.shell.api.action.Completion;
import org.apache.karaf.shell.api.action.lifecycle.Reference;
import org.apache.karaf.shell.api.action.lifecycle.Service;
import org.apache.karaf.shell.support.completers.StringsCompleter;

/** Takes a path out of use for maintenance, or puts it back. */
@Command(scope = "storage", name = "path-set",
        description = "Sets a path offline (no new I/O, not checked) for maintenance, or online again")
@Service
public class PathSetCommand extends StorageCommand {

    @Reference
    ResourceService resources;

    @Argument(index = 0, name = "resource", description = "The resource the path belongs to", required = true)
    @Completion(ResourceNameCompleter.class)
    String resource;

    @Argument(index = 1, name = "path", description = "The path id, as storage:path-list shows it", required = true)
    @Completion(PathIdCompleter.class)
    String path;

    @Argument(index = 2, name = "state", description = "offline or online", required = true)
    @Completion(value = StringsCompleter.class, values = {"offline", "online"})
    String state;

    @Override
    String run() {
        boolean enabled = switch (state) {
            case "online" -> true;
            case "offline" -> false;
            default -> throw new StorageException(ErrorCode.INVALID_ARGUMENT,
                    "path state must be offline or online, not '" + state + "'");
        };
        resources.setPathEnabled(resource, path, enabled);
        return "Path " + path + " of resource " + resource + " is " + state + "\n";
    }
}

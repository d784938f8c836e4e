package io.strata.shell.internal;

import io.strata.api.Names;
import io.strata.api.service.ResourceInfo;
import io.strata.api.service.ResourceService;
import io.strata.shell.internal.completers.FreeTextCompleter;
import io.strata.shell.internal.completers.ResourceNameCompleter;
import java.util.List;
import org.apache.karaf.shell.api.action.Argument;
import org.apache.karaf.shell.api.action.Command;
import org.apache.karaf.shell.api.action.Completion;
import org.apache.karaf.shell.api.action.lifecycle.Reference;
import org.apache.karaf.shell.api.action.lifecycle.Service;

/** Changes parameters of an attached resource, such as its multipath policy, and records them. */
@Command(scope = "storage", name = "resource-set",
        description = "Changes parameters of an attached resource at run time (e.g. policy=round-robin)")
@Service
public class ResourceSetCommand extends StorageCommand {

    @Reference
    ResourceService resources;

    @Argument(index = 0, name = "name", description = "The resource name", required = true)
    @Completion(ResourceNameCompleter.class)
    String name;

    @Argument(index = 1, name = "parameters", description = "Parameters to change, as key=value", required = true,
            multiValued = true)
    @Completion(FreeTextCompleter.class)
    List<String> parameters;

    @Override
    String run() {
        Names.check("resource", name);
        ResourceInfo r = resources.update(name, Text.parsePairs("parameter", parameters));
        return "Resource " + r.name() + " changed: " + Text.pairs(r.shownParameters()) + "\n";
    }
}

package io.strata.shell.internal.completers;

import io.strata.api.service.ResourceService;
import java.util.Collection;
import java.util.stream.Collectors;
import org.apache.karaf.shell.api.action.lifecycle.Reference;
import org.apache.karaf.shell.api.action.lifecycle.Service;

/** Completes the ids of the paths of every multipathed device. */
@Service
public class PathIdCompleter extends ListCompleter {

    @Reference
    ResourceService resources;

    @Override
    Collection<String> values() {
        return resources.paths(null, null).stream().map(p -> p.path().id()).distinct().collect(Collectors.toList());
    }
}

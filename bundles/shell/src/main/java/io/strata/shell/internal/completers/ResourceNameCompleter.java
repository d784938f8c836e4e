package io.strata.shell.internal.completers;

import io.strata.api.service.ResourceInfo;
import io.strata.api.service.ResourceService;
import java.util.Collection;
import java.util.stream.Collectors;
import org.apache.karaf.shell.api.action.lifecycle.Reference;
import org.apache.karaf.shell.api.action.lifecycle.Service;

/** Completes storage resource names. */
@Service
public class ResourceNameCompleter extends ListCompleter {

    @Reference
    ResourceService resources;

    @Override
    Collection<String> values() {
        return resources.resources().stream().map(ResourceInfo::name).collect(Collectors.toList());
    }
}

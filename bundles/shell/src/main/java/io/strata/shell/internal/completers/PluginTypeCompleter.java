package io.strata.shell.internal.completers;

import io.strata.api.service.PluginInfo;
import io.strata.api.service.PluginKind;
import io.strata.api.service.ResourceService;
import java.util.Collection;
import java.util.stream.Collectors;
import org.apache.karaf.shell.api.action.lifecycle.Reference;

/** Completes the type keys of the installed plugins of one kind. */
public abstract class PluginTypeCompleter extends ListCompleter {

    @Reference
    ResourceService resources;

    private final PluginKind kind;

    PluginTypeCompleter(PluginKind kind) {
        this.kind = kind;
    }

    @Override
    Collection<String> values() {
        return resources.plugins().stream().filter(p -> p.kind() == kind).map(PluginInfo::type)
                .collect(Collectors.toList());
    }
}

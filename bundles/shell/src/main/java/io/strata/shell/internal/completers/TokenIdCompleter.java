package io.strata.shell.internal.completers;

import io.strata.api.service.AccessService;
import io.strata.api.service.ApiTokenInfo;
import java.util.Collection;
import java.util.stream.Collectors;
import org.apache.karaf.shell.api.action.lifecycle.Reference;
import org.apache.karaf.shell.api.action.lifecycle.Service;

/** Completes the ids of the REST API's tokens. */
@Service
public class TokenIdCompleter extends ListCompleter {

    // Optional: a missing service of one command would keep every storage: command of this
    // bundle from registering, and the REST feature may be stopped or not installed.
    @Reference(optional = true)
    AccessService access;

    @Override
    Collection<String> values() {
        if (access == null) {
            return java.util.List.of();
        }
        return access.tokens().stream().map(ApiTokenInfo::id).collect(Collectors.toList());
    }
}

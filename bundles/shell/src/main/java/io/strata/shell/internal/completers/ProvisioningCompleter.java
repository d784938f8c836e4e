package io.strata.shell.internal.completers;

import io.strata.api.format.Provisioning;
import java.util.Arrays;
import java.util.Collection;
import java.util.stream.Collectors;
import org.apache.karaf.shell.api.action.lifecycle.Service;

/** Completes provisioning types: thin, thick, thick-lazy. */
@Service
public class ProvisioningCompleter extends ListCompleter {

    @Override
    Collection<String> values() {
        return Arrays.stream(Provisioning.values()).map(Provisioning::label).collect(Collectors.toList());
    }
}

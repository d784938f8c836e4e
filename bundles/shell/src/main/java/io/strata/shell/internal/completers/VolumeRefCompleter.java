package io.strata.shell.internal.completers;

import io.strata.api.service.VolumeService;
import java.util.Collection;
import java.util.stream.Collectors;
import org.apache.karaf.shell.api.action.lifecycle.Reference;
import org.apache.karaf.shell.api.action.lifecycle.Service;

/** Completes volume references, {@code datastore/volume}. */
@Service
public class VolumeRefCompleter extends ListCompleter {

    @Reference
    VolumeService volumes;

    @Override
    Collection<String> values() {
        return volumes.list(null).stream().map(v -> v.ref().toString()).collect(Collectors.toList());
    }
}

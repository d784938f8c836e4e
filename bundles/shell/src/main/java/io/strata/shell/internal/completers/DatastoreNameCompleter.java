package io.strata.shell.internal.completers;

import io.strata.api.service.DatastoreInfo;
import io.strata.api.service.DatastoreService;
import java.util.Collection;
import java.util.stream.Collectors;
import org.apache.karaf.shell.api.action.lifecycle.Reference;
import org.apache.karaf.shell.api.action.lifecycle.Service;

/** Completes datastore names. */
@Service
public class DatastoreNameCompleter extends ListCompleter {

    @Reference
    DatastoreService datastores;

    @Override
    Collection<String> values() {
        return datastores.list().stream().map(DatastoreInfo::name).collect(Collectors.toList());
    }
}

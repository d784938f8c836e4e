package io.strata.shell.internal.completers;

import io.strata.api.service.ExportInfo;
import io.strata.api.service.ExportService;
import java.util.Collection;
import java.util.List;
import java.util.stream.Collectors;
import org.apache.karaf.shell.api.action.lifecycle.Reference;
import org.apache.karaf.shell.api.action.lifecycle.Service;

/** Completes NBD export names (none without the NBD server). */
@Service
public class ExportNameCompleter extends ListCompleter {

    @Reference(optional = true)
    ExportService exports;

    @Override
    Collection<String> values() {
        return exports == null ? List.of()
                : exports.list().stream().map(ExportInfo::name).collect(Collectors.toList());
    }
}

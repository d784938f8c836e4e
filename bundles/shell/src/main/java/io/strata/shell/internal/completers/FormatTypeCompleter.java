package io.strata.shell.internal.completers;

import io.strata.api.service.PluginKind;
import org.apache.karaf.shell.api.action.lifecycle.Service;

/** Completes the types of the installed disk formats. */
@Service
public class FormatTypeCompleter extends PluginTypeCompleter {

    public FormatTypeCompleter() {
        super(PluginKind.FORMAT);
    }
}

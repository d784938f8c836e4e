package io.strata.shell.internal.completers;

import io.strata.api.service.PluginKind;
import org.apache.karaf.shell.api.action.lifecycle.Service;

/** Completes the types of the installed storage drivers. */
@Service
public class DriverTypeCompleter extends PluginTypeCompleter {

    public DriverTypeCompleter() {
        super(PluginKind.DRIVER);
    }
}

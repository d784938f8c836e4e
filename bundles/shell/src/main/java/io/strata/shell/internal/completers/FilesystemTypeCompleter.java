package io.strata.shell.internal.completers;

import io.strata.api.service.PluginKind;
import org.apache.karaf.shell.api.action.lifecycle.Service;

/** Completes the types of the installed filesystem layers. */
@Service
public class FilesystemTypeCompleter extends PluginTypeCompleter {

    public FilesystemTypeCompleter() {
        super(PluginKind.FILESYSTEM);
    }
}

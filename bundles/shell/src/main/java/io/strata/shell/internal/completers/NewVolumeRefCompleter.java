package io.strata.shell.internal.completers;

import io.strata.api.service.DatastoreInfo;
import io.strata.api.service.DatastoreService;
import java.util.List;
import org.apache.karaf.shell.api.action.lifecycle.Reference;
import org.apache.karaf.shell.api.action.lifecycle.Service;
import org.apache.karaf.shell.api.console.CommandLine;
import org.apache.karaf.shell.api.console.Completer;
import org.apache.karaf.shell.api.console.Session;

/**
 * Completes the {@code <datastore>/<volume>} of a volume to be made: {@code datastore/} (no
 * space after it, the name follows) until the word has a {@code /}, then accepts what was
 * typed, as {@link FreeTextCompleter} does, so the arguments after it complete.
 */
@Service
public class NewVolumeRefCompleter implements Completer {

    @Reference
    DatastoreService datastores;

    @Override
    public int complete(Session session, CommandLine commandLine, List<String> candidates) {
        String word = commandLine.getCursorArgument();
        word = word == null ? "" : word.substring(0, Math.min(word.length(), commandLine.getArgumentPosition()));
        if (word.indexOf('/') >= 0) {
            return new FreeTextCompleter().complete(session, commandLine, candidates);
        }
        List<DatastoreInfo> list;
        try {
            list = datastores.list();
        } catch (RuntimeException e) {
            return -1;
        }
        for (DatastoreInfo ds : list) {
            if (ds.name().startsWith(word)) {
                candidates.add(ds.name() + "/");
            }
        }
        return candidates.isEmpty() ? -1 : commandLine.getBufferPosition() - commandLine.getArgumentPosition();
    }
}

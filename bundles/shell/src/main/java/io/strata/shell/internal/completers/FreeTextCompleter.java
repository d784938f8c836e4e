package io.strata.shell.internal.completers;

import java.util.List;
import org.apache.karaf.shell.api.action.lifecycle.Service;
import org.apache.karaf.shell.api.console.CommandLine;
import org.apache.karaf.shell.api.console.Completer;
import org.apache.karaf.shell.api.console.Session;
import org.apache.karaf.shell.support.completers.StringsCompleter;

/**
 * For arguments the user invents (a new name, a size, key=value): offers
 * nothing for an empty word and accepts whatever was typed. Karaf completes
 * an argument only after every argument before it passes its own completer,
 * so a free-form argument without a completer would stop completion of
 * everything after it (the filesystem and device of datastore-create, the
 * driver of resource-add).
 */
@Service
public class FreeTextCompleter implements Completer {

    @Override
    public int complete(Session session, CommandLine commandLine, List<String> candidates) {
        String word = commandLine.getCursorArgument();
        if (word == null) {
            return -1;
        }
        word = word.substring(0, Math.min(word.length(), commandLine.getArgumentPosition()));
        if (word.isEmpty()) {
            return -1;
        }
        return new StringsCompleter(List.of(word), true).complete(session, commandLine, candidates);
    }
}

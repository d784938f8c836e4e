package io.strata.shell.internal.completers;

import java.util.Collection;
import java.util.List;
import org.apache.karaf.shell.api.console.CommandLine;
import org.apache.karaf.shell.api.console.Completer;
import org.apache.karaf.shell.api.console.Session;
import org.apache.karaf.shell.support.completers.StringsCompleter;

/**
 * Completes from a list read from a service at the moment the user presses
 * tab. Completion must never break the console, so a failing service (say,
 * a datastore that just went unavailable) simply offers nothing.
 */
public abstract class ListCompleter implements Completer {

    /** @return the words to offer */
    abstract Collection<String> values();

    /**
     * @param commandLine the line being completed
     * @return the words to offer for this line; by default {@link #values()}, overridden
     *         where the candidates depend on another argument (a volume's snapshots)
     */
    Collection<String> values(CommandLine commandLine) {
        return values();
    }

    @Override
    public int complete(Session session, CommandLine commandLine, List<String> candidates) {
        Collection<String> values;
        try {
            values = values(commandLine);
        } catch (RuntimeException e) {
            return -1;
        }
        // Names are case-sensitive, so is completion.
        return new StringsCompleter(values, true).complete(session, commandLine, candidates);
    }
}

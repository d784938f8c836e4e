package io.strata.shell.internal;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import org.apache.karaf.shell.api.action.Action;

/**
 * The shared behaviour of every {@code storage:*} command: the command's logic
 * lives in {@link #run()}, which returns the whole output as text (unit tests
 * call it directly and compare the text); {@link #execute()} prints it, and
 * turns a {@link StorageException} into one {@code CODE: message} line.
 */
public abstract class StorageCommand implements Action {

    /**
     * Does the work and renders the output.
     *
     * @return the text to print, ending with a newline, or empty for none
     * @throws StorageException when the operation fails
     */
    abstract String run();

    @Override
    public final Object execute() {
        String out = runForShell();
        // Karaf routes System.out to the session's terminal (or the ssh channel).
        System.out.print(out);
        System.out.flush();
        return null;
    }

    /**
     * {@link #run()}, with failures made into what Karaf prints as one line.
     *
     * @throws CommandFailure for every failure
     */
    final String runForShell() {
        try {
            return run();
        } catch (StorageException e) {
            throw new CommandFailure(e);
        } catch (RuntimeException e) {
            // A bug below us; still one line with a stable code, and the cause kept for the log.
            String what = e.getMessage() == null ? e.getClass().getName()
                    : e.getClass().getSimpleName() + ": " + e.getMessage();
            throw new CommandFailure(new StorageException(ErrorCode.INTERNAL, firstLine(what), e));
        }
    }

    private static String firstLine(String s) {
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }
}

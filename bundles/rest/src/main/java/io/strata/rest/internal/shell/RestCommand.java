package io.strata.rest.internal.shell;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import org.apache.karaf.shell.api.action.Action;

/**
 * The REST bundle's {@code storage:*} commands: {@link #run()} returns the output, and a
 * failure is one line {@code CODE: message} (Karaf prints it without a stack trace).
 */
abstract class RestCommand implements Action {
    abstract String run();

    @Override
    public final Object execute() {
        String out;
        try {
            out = run();
        } catch (StorageException e) {
            throw new Failure(e.toUserString());
        } catch (RuntimeException e) {
            throw new Failure(ErrorCode.INTERNAL + ": " + e);
        }
        System.out.print(out);
        System.out.flush();
        return null;
    }

    /** One line for the user; not named CommandException, which Karaf shows as a usage error. */
    static final class Failure extends RuntimeException {
        private static final long serialVersionUID = 1L;

        Failure(String message) {
            super(message, null, false, false);
        }
    }
}

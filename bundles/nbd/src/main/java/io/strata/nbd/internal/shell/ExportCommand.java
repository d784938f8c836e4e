package io.strata.nbd.internal.shell;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import org.apache.karaf.shell.api.action.Action;

/**
 * What the export commands share with the other {@code storage:} commands: {@link #run()}
 * returns the output as text (tests compare it), and a failure becomes one
 * {@code CODE: message} line, which Karaf prints as {@code Error executing command: ...}.
 */
abstract class ExportCommand implements Action {
    abstract String run();

    @Override
    public final Object execute() {
        String out;
        try {
            out = run();
        } catch (StorageException e) {
            throw new Failure(e.code() + ": " + e.getMessage());
        } catch (RuntimeException e) {
            throw new Failure(ErrorCode.INTERNAL + ": " + e.getClass().getSimpleName() + ": " + e.getMessage());
        }
        System.out.print(out);
        System.out.flush();
        return null;
    }

    /** One line for the user; no stack trace (Karaf prints the message of what execute throws). */
    static final class Failure extends RuntimeException {
        private static final long serialVersionUID = 1L;

        Failure(String message) {
            super(message, null, false, false);
        }
    }
}

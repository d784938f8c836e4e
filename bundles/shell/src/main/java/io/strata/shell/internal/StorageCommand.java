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

    /** {@code name=value} where the name ends in {@code secret} or {@code password} ({@code ResourceInfo.isSecret}). */
    private static final java.util.regex.Pattern SECRET = java.util.regex.Pattern.compile(
            "([\\w.-]*(?:secret|password)=)(\"[^\"]*\"|'[^']*'|\\S+)", java.util.regex.Pattern.CASE_INSENSITIVE);

    /** @return {@code text} with the value of every {@code ...secret=} and {@code ...password=} masked */
    static String maskSecrets(String text) {
        return SECRET.matcher(text).replaceAll("$1********");
    }

    @Override
    public final Object execute() {
        // Karaf names the thread that runs a command after the whole command line
        // ("pipe-storage:resource-add ... chap-secret=..."), and the log shows thread names:
        // every line logged while the command runs would carry the secret. The thread ends
        // with the command, so its name is not put back.
        Thread self = Thread.currentThread();
        String masked = maskSecrets(self.getName());
        if (!masked.equals(self.getName())) {
            self.setName(masked);
        }
        String out;
        try {
            out = runForShell();
        } catch (CommandFailure f) {
            // A report the user needs even though the command fails (volume-check):
            // printed first, then Karaf prints the one error line after it.
            print(f.output());
            throw f;
        }
        print(out);
        return null;
    }

    private static void print(String text) {
        // Karaf routes System.out to the session's terminal (or the ssh channel).
        System.out.print(text);
        System.out.flush();
    }

    /**
     * {@link #run()}, with failures made into what Karaf prints as one line.
     *
     * @throws CommandFailure for every failure
     */
    final String runForShell() {
        try {
            return run();
        } catch (FailureAfterOutput e) {
            throw new CommandFailure(e.failure, e.output);
        } catch (StorageException e) {
            throw new CommandFailure(e);
        } catch (RuntimeException e) {
            // A bug below us; still one line with a stable code, and the cause kept for the log.
            String what = e.getMessage() == null ? e.getClass().getName()
                    : e.getClass().getSimpleName() + ": " + e.getMessage();
            throw new CommandFailure(new StorageException(ErrorCode.INTERNAL, firstLine(what), e));
        }
    }

    /**
     * Thrown by {@link #run()} when the command has output to show and still fails,
     * so that a script sees both the report and a non-zero exit status.
     */
    static final class FailureAfterOutput extends RuntimeException {
        private static final long serialVersionUID = 1L;

        final String output;
        final StorageException failure;

        FailureAfterOutput(String output, StorageException failure) {
            super(failure.getMessage(), failure, false, false);
            this.output = output;
            this.failure = failure;
        }
    }

    private static String firstLine(String s) {
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }
}

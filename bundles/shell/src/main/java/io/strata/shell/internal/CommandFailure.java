package io.strata.shell.internal;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;

/**
 * What a command throws when it fails. Karaf's shell prints a thrown
 * exception as {@code Error executing command: <message>} (no stack trace
 * unless the session asks for stack traces), and an ssh exec ends with exit
 * status 1. The message is {@code CODE: message}, so the one line the user
 * sees carries the stable error code.
 *
 * <p>The simple name must not be {@code CommandException}: Karaf prints that
 * one without the "Error executing command" prefix and treats it as a usage
 * error.
 */
public final class CommandFailure extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final ErrorCode code;
    private final String output;

    CommandFailure(StorageException e) {
        this(e, "");
    }

    /**
     * @param output text the command produced before failing, printed before the error line
     */
    CommandFailure(StorageException e, String output) {
        // Karaf logs every failed command with its stack trace at ERROR. A user
        // error (bad name, missing volume) is not worth a trace in karaf.log;
        // a server-side failure (I/O, tool, internal) keeps its cause for diagnosis.
        super(e.toUserString(), e.code().httpStatus() >= 500 ? e : null, false, false);
        this.code = e.code();
        this.output = output;
    }

    /** @return the stable error code */
    public ErrorCode code() {
        return code;
    }

    /** @return what the command printed before failing, usually empty */
    String output() {
        return output;
    }
}

package io.strata.api;

import java.util.Objects;

/**
 * The one exception type every Strata contract throws. It carries a stable
 * {@link ErrorCode} and a message written for the user: it names the object
 * and says what is wrong, in one line, without a stack trace.
 *
 * <p>Unchecked, so that it crosses functional interfaces and service
 * boundaries without wrapping.
 */
public class StorageException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final ErrorCode code;

    /**
     * @param code the stable error code
     * @param message a one-line message for the user
     */
    public StorageException(ErrorCode code, String message) {
        super(message);
        this.code = Objects.requireNonNull(code, "code");
    }

    /**
     * @param code the stable error code
     * @param message a one-line message for the user
     * @param cause the underlying failure, kept for logs
     */
    public StorageException(ErrorCode code, String message, Throwable cause) {
        super(message, cause);
        this.code = Objects.requireNonNull(code, "code");
    }

    /** @return the stable error code */
    public ErrorCode code() {
        return code;
    }

    /** @return {@code CODE: message}, the form the shell and logs print */
    public String toUserString() {
        return code.name() + ": " + getMessage();
    }

    @Override
    public String toString() {
        return "StorageException[" + toUserString() + "]";
    }
}

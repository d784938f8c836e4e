package io.strata.multipath;

/**
 * The transport of one path failed: the connection dropped, a command timed out, the port
 * went down. The command may be retried on another path. Errors the device itself reported
 * (a medium error, a reservation conflict, an unsupported command) are
 * {@link io.strata.api.StorageException}s instead and are not retried elsewhere.
 */
public class PathFailedException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /**
     * @param message what failed, naming the path
     */
    public PathFailedException(String message) {
        super(message);
    }

    /**
     * @param message what failed, naming the path
     * @param cause the underlying failure
     */
    public PathFailedException(String message, Throwable cause) {
        super(message, cause);
    }
}

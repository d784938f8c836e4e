package io.strata.rest.internal;

import java.util.Map;

/**
 * A refusal the REST layer makes itself (authentication, roles, request syntax, body size,
 * preconditions), answered as {@code {code, message, details}} with {@link #status()}.
 * Failures of the storage services arrive as {@link io.strata.api.StorageException} and are
 * answered the same way with their {@link io.strata.api.ErrorCode}.
 */
public final class ApiException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    /** Codes of this layer, next to {@link io.strata.api.ErrorCode}'s names. */
    public static final String UNAUTHENTICATED = "UNAUTHENTICATED";
    public static final String FORBIDDEN = "PERMISSION_DENIED";
    public static final String BAD_REQUEST = "INVALID_ARGUMENT";
    public static final String TOO_LARGE = "PAYLOAD_TOO_LARGE";
    public static final String TOO_MANY = "TOO_MANY_REQUESTS";
    public static final String PRECONDITION_FAILED = "PRECONDITION_FAILED";
    public static final String NOT_FOUND = "NOT_FOUND";
    public static final String METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED";
    public static final String UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE";
    public static final String NOT_ACCEPTABLE = "NOT_ACCEPTABLE";
    public static final String IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED";

    private final int status;
    private final String code;
    private final Map<String, Object> details;

    public ApiException(int status, String code, String message) {
        this(status, code, message, Map.of());
    }

    public ApiException(int status, String code, String message, Map<String, Object> details) {
        super(message);
        this.status = status;
        this.code = code;
        this.details = Map.copyOf(details);
    }

    public int status() {
        return status;
    }

    public String code() {
        return code;
    }

    public Map<String, Object> details() {
        return details;
    }

    static ApiException badRequest(String message) {
        return new ApiException(400, BAD_REQUEST, message);
    }
}

package io.strata.rest.internal;

import java.util.Map;

/** The body of every error answer: a stable code, a message for people, and details for programs. */
public record ApiError(String code, String message, Map<String, Object> details) {
    /** Copies the details (null is empty). */
    public ApiError {
        details = details == null ? Map.of() : Map.copyOf(details);
    }
}

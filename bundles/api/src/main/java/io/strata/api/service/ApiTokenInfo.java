package io.strata.api.service;

import java.time.Instant;

/**
 * An API token as listed: never its secret. {@code expires} and {@code lastUsed} may be null
 * (never; not since the API started).
 *
 * @since 1.4
 */
public record ApiTokenInfo(String id, String user, String role, Instant created, Instant expires, boolean expired,
        Instant lastUsed, String description) {
}

package io.strata.rest.internal.security;

import io.strata.rest.internal.Role;
import java.time.Instant;

/**
 * An API token as stored: never the secret, only its SHA-256. {@code expires} null is never.
 */
public record Token(String id, String user, Role role, String hash, Instant created, Instant expires,
        String description) {
    /** @return whether the token has expired at {@code now} */
    public boolean expiredAt(Instant now) {
        return expires != null && !now.isBefore(expires);
    }
}

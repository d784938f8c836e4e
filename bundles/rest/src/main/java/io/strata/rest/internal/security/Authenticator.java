package io.strata.rest.internal.security;

import io.strata.rest.internal.ApiException;
import io.strata.rest.internal.Caller;
import io.strata.rest.internal.Role;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.function.LongSupplier;

/**
 * Turns an {@code Authorization} header into a {@link Caller}: HTTP Basic checked against the
 * JAAS realm (the user's highest Strata role among its role principals), or
 * {@code Bearer <token>} checked against the {@link TokenStore} (the token's role). Failures
 * are counted per client by the {@link LoginThrottle}; a throttled client is refused with 429
 * before its credentials are looked at. A successful password login is remembered, by a hash
 * of user and password, for {@code cacheMillis}, so a management system's steady polling does
 * not run a JAAS login per request; a changed password or role takes effect after that time.
 */
public final class Authenticator {
    private static final int CACHE_MAX = 1024;
    private final PasswordCheck passwords;
    private final TokenStore tokens;
    private final LoginThrottle throttle;
    private final long cacheMillis;
    private final LongSupplier clock;
    private final Map<String, Cached> cache = new LinkedHashMap<>(16, 0.75f, true);

    private record Cached(String user, Role role, long until) {
    }

    public Authenticator(PasswordCheck passwords, TokenStore tokens, LoginThrottle throttle, long cacheMillis,
            LongSupplier clockMillis) {
        this.passwords = passwords;
        this.tokens = tokens;
        this.throttle = throttle;
        this.cacheMillis = cacheMillis;
        this.clock = clockMillis;
    }

    /**
     * @throws ApiException 401 without or with wrong credentials, 429 for a throttled client,
     *         403 for a user with no Strata role
     */
    public Caller authenticate(String authorization, String client) {
        if (authorization == null || authorization.isBlank()) {
            throw new ApiException(401, ApiException.UNAUTHENTICATED,
                    "authentication required: HTTP Basic with a user of the realm, or Bearer with an API token");
        }
        long wait = throttle.blockedFor(client);
        if (wait > 0) {
            long seconds = (wait + 999) / 1000;
            throw new ApiException(429, ApiException.TOO_MANY, "too many failed logins from " + client
                    + "; try again in " + seconds + " s", Map.of("retryAfterSeconds", seconds));
        }
        String scheme = authorization.strip();
        int space = scheme.indexOf(' ');
        String kind = space < 0 ? scheme : scheme.substring(0, space);
        String value = space < 0 ? "" : scheme.substring(space + 1).strip();
        if (kind.equalsIgnoreCase("Bearer")) {
            Token t = tokens.verify(value);
            if (t == null) {
                throttle.failed(client);
                throw new ApiException(401, ApiException.UNAUTHENTICATED, "the token is unknown, revoked or expired");
            }
            throttle.succeeded(client);
            return new Caller(t.user(), t.role(), "token:" + t.id(), client);
        }
        if (!kind.equalsIgnoreCase("Basic")) {
            throw new ApiException(401, ApiException.UNAUTHENTICATED, "unknown authentication scheme '"
                    + kind.replaceAll("\\p{Cntrl}", "?") + "': use Basic or Bearer");
        }
        String decoded;
        try {
            decoded = new String(Base64.getDecoder().decode(value), StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            throttle.failed(client);
            throw new ApiException(401, ApiException.UNAUTHENTICATED, "malformed Basic credentials");
        }
        int colon = decoded.indexOf(':');
        if (colon <= 0) {
            throttle.failed(client);
            throw new ApiException(401, ApiException.UNAUTHENTICATED, "malformed Basic credentials");
        }
        String user = decoded.substring(0, colon);
        String key = TokenStore.sha256(decoded);
        long now = clock.getAsLong();
        synchronized (cache) {
            Cached c = cache.get(key);
            if (c != null && c.until > now) {
                return new Caller(c.user, c.role, "password", client);
            }
        }
        Set<String> roles = passwords.login(user, decoded.substring(colon + 1).toCharArray());
        if (roles == null) {
            throttle.failed(client);
            throw new ApiException(401, ApiException.UNAUTHENTICATED, "wrong user or password");
        }
        throttle.succeeded(client);
        Role role = Role.highest(roles);
        if (role == null) {
            throw new ApiException(403, ApiException.FORBIDDEN, "user '" + user
                    + "' has none of the roles viewer, operator or admin");
        }
        if (cacheMillis > 0) {
            synchronized (cache) {
                cache.put(key, new Cached(user, role, now + cacheMillis));
                if (cache.size() > CACHE_MAX) {
                    var eldest = cache.keySet().iterator();
                    eldest.next();
                    eldest.remove();
                }
            }
        }
        return new Caller(user, role, "password", client);
    }

    /** @return the user a Basic header names, for the audit log of a refused request, or "-" */
    public static String claimedUser(String authorization) {
        if (authorization == null) {
            return "-";
        }
        String a = authorization.strip();
        if (a.regionMatches(true, 0, "Basic ", 0, 6)) {
            try {
                String d = new String(Base64.getDecoder().decode(a.substring(6).strip()), StandardCharsets.UTF_8);
                int colon = d.indexOf(':');
                if (colon > 0) {
                    return d.substring(0, colon).replaceAll("\\p{Cntrl}", "?");
                }
            } catch (IllegalArgumentException e) {
                return "-";
            }
        }
        if (a.regionMatches(true, 0, "Bearer ", 0, 7)) {
            String t = a.substring(7).strip();
            String[] parts = t.startsWith("strata_") ? t.substring(7).split("_", -1) : new String[0];
            return parts.length == 2 && parts[0].matches("[0-9a-f]{1,32}") ? "token:" + parts[0] : "token:?";
        }
        return "-";
    }
}

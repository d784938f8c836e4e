package io.strata.rest.internal.security;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.rest.internal.ApiException;
import io.strata.rest.internal.Caller;
import io.strata.rest.internal.Role;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

class AuthenticatorTest {
    private static final String CLIENT = "192.0.2.7";
    private static final long WINDOW = 60_000;
    private static final long CACHE = 10_000;
    @TempDir
    Path dir;
    private final AtomicLong millis = new AtomicLong(1_000_000);
    private final MutableClock clock = new MutableClock(Instant.parse("2026-03-01T10:00:00Z"));
    private final AtomicInteger logins = new AtomicInteger();
    private final Map<String, String> passwords = new HashMap<>();
    private final Map<String, Set<String>> roles = new HashMap<>();
    private TokenStore tokens;
    private LoginThrottle throttle;
    private Authenticator auth;

    @BeforeEach
    void setUp() {
        passwords.put("alice", "s3cret:with:colons");
        roles.put("alice", Set.of("viewer", "admin", "operator", "group-x"));
        passwords.put("bob", "pw");
        roles.put("bob", Set.of("viewer"));
        passwords.put("eve", "pw");
        roles.put("eve", Set.of("manager", "ssh"));
        PasswordCheck check = (user, password) -> {
            logins.incrementAndGet();
            String right = passwords.get(user);
            return right != null && Arrays.equals(right.toCharArray(), password) ? roles.get(user) : null;
        };
        tokens = new TokenStore(dir.resolve("tokens.json"), clock);
        throttle = new LoginThrottle(3, WINDOW, millis::get);
        auth = new Authenticator(check, tokens, throttle, CACHE, millis::get);
    }

    private static String basic(String user, String password) {
        return "Basic " + java.util.Base64.getEncoder()
                .encodeToString((user + ":" + password).getBytes(StandardCharsets.UTF_8));
    }

    private static ApiException refused(int status, Executable call) {
        ApiException e = assertThrows(ApiException.class, call);
        assertEquals(status, e.status(), e.getMessage());
        return e;
    }

    @Test
    void basicGivesTheCallerWithTheHighestRole() {
        Caller c = auth.authenticate(basic("alice", "s3cret:with:colons"), CLIENT);
        assertEquals(new Caller("alice", Role.ADMIN, "password", CLIENT), c);
        assertEquals(new Caller("bob", Role.VIEWER, "password", CLIENT), auth.authenticate(basic("bob", "pw"), CLIENT));
        assertEquals(Role.ADMIN, auth.authenticate("  basic   " + basic("alice", "s3cret:with:colons").substring(6),
                CLIENT).role(), "the scheme is case-insensitive and spaces around are ignored");
    }

    @Test
    void noHeaderIs401() {
        ApiException e = refused(401, () -> auth.authenticate(null, CLIENT));
        assertEquals(ApiException.UNAUTHENTICATED, e.code());
        refused(401, () -> auth.authenticate("  ", CLIENT));
        assertEquals(0, throttle.blockedFor(CLIENT));
    }

    @Test
    void aWrongPasswordIs401AndCountsTowardTheThrottle() {
        for (int i = 0; i < 2; i++) {
            ApiException e = refused(401, () -> auth.authenticate(basic("alice", "wrong"), CLIENT));
            assertEquals(ApiException.UNAUTHENTICATED, e.code());
        }
        assertEquals(0, throttle.blockedFor(CLIENT));
        refused(401, () -> auth.authenticate(basic("nobody", "x"), CLIENT));
        assertTrue(throttle.blockedFor(CLIENT) > 0, "the third failure blocks the client");
    }

    @Test
    void aThrottledClientGets429EvenWithTheRightCredentials() {
        for (int i = 0; i < 3; i++) {
            refused(401, () -> auth.authenticate(basic("alice", "wrong"), CLIENT));
        }
        millis.addAndGet(10_500);
        int before = logins.get();
        ApiException e = refused(429, () -> auth.authenticate(basic("alice", "s3cret:with:colons"), CLIENT));
        assertEquals(ApiException.TOO_MANY, e.code());
        assertEquals(50L, e.details().get("retryAfterSeconds"), "49.5 s rounded up");
        assertEquals(before, logins.get(), "the password is not even checked");
        refused(429, () -> auth.authenticate("Bearer whatever", CLIENT));

        assertEquals(Role.ADMIN, auth.authenticate(basic("alice", "s3cret:with:colons"), "198.51.100.1").role(),
                "another client is not throttled");

        millis.addAndGet(WINDOW);
        assertEquals(Role.ADMIN, auth.authenticate(basic("alice", "s3cret:with:colons"), CLIENT).role());
    }

    @Test
    void aSuccessClearsTheClientsFailures() {
        refused(401, () -> auth.authenticate(basic("alice", "wrong"), CLIENT));
        refused(401, () -> auth.authenticate(basic("alice", "wrong"), CLIENT));
        auth.authenticate(basic("bob", "pw"), CLIENT);
        refused(401, () -> auth.authenticate(basic("alice", "wrong"), CLIENT));
        refused(401, () -> auth.authenticate(basic("alice", "wrong"), CLIENT));
        assertEquals(0, throttle.blockedFor(CLIENT));
    }

    @Test
    void aUserWithNoStrataRoleIs403() {
        ApiException e = refused(403, () -> auth.authenticate(basic("eve", "pw"), CLIENT));
        assertEquals(ApiException.FORBIDDEN, e.code());
        assertTrue(e.getMessage().contains("eve"), e.getMessage());
    }

    @Test
    void bearerWithAValidToken() {
        TokenStore.Created t = tokens.create("ci-bot", Role.OPERATOR, null, null);
        Caller c = auth.authenticate("Bearer " + t.secret(), CLIENT);
        assertEquals(new Caller("ci-bot", Role.OPERATOR, "token:" + t.token().id(), CLIENT), c);
        assertEquals(0, logins.get(), "a token needs no password check");
        assertEquals(c, auth.authenticate("bearer  " + t.secret() + " ", CLIENT));
    }

    @Test
    void bearerWithARevokedTokenIs401AndCounts() {
        TokenStore.Created t = tokens.create("ci-bot", Role.OPERATOR, null, null);
        tokens.revoke(t.token().id());
        ApiException e = refused(401, () -> auth.authenticate("Bearer " + t.secret(), CLIENT));
        assertEquals(ApiException.UNAUTHENTICATED, e.code());
        refused(401, () -> auth.authenticate("Bearer " + t.secret(), CLIENT));
        refused(401, () -> auth.authenticate("Bearer strata_nope", CLIENT));
        refused(429, () -> auth.authenticate("Bearer " + t.secret(), CLIENT));
    }

    @Test
    void bearerWithAnExpiredTokenIs401() {
        TokenStore.Created t = tokens.create("ci-bot", Role.VIEWER, clock.instant().plus(Duration.ofHours(1)), null);
        assertEquals(Role.VIEWER, auth.authenticate("Bearer " + t.secret(), CLIENT).role());
        clock.advance(Duration.ofHours(1));
        refused(401, () -> auth.authenticate("Bearer " + t.secret(), CLIENT));
    }

    @Test
    void anUnknownSchemeIs401() {
        ApiException e = refused(401, () -> auth.authenticate("Digest username=\"alice\"", CLIENT));
        assertEquals(ApiException.UNAUTHENTICATED, e.code());
        assertTrue(e.getMessage().contains("Digest"), e.getMessage());
        ApiException ctl = refused(401, () -> auth.authenticate("Dig\u0001est x", CLIENT));
        assertTrue(ctl.getMessage().chars().noneMatch(Character::isISOControl), "no control characters echoed");
        refused(401, () -> auth.authenticate("Basic", CLIENT));
    }

    @Test
    void malformedBase64Is401AndCounts() {
        refused(401, () -> auth.authenticate("Basic !!!not-base64!!!", CLIENT));
        refused(401, () -> auth.authenticate("Basic " + java.util.Base64.getEncoder()
                .encodeToString("no-colon".getBytes(StandardCharsets.UTF_8)), CLIENT));
        refused(401, () -> auth.authenticate("Basic " + java.util.Base64.getEncoder()
                .encodeToString(":pw".getBytes(StandardCharsets.UTF_8)), CLIENT));
        assertTrue(throttle.blockedFor(CLIENT) > 0);
        assertEquals(0, logins.get(), "nothing was looked up");
    }

    @Test
    void aPasswordLoginIsCachedForCacheMillis() {
        String h = basic("alice", "s3cret:with:colons");
        auth.authenticate(h, CLIENT);
        assertEquals(1, logins.get());
        millis.addAndGet(CACHE - 1);
        assertEquals(new Caller("alice", Role.ADMIN, "password", "other"), auth.authenticate(h, "other"));
        assertEquals(1, logins.get(), "within cacheMillis the realm is not asked again");
        millis.addAndGet(1);
        auth.authenticate(h, CLIENT);
        assertEquals(2, logins.get(), "after cacheMillis it is");
    }

    @Test
    void theCacheDoesNotAcceptAnotherPassword() {
        auth.authenticate(basic("alice", "s3cret:with:colons"), CLIENT);
        refused(401, () -> auth.authenticate(basic("alice", "s3cret:with:colonz"), CLIENT));
        assertEquals(2, logins.get());
    }

    @Test
    void failuresAndRefusalsAreNotCached() {
        refused(401, () -> auth.authenticate(basic("bob", "wrong"), CLIENT));
        refused(401, () -> auth.authenticate(basic("bob", "wrong"), CLIENT));
        assertEquals(2, logins.get());
        refused(403, () -> auth.authenticate(basic("eve", "pw"), CLIENT));
        refused(403, () -> auth.authenticate(basic("eve", "pw"), CLIENT));
        assertEquals(4, logins.get());
    }

    @Test
    void aChangedRoleTakesEffectAfterTheCacheTime() {
        String h = basic("bob", "pw");
        assertEquals(Role.VIEWER, auth.authenticate(h, CLIENT).role());
        roles.put("bob", Set.of("operator"));
        assertEquals(Role.VIEWER, auth.authenticate(h, CLIENT).role());
        millis.addAndGet(CACHE);
        assertEquals(Role.OPERATOR, auth.authenticate(h, CLIENT).role());
    }

    @Test
    void noCacheWhenCacheMillisIsZero() {
        Authenticator uncached = new Authenticator((u, p) -> {
            logins.incrementAndGet();
            return Set.of("viewer");
        }, tokens, throttle, 0, millis::get);
        uncached.authenticate(basic("bob", "pw"), CLIENT);
        uncached.authenticate(basic("bob", "pw"), CLIENT);
        assertEquals(2, logins.get());
    }

    @Test
    void claimedUser() {
        assertEquals("-", Authenticator.claimedUser(null));
        assertEquals("-", Authenticator.claimedUser(""));
        assertEquals("alice", Authenticator.claimedUser(basic("alice", "whatever")));
        assertEquals("alice", Authenticator.claimedUser("basic " + basic("alice", "x").substring(6)));
        assertEquals("a?b", Authenticator.claimedUser(basic("a\nb", "x")), "control characters are masked");
        assertEquals("-", Authenticator.claimedUser("Basic !!!"));
        assertEquals("-", Authenticator.claimedUser("Basic " + java.util.Base64.getEncoder()
                .encodeToString("nocolon".getBytes(StandardCharsets.UTF_8))));
        assertEquals("-", Authenticator.claimedUser("Basic " + java.util.Base64.getEncoder()
                .encodeToString(":pw".getBytes(StandardCharsets.UTF_8))));
        assertEquals("token:0a1b2c3d4e5f", Authenticator.claimedUser("Bearer strata_0a1b2c3d4e5f_deadbeef"));
        assertEquals("token:?", Authenticator.claimedUser("Bearer strata_0a1b2c3d4e5f"));
        assertEquals("token:?", Authenticator.claimedUser("Bearer strata_XYZ_deadbeef"));
        assertEquals("token:?", Authenticator.claimedUser("Bearer garbage"));
        assertEquals("token:?", Authenticator.claimedUser("Bearer strata_a_b_c"));
        assertEquals("-", Authenticator.claimedUser("Digest x"));
    }
}

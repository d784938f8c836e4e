package io.strata.rest.internal.security;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.rest.internal.Role;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TokenStoreTest {
    private static final Instant T0 = Instant.parse("2026-03-01T10:00:00Z");
    @TempDir
    Path dir;
    private final MutableClock clock = new MutableClock(T0);

    private Path file() {
        return dir.resolve("rest").resolve("tokens.json");
    }

    private TokenStore store() {
        return new TokenStore(file(), clock);
    }

    /** The id and secret parts of a token text. */
    private static String[] parts(String text) {
        assertTrue(text.startsWith("strata_"), text);
        String[] p = text.substring("strata_".length()).split("_", -1);
        assertEquals(2, p.length, text);
        return p;
    }

    @Test
    void createThenVerifyGivesTheToken() {
        TokenStore s = store();
        TokenStore.Created c = s.create("alice", Role.OPERATOR, null, "ci");
        String[] p = parts(c.secret());
        assertEquals(c.token().id(), p[0]);
        assertTrue(p[1].matches("[0-9a-f]{64}"), "a 256-bit secret in hex: " + p[1]);
        assertEquals("alice", c.token().user());
        assertEquals(Role.OPERATOR, c.token().role());
        assertEquals(T0, c.token().created());
        assertNull(c.token().expires());
        assertEquals("ci", c.token().description());

        Token t = s.verify(c.secret());
        assertNotNull(t);
        assertEquals(c.token(), t);
        assertEquals(T0, s.lastUsed(t.id()));
    }

    @Test
    void idsAndSecretsDifferBetweenTokens() {
        TokenStore s = store();
        TokenStore.Created a = s.create("alice", Role.VIEWER, null, null);
        TokenStore.Created b = s.create("alice", Role.VIEWER, null, null);
        assertNotEquals(a.token().id(), b.token().id());
        assertNotEquals(parts(a.secret())[1], parts(b.secret())[1]);
        assertEquals("", a.token().description(), "no description is stored as empty");
    }

    @Test
    void listShowsTokensOldestFirstAndRevokeRemovesOne() {
        TokenStore s = store();
        TokenStore.Created a = s.create("alice", Role.VIEWER, null, "a");
        TokenStore.Created b = s.create("bob", Role.ADMIN, null, "b");
        TokenStore.Created c = s.create("carol", Role.OPERATOR, null, "c");
        assertEquals(List.of(a.token(), b.token(), c.token()), s.list());

        Token revoked = s.revoke(b.token().id());
        assertEquals(b.token(), revoked);
        assertEquals(List.of(a.token(), c.token()), s.list());
        assertNull(s.verify(b.secret()), "a revoked token is refused");
        assertNotNull(s.verify(a.secret()));
        assertNotNull(s.verify(c.secret()));
    }

    @Test
    void revokeOfAnUnknownIdIsInvalidArgument() {
        TokenStore s = store();
        s.create("alice", Role.VIEWER, null, null);
        StorageException e = assertThrows(StorageException.class, () -> s.revoke("0123456789ab"));
        assertEquals(ErrorCode.INVALID_ARGUMENT, e.code());
        assertTrue(e.getMessage().contains("0123456789ab"), e.getMessage());
    }

    @Test
    void theFileHoldsOnlyHashesNeverTheSecret() throws IOException {
        TokenStore s = store();
        TokenStore.Created c = s.create("alice", Role.ADMIN, null, "x");
        String secretPart = parts(c.secret())[1];
        String content = Files.readString(file(), StandardCharsets.UTF_8);
        assertFalse(content.contains(secretPart), "the secret is not stored");
        assertFalse(content.contains(c.secret()), "the token text is not stored");
        assertTrue(content.contains(c.token().hash()), "its hash is");
        assertTrue(content.contains(c.token().id()));
        assertNotEquals(secretPart, c.token().hash());
        assertEquals(TokenStore.sha256(secretPart), c.token().hash());
    }

    @Test
    void theFileIsMode0600() throws IOException {
        TokenStore s = store();
        s.create("alice", Role.ADMIN, null, null);
        assertEquals(PosixFilePermissions.fromString("rw-------"), Files.getPosixFilePermissions(file()));
        s.create("bob", Role.ADMIN, null, null);
        assertEquals(PosixFilePermissions.fromString("rw-------"), Files.getPosixFilePermissions(file()));
        assertFalse(Files.exists(file().resolveSibling("tokens.json.tmp")), "no temporary file is left");
    }

    @Test
    void expiredTokensFailVerify() {
        TokenStore s = store();
        TokenStore.Created c = s.create("alice", Role.VIEWER, T0.plus(Duration.ofHours(1)), null);
        assertNotNull(s.verify(c.secret()));
        clock.advance(Duration.ofMinutes(59));
        assertNotNull(s.verify(c.secret()));
        clock.advance(Duration.ofMinutes(1));
        assertNull(s.verify(c.secret()), "at its expiry the token is refused");
        clock.advance(Duration.ofDays(1));
        assertNull(s.verify(c.secret()));
        assertEquals(1, s.list().size(), "expired tokens stay listed");
        assertTrue(s.list().get(0).expiredAt(clock.instant()));
    }

    @Test
    void anExpiryNotInTheFutureIsRefused() {
        TokenStore s = store();
        StorageException e = assertThrows(StorageException.class, () -> s.create("alice", Role.VIEWER, T0, null));
        assertEquals(ErrorCode.INVALID_ARGUMENT, e.code());
        assertThrows(StorageException.class, () -> s.create("alice", Role.VIEWER, T0.minusSeconds(1), null));
        assertTrue(s.list().isEmpty());
    }

    @Test
    void badUsersAndMissingRolesAreRefused() {
        TokenStore s = store();
        assertEquals(ErrorCode.INVALID_NAME,
                assertThrows(StorageException.class, () -> s.create("../x", Role.VIEWER, null, null)).code());
        assertEquals(ErrorCode.INVALID_ARGUMENT,
                assertThrows(StorageException.class, () -> s.create("alice", null, null, null)).code());
        assertFalse(Files.exists(file()));
    }

    @Test
    void malformedTokensFailVerify() {
        TokenStore s = store();
        TokenStore.Created a = s.create("alice", Role.ADMIN, null, null);
        TokenStore.Created b = s.create("bob", Role.ADMIN, null, null);
        String[] pa = parts(a.secret());
        String[] pb = parts(b.secret());

        assertNull(s.verify(null));
        assertNull(s.verify(""));
        assertNull(s.verify("Strata_" + pa[0] + "_" + pa[1]), "wrong prefix");
        assertNull(s.verify("xstrata_" + pa[0] + "_" + pa[1]), "wrong prefix");
        assertNull(s.verify(pa[0] + "_" + pa[1]), "no prefix");
        assertNull(s.verify("strata_" + pa[0]), "no secret part");
        assertNull(s.verify("strata_" + pa[0] + "_"), "empty secret");
        assertNull(s.verify("strata__" + pa[1]), "empty id");
        assertNull(s.verify("strata_" + pa[0] + "_" + pa[1] + "_x"), "three parts");
        assertNull(s.verify("strata_" + pa[0] + "_" + pa[1].substring(1) + "0"), "wrong secret");
        assertNull(s.verify("strata_" + pa[0] + "_" + pa[1].toUpperCase()), "the secret is case-sensitive");
        assertNull(s.verify("strata_" + pb[0] + "_" + pa[1]), "another token's id with this secret");
        assertNull(s.verify("strata_" + pa[0] + "_" + pb[1]), "this id with another token's secret");
        assertNull(s.verify("strata_" + pa[0] + "_" + a.token().hash()), "the stored hash is not a secret");
        assertNull(s.lastUsed(a.token().id()), "failed attempts do not count as use");
        assertNotNull(s.verify(a.secret()));
    }

    @Test
    void aNewStoreOnTheSameFileSeesTheTokens() {
        TokenStore s = store();
        TokenStore.Created a = s.create("alice", Role.ADMIN, T0.plus(Duration.ofDays(90)), "one");
        TokenStore.Created b = s.create("bob", Role.VIEWER, null, "two");
        TokenStore.Created c = s.create("carol", Role.OPERATOR, null, "three");
        s.revoke(c.token().id());

        TokenStore again = store();
        assertEquals(List.of(a.token(), b.token()), again.list());
        Token t = again.verify(a.secret());
        assertNotNull(t);
        assertEquals(Role.ADMIN, t.role());
        assertEquals(T0.plus(Duration.ofDays(90)), t.expires());
        assertEquals("one", t.description());
        assertNotNull(again.verify(b.secret()));
        assertNull(again.verify(c.secret()), "a revocation is persistent");
    }

    @Test
    void aCorruptFileIsAClearError() throws IOException {
        Files.createDirectories(file().getParent());
        Files.writeString(file(), "[{\"id\": \"abc\", ");
        StorageException e = assertThrows(StorageException.class, this::store);
        assertEquals(ErrorCode.IO_ERROR, e.code());
        assertTrue(e.getMessage().contains(file().toString()), e.getMessage());
        assertTrue(e.getMessage().contains("cannot be read"), e.getMessage());
        assertTrue(e.getMessage().contains("move it away"), e.getMessage());
    }

    @Test
    void anUnreadableFileIsAClearError() throws IOException {
        // a directory in the file's place cannot be read, even by root
        Files.createDirectories(file());
        StorageException e = assertThrows(StorageException.class, this::store);
        assertEquals(ErrorCode.IO_ERROR, e.code());
        assertTrue(e.getMessage().contains(file().toString()), e.getMessage());
        assertTrue(e.getMessage().contains("cannot be read"), e.getMessage());
    }

    @Test
    void aFileThatIsNotAListIsAClearError() throws IOException {
        Files.createDirectories(file().getParent());
        Files.writeString(file(), "{\"not\": \"a list\"}");
        StorageException e = assertThrows(StorageException.class, this::store);
        assertEquals(ErrorCode.IO_ERROR, e.code());
        assertTrue(e.getMessage().contains(file().toString()), e.getMessage());
    }

    @Test
    void aLeftoverTemporaryFileFromACrashDoesNotBreakLoadingOrSaving() throws IOException {
        TokenStore s = store();
        TokenStore.Created a = s.create("alice", Role.ADMIN, null, null);
        Path tmp = file().resolveSibling("tokens.json.tmp");
        Files.writeString(tmp, "[{\"id\": \"torn");

        TokenStore again = store();
        assertEquals(List.of(a.token()), again.list());
        assertNotNull(again.verify(a.secret()));
        TokenStore.Created b = again.create("bob", Role.VIEWER, null, null);
        assertFalse(Files.exists(tmp), "the next save replaces the leftover");
        assertEquals(List.of(a.token(), b.token()), store().list());
    }

    @Test
    void noFileMeansNoTokens() {
        assertTrue(store().list().isEmpty());
        assertFalse(Files.exists(file()), "loading creates nothing");
    }
}

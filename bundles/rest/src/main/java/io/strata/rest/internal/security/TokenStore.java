package io.strata.rest.internal.security;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.strata.api.ErrorCode;
import io.strata.api.Names;
import io.strata.api.StorageException;
import io.strata.rest.internal.Json;
import io.strata.rest.internal.Role;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * API tokens for management software. A token reads {@code strata_<id>_<secret>}: the id
 * names it in lists, the audit log and revocation; the 256-bit secret is shown once, at
 * creation, and stored only as its SHA-256 (a random secret of that length needs no slow
 * hash). The file is written whole to a temporary file, synced and renamed, mode 0600, so
 * a crash leaves the old list or the new one.
 */
public final class TokenStore {
    private static final String PREFIX = "strata_";
    private final Path file;
    private final Clock clock;
    private final SecureRandom random = new SecureRandom();
    private final ObjectMapper mapper = Json.mapper();
    private final Map<String, Token> tokens = new LinkedHashMap<>();
    private final Map<String, Instant> lastUsed = new java.util.concurrent.ConcurrentHashMap<>();

    /** A new token and the secret text to hand to its holder. */
    public record Created(Token token, String secret) {
    }

    public TokenStore(Path file, Clock clock) {
        this.file = file;
        this.clock = clock;
        load();
    }

    private void load() {
        if (!Files.exists(file)) {
            return;
        }
        try {
            List<Token> list = mapper.readValue(file.toFile(), new TypeReference<List<Token>>() { });
            list.forEach(t -> tokens.put(t.id(), t));
        } catch (IOException e) {
            throw new StorageException(ErrorCode.IO_ERROR, "the token file " + file
                    + " cannot be read (" + e.getMessage() + "); move it away to start with no tokens");
        }
    }

    /**
     * Makes a token for {@code user} with {@code role}.
     *
     * @param expires null for a token that does not expire
     */
    public synchronized Created create(String user, Role role, Instant expires, String description) {
        Names.check("user", user);
        if (role == null) {
            throw new StorageException(ErrorCode.INVALID_ARGUMENT, "a token needs a role: viewer, operator or admin");
        }
        Instant now = clock.instant();
        if (expires != null && !expires.isAfter(now)) {
            throw new StorageException(ErrorCode.INVALID_ARGUMENT, "the expiry " + expires + " is not in the future");
        }
        byte[] idBytes = new byte[6];
        byte[] secret = new byte[32];
        String id;
        do {
            random.nextBytes(idBytes);
            id = HexFormat.of().formatHex(idBytes);
        } while (tokens.containsKey(id));
        random.nextBytes(secret);
        String secretText = HexFormat.of().formatHex(secret);
        Token t = new Token(id, user, role, sha256(secretText), now, expires, description == null ? "" : description);
        Map<String, Token> next = new LinkedHashMap<>(tokens);
        next.put(id, t);
        save(next);
        tokens.put(id, t);
        return new Created(t, PREFIX + id + "_" + secretText);
    }

    /** @return the token {@code text} proves, or null when it is unknown, revoked, expired or malformed */
    public Token verify(String text) {
        if (text == null || !text.startsWith(PREFIX)) {
            return null;
        }
        String[] parts = text.substring(PREFIX.length()).split("_", -1);
        if (parts.length != 2) {
            return null;
        }
        Token t;
        synchronized (this) {
            t = tokens.get(parts[0]);
        }
        if (t == null || !MessageDigest.isEqual(t.hash().getBytes(StandardCharsets.US_ASCII),
                sha256(parts[1]).getBytes(StandardCharsets.US_ASCII))) {
            return null;
        }
        Instant now = clock.instant();
        if (t.expiredAt(now)) {
            return null;
        }
        lastUsed.put(t.id(), now);
        return t;
    }

    /** @return every token, oldest first, expired ones included */
    public synchronized List<Token> list() {
        return new ArrayList<>(tokens.values());
    }

    /** @return when the token was last used since this start, or null */
    public Instant lastUsed(String id) {
        return lastUsed.get(id);
    }

    /** Revokes a token: requests with it are refused from now on. */
    public synchronized Token revoke(String id) {
        Token t = tokens.get(id);
        if (t == null) {
            throw new StorageException(ErrorCode.INVALID_ARGUMENT, "no token '" + Names.printable(id) + "'");
        }
        Map<String, Token> next = new LinkedHashMap<>(tokens);
        next.remove(id);
        save(next);
        tokens.remove(id);
        lastUsed.remove(id);
        return t;
    }

    private void save(Map<String, Token> next) {
        try {
            Files.createDirectories(file.getParent());
            Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
            Files.deleteIfExists(tmp);
            Files.createFile(tmp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
                ch.write(java.nio.ByteBuffer.wrap(mapper.writerWithDefaultPrettyPrinter()
                        .writeValueAsBytes(new ArrayList<>(next.values()))));
                ch.force(true);
            }
            try {
                Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
            }
            try (FileChannel dir = FileChannel.open(file.getParent(), StandardOpenOption.READ)) {
                dir.force(true);
            } catch (IOException e) {
                // some filesystems cannot sync a directory; the rename is still ordered after the data
            }
        } catch (IOException e) {
            throw new StorageException(ErrorCode.IO_ERROR, "cannot write the token file " + file + ": " + e.getMessage(), e);
        }
    }

    static String sha256(String text) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
                    .digest(text.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}

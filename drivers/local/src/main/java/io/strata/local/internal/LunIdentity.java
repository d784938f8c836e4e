package io.strata.local.internal;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.util.Optional;
import java.util.UUID;

/**
 * The identity of a file-backed LUN: a random UUID kept with the file, made when the
 * driver creates the LUN (or on the first open of a LUN made before identities existed).
 *
 * <p>It is stored in the extended attribute {@value #XATTR_NAME} of the file, which follows
 * the file when it is renamed and is not carried by a plain {@code cp} (a copy is another
 * LUN). Where the filesystem has no user extended attributes (NFSv3, some FUSE
 * filesystems) it goes to a sidecar file {@code <file>.id} holding the UUID on one line.
 * The attribute wins when both exist. The identity reads {@code uuid:<uuid>}.
 */
final class LunIdentity {
    /** The full name of the extended attribute. */
    static final String XATTR_NAME = "user.strata.lun-id";
    /** The name Java's user attribute view takes (without {@code user.}). */
    private static final String XATTR = "strata.lun-id";
    static final String SIDECAR_SUFFIX = ".id";
    static final String PREFIX = "uuid:";
    private static final System.Logger LOG = System.getLogger(LunIdentity.class.getName());

    static final LunIdentity DEFAULT = new LunIdentity(true);

    private final boolean useXattr;

    /** @param useXattr false to behave as on a filesystem without user extended attributes (tests) */
    LunIdentity(boolean useXattr) {
        this.useXattr = useXattr;
    }

    static Path sidecar(Path file) {
        return file.resolveSibling(file.getFileName() + SIDECAR_SUFFIX);
    }

    /** @return the identity stored with the file, if any; writes nothing */
    Optional<String> read(Path file) {
        Optional<UUID> x = readXattr(file);
        if (x.isPresent()) {
            return Optional.of(PREFIX + x.get());
        }
        return readSidecar(file).map(u -> PREFIX + u);
    }

    /** @return the stored identity, made and stored now if the file has none */
    String ensure(Path file) {
        Optional<String> existing = read(file);
        if (existing.isPresent()) {
            return existing.get();
        }
        UUID u = UUID.randomUUID();
        if (writeXattr(file, u)) {
            // another host opening the same shared file at the same moment may have written
            // its own: whatever is stored now is the identity
            LOG.log(System.Logger.Level.INFO, "file-backed LUN " + file + " had no identity; it is now " + PREFIX + u);
            return read(file).orElse(PREFIX + u);
        }
        Path side = sidecar(file);
        try {
            Files.writeString(side, u + "\n", StandardCharsets.US_ASCII, StandardOpenOption.CREATE_NEW,
                    StandardOpenOption.WRITE, StandardOpenOption.SYNC);
            LOG.log(System.Logger.Level.INFO, "file-backed LUN " + file + " had no identity; it is now " + PREFIX + u
                    + " (in " + side + ")");
        } catch (FileAlreadyExistsException e) {
            // made by someone else meanwhile: read it below
        } catch (IOException e) {
            throw new StorageException(ErrorCode.IO_ERROR, "cannot store the identity of the file-backed LUN " + file
                    + " (neither in its extended attribute " + XATTR_NAME + " nor in " + side + "): " + e.getMessage(), e);
        }
        return readSidecar(file).map(x -> PREFIX + x).orElseThrow(() -> new StorageException(ErrorCode.IO_ERROR,
                "the identity file " + side + " of the file-backed LUN " + file + " is not a UUID"));
    }

    /** Gives a newly created LUN file a fresh identity, replacing whatever a former file of that name left. */
    String create(Path file) {
        UUID u = UUID.randomUUID();
        if (!writeXattr(file, u)) {
            try {
                Files.writeString(sidecar(file), u + "\n", StandardCharsets.US_ASCII, StandardOpenOption.CREATE,
                        StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE, StandardOpenOption.SYNC);
            } catch (IOException e) {
                throw new StorageException(ErrorCode.IO_ERROR, "cannot store the identity of the new file-backed LUN "
                        + file + " in " + sidecar(file) + ": " + e.getMessage(), e);
            }
        }
        return PREFIX + u;
    }

    private UserDefinedFileAttributeView view(Path file) {
        return useXattr ? Files.getFileAttributeView(file, UserDefinedFileAttributeView.class) : null;
    }

    private Optional<UUID> readXattr(Path file) {
        UserDefinedFileAttributeView v = view(file);
        if (v == null) {
            return Optional.empty();
        }
        try {
            if (!v.list().contains(XATTR)) {
                return Optional.empty();
            }
            ByteBuffer b = ByteBuffer.allocate(Math.min(v.size(XATTR), 128));
            v.read(XATTR, b);
            return parse(new String(b.array(), 0, b.position(), StandardCharsets.US_ASCII), file + " (" + XATTR_NAME + ")");
        } catch (IOException | UnsupportedOperationException | SecurityException e) {
            return Optional.empty();
        }
    }

    /** @return true when stored in the extended attribute; false when the filesystem has none */
    private boolean writeXattr(Path file, UUID u) {
        UserDefinedFileAttributeView v = view(file);
        if (v == null) {
            return false;
        }
        try {
            v.write(XATTR, ByteBuffer.wrap(u.toString().getBytes(StandardCharsets.US_ASCII)));
            return true;
        } catch (IOException | UnsupportedOperationException | SecurityException e) {
            LOG.log(System.Logger.Level.DEBUG, "no extended attribute on " + file + " (" + e + "); using a sidecar file");
            return false;
        }
    }

    private static Optional<UUID> readSidecar(Path file) {
        Path side = sidecar(file);
        if (!Files.isRegularFile(side, LinkOption.NOFOLLOW_LINKS)) {
            return Optional.empty();
        }
        try {
            return parse(Files.readString(side, StandardCharsets.US_ASCII), side.toString());
        } catch (IOException | RuntimeException e) {
            return Optional.empty();
        }
    }

    private static Optional<UUID> parse(String text, String where) {
        String t = text.strip();
        try {
            UUID u = UUID.fromString(t);
            if (u.toString().equalsIgnoreCase(t)) {
                return Optional.of(u);
            }
        } catch (IllegalArgumentException e) {
            // below
        }
        LOG.log(System.Logger.Level.WARNING, "ignoring " + where + ": it does not hold a UUID");
        return Optional.empty();
    }
}

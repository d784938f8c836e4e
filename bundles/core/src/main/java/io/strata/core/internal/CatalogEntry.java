package io.strata.core.internal;

import static java.util.Objects.requireNonNull;

import io.strata.api.format.Provisioning;
import java.time.Instant;
import java.util.List;
import java.util.Optional;

/**
 * One volume in a datastore's catalog, exactly as it is stored on the datastore.
 *
 * @param name the volume name
 * @param file the image file name within the datastore
 * @param format the disk format type
 * @param provisioning how it is provisioned
 * @param virtualSize the size the guest sees, in bytes
 * @param created when it was created
 * @param state the stored life-cycle step
 * @param adoptedFrom for an import adopted in place: the file it was renamed from, so that a
 *        crash before READY renames it back instead of deleting the user's image; otherwise null
 * @param tempFile for an import copied in: the temporary file being filled; otherwise null
 * @param resizeTo a grow in progress: the new size, or 0; resolved by probing the image at mount
 */
record CatalogEntry(String name, String file, String format, Provisioning provisioning, long virtualSize,
        Instant created, State state, String adoptedFrom, String tempFile, long resizeTo, List<Snap> snapshots,
        String leafParent, String base, Pending pending) {

    /**
     * A snapshot: a read-only image of the volume's chain.
     *
     * @param name unique within the volume
     * @param file its image file
     * @param parent the snapshot it was taken after, or empty for a root (whose image sits on the
     *        volume's base when the volume is a linked clone)
     * @param created when it was taken
     */
    record Snap(String name, String file, String parent, Instant created) {
        Snap {
            requireNonNull(name, "name");
            requireNonNull(file, "file");
            requireNonNull(parent, "parent");
            requireNonNull(created, "created");
        }
    }

    /**
     * An operation recorded before its file work, so that the next mount completes or undoes it.
     *
     * @param op {@code snapshot-create}, {@code revert}, {@code cleanup}, {@code snapshot-delete}
     * @param snapshot the snapshot concerned, or empty
     * @param file the new image (create, revert) or the file to delete (cleanup), or empty
     * @param phase for snapshot-delete: {@code stream} (nothing irreversible done) or {@code rebase}
     */
    record Pending(String op, String snapshot, String file, String phase) {
        Pending {
            requireNonNull(op, "op");
            requireNonNull(snapshot, "snapshot");
            requireNonNull(file, "file");
            requireNonNull(phase, "phase");
        }
    }

    /** A version 1 entry: no snapshots, no base, nothing pending. */
    CatalogEntry(String name, String file, String format, Provisioning provisioning, long virtualSize,
            Instant created, State state, String adoptedFrom, String tempFile, long resizeTo) {
        this(name, file, format, provisioning, virtualSize, created, state, adoptedFrom, tempFile, resizeTo,
                List.of(), "", "", null);
    }

    /** The steps a volume goes through on the datastore. */
    enum State {
        CREATING, READY, DELETING
    }

    CatalogEntry {
        requireNonNull(name, "name");
        requireNonNull(file, "file");
        requireNonNull(format, "format");
        requireNonNull(provisioning, "provisioning");
        requireNonNull(created, "created");
        requireNonNull(state, "state");
        snapshots = List.copyOf(snapshots);
        requireNonNull(leafParent, "leafParent");
        requireNonNull(base, "base");
    }

    Optional<Snap> snapshot(String snap) {
        return snapshots.stream().filter(s -> s.name().equals(snap)).findFirst();
    }

    CatalogEntry withFile(String f) {
        return new CatalogEntry(name, f, format, provisioning, virtualSize, created, state, adoptedFrom, tempFile,
                resizeTo, snapshots, leafParent, base, pending);
    }

    CatalogEntry withChain(String f, List<Snap> snaps, String leafParentName) {
        return new CatalogEntry(name, f, format, provisioning, virtualSize, created, state, adoptedFrom, tempFile,
                resizeTo, snaps, leafParentName, base, pending);
    }

    CatalogEntry withBase(String b) {
        return new CatalogEntry(name, file, format, provisioning, virtualSize, created, state, adoptedFrom, tempFile,
                resizeTo, snapshots, leafParent, b, pending);
    }

    CatalogEntry withPending(Pending p) {
        return new CatalogEntry(name, file, format, provisioning, virtualSize, created, state, adoptedFrom, tempFile,
                resizeTo, snapshots, leafParent, base, p);
    }

    CatalogEntry withState(State s) {
        return new CatalogEntry(name, file, format, provisioning, virtualSize, created, s, adoptedFrom, tempFile,
                resizeTo, snapshots, leafParent, base, pending);
    }

    /** @return the entry made READY, with the bookkeeping of its creation dropped */
    CatalogEntry ready() {
        return new CatalogEntry(name, file, format, provisioning, virtualSize, created, State.READY, null, null, 0, snapshots,
                leafParent, base, pending);
    }

    CatalogEntry withResizeTo(long size) {
        return new CatalogEntry(name, file, format, provisioning, virtualSize, created, state, adoptedFrom, tempFile,
                size, snapshots, leafParent, base, pending);
    }

    CatalogEntry withVirtualSize(long size) {
        return new CatalogEntry(name, file, format, provisioning, size, created, state, adoptedFrom, tempFile, 0,
                snapshots, leafParent, base, pending);
    }
}

package io.strata.core.internal;

import static java.util.Objects.requireNonNull;

import io.strata.api.format.Provisioning;
import java.time.Instant;

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
        Instant created, State state, String adoptedFrom, String tempFile, long resizeTo) {

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
    }

    CatalogEntry withState(State s) {
        return new CatalogEntry(name, file, format, provisioning, virtualSize, created, s, adoptedFrom, tempFile,
                resizeTo);
    }

    /** @return the entry made READY, with the bookkeeping of its creation dropped */
    CatalogEntry ready() {
        return new CatalogEntry(name, file, format, provisioning, virtualSize, created, State.READY, null, null, 0);
    }

    CatalogEntry withResizeTo(long size) {
        return new CatalogEntry(name, file, format, provisioning, virtualSize, created, state, adoptedFrom, tempFile,
                size);
    }

    CatalogEntry withVirtualSize(long size) {
        return new CatalogEntry(name, file, format, provisioning, size, created, state, adoptedFrom, tempFile, 0);
    }
}

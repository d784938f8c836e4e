package io.strata.api.service;

import io.strata.api.StorageException;
import java.util.List;
import org.osgi.annotation.versioning.ProviderType;

/**
 * Redirect-on-write snapshots. Taking a snapshot freezes the volume's current image
 * (read-only) and puts a new child image on top; the volume keeps its name and identity.
 */
@ProviderType
public interface SnapshotService {
    /**
     * Takes a snapshot in constant time, whatever the volume's size; allowed while the
     * volume is in use (the snapshot holds every write completed before it).
     *
     * @throws StorageException {@code INVALID_NAME}, {@code ALREADY_EXISTS}, {@code CHAIN_TOO_LONG}
     *         when the chain would exceed its limit, {@code UNSUPPORTED} for a format without chains
     */
    SnapshotInfo create(VolumeRef volume, String name);

    /**
     * @return the volume's snapshots, parents before children, oldest first among siblings
     * @throws StorageException {@code VOLUME_NOT_FOUND}
     */
    List<SnapshotInfo> list(VolumeRef volume);

    /**
     * Returns the volume to the state of a snapshot. The current state is discarded; other
     * snapshots stay. Refused while the volume is in use.
     *
     * @throws StorageException {@code SNAPSHOT_NOT_FOUND}, {@code VOLUME_IN_USE}
     */
    void revert(VolumeRef volume, String snapshot);

    /**
     * Deletes any snapshot of the chain, merging its data into a neighbour, without changing
     * what any remaining snapshot or the volume reads. Runs as a task; allowed while the
     * volume is in use; a crash at any point is completed or rolled back at the next mount.
     *
     * @return the task doing the merge
     * @throws StorageException {@code SNAPSHOT_NOT_FOUND}, {@code VOLUME_IN_USE} when linked
     *         clones depend on the snapshot (the message names them)
     */
    TaskInfo delete(VolumeRef volume, String snapshot);
}

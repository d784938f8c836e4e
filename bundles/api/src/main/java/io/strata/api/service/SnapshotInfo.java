package io.strata.api.service;

import static java.util.Objects.requireNonNull;

import java.time.Instant;

/**
 * One snapshot of a volume: a read-only image in the volume's chain.
 *
 * @param volume the volume it belongs to
 * @param name the snapshot name (unique within the volume)
 * @param parent the name of the snapshot it was taken after, or empty for the first one
 * @param file the image file in the datastore
 * @param created when it was taken
 * @param allocated bytes its image occupies (data unique to this snapshot)
 * @param current whether the volume's current state was taken after it on the same branch
 *        (false for snapshots on a branch left by a revert)
 */
public record SnapshotInfo(VolumeRef volume, String name, String parent, String file, Instant created,
        long allocated, boolean current) {
    /** Checks the components. */
    public SnapshotInfo {
        requireNonNull(volume, "volume");
        requireNonNull(name, "name");
        requireNonNull(parent, "parent");
        requireNonNull(file, "file");
        requireNonNull(created, "created");
    }
}

package io.strata.api.fs;

/**
 * Capacity and free space of a datastore, in bytes.
 *
 * @param capacity total usable bytes
 * @param free bytes free for new data
 */
public record SpaceInfo(long capacity, long free) {
    /** Checks the components. */
    public SpaceInfo {
        if (capacity < 0 || free < 0) {
            throw new IllegalArgumentException("negative space: " + capacity + "/" + free);
        }
    }
}

package io.strata.api.fs;

import static java.util.Objects.requireNonNull;

/**
 * Size and allocation of a datastore file.
 *
 * @param name the file name
 * @param size the apparent size in bytes
 * @param allocated bytes allocated on the device
 */
public record FileStat(String name, long size, long allocated) {
    /** Checks the components. */
    public FileStat {
        requireNonNull(name, "name");
    }
}

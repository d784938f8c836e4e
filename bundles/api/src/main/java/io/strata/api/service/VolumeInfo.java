package io.strata.api.service;

import static java.util.Objects.requireNonNull;

import io.strata.api.format.Provisioning;
import java.time.Instant;

/**
 * A volume as users see it.
 *
 * @param datastore the datastore name
 * @param name the volume name
 * @param format the disk format type
 * @param provisioning how it is provisioned
 * @param virtualSize the size the guest sees, in bytes
 * @param allocated bytes the image occupies on the datastore
 * @param file the image file name within the datastore
 * @param path the absolute path of the image file, or empty when the datastore has no local paths
 * @param state its life-cycle state
 * @param created when it was created
 */
public record VolumeInfo(String datastore, String name, String format, Provisioning provisioning, long virtualSize,
        long allocated, String file, String path, VolumeState state, Instant created) {
    /** Checks the components. */
    public VolumeInfo {
        requireNonNull(datastore, "datastore");
        requireNonNull(name, "name");
        requireNonNull(format, "format");
        requireNonNull(provisioning, "provisioning");
        requireNonNull(file, "file");
        requireNonNull(path, "path");
        requireNonNull(state, "state");
        requireNonNull(created, "created");
    }

    /** @return the reference {@code datastore/name} */
    public VolumeRef ref() {
        return new VolumeRef(datastore, name);
    }
}

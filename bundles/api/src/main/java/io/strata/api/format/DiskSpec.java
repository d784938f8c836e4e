package io.strata.api.format;

import static java.util.Objects.requireNonNull;

/**
 * What to create.
 *
 * @param virtualSize the size the guest sees, in bytes; formats reject sizes they
 *        cannot represent exactly with {@code INVALID_SIZE} rather than round them
 * @param provisioning how space is provisioned
 */
public record DiskSpec(long virtualSize, Provisioning provisioning) {
    /** Checks the components. */
    public DiskSpec {
        requireNonNull(provisioning, "provisioning");
    }
}

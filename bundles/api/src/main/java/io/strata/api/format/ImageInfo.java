package io.strata.api.format;

import static java.util.Objects.requireNonNull;

import java.util.Map;

/**
 * What a format found in an image file after validating it.
 *
 * @param format the format type ({@code vhd}, {@code raw})
 * @param virtualSize the size the guest sees, in bytes
 * @param provisioning how the image is provisioned
 * @param details format-specific facts (subformat, creator, block size), for display
 */
public record ImageInfo(String format, long virtualSize, Provisioning provisioning, Map<String, String> details) {
    /** Checks the components and copies the map. */
    public ImageInfo {
        requireNonNull(format, "format");
        requireNonNull(provisioning, "provisioning");
        details = Map.copyOf(details);
    }
}

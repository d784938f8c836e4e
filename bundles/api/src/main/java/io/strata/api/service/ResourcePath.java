package io.strata.api.service;

import static java.util.Objects.requireNonNull;

import io.strata.api.device.PathInfo;

/**
 * A path of a multipathed device, with the resource it belongs to.
 *
 * @param resource the resource name
 * @param path the path
 * @since 1.4
 */
public record ResourcePath(String resource, PathInfo path) {
    /** Checks the components. */
    public ResourcePath {
        requireNonNull(resource, "resource");
        requireNonNull(path, "path");
    }
}

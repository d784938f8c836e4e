package io.strata.api.device;

import static java.util.Objects.requireNonNull;

/**
 * An immutable description of a device a resource offers.
 *
 * @param resource the resource name
 * @param id the device id, unique within its resource and stable across restarts
 * @param kind block device or file share
 * @param size the size in bytes (capacity of the share for a file share), or -1 when unknown
 * @param sectorSize the logical sector size for a block device, 0 for a file share
 * @param description a short human description (model, path, export)
 */
public record DeviceInfo(String resource, String id, DeviceKind kind, long size, int sectorSize,
        String description) {
    /** Checks the components. */
    public DeviceInfo {
        requireNonNull(resource, "resource");
        requireNonNull(id, "id");
        requireNonNull(kind, "kind");
        requireNonNull(description, "description");
    }

    /** @return {@code resource/id}, how users address a device */
    public String ref() {
        return resource + "/" + id;
    }
}

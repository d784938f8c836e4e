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
 * @param identity the identity of the storage behind a block device as
 *        {@link BlockDevice#identity()} gives it, or the empty string when unknown (file
 *        shares, drivers built before 1.1); since 1.1
 */
public record DeviceInfo(String resource, String id, DeviceKind kind, long size, int sectorSize,
        String description, String identity) {
    /** Checks the components. */
    public DeviceInfo {
        requireNonNull(resource, "resource");
        requireNonNull(id, "id");
        requireNonNull(kind, "kind");
        requireNonNull(description, "description");
        requireNonNull(identity, "identity");
    }

    /**
     * A description without identity, the constructor of 1.0.
     *
     * @param resource the resource name
     * @param id the device id
     * @param kind block device or file share
     * @param size the size in bytes, or -1 when unknown
     * @param sectorSize the logical sector size, 0 for a file share
     * @param description a short human description
     */
    public DeviceInfo(String resource, String id, DeviceKind kind, long size, int sectorSize, String description) {
        this(resource, id, kind, size, sectorSize, description, "");
    }

    /** @return {@code resource/id}, how users address a device */
    public String ref() {
        return resource + "/" + id;
    }

    /**
     * @param newIdentity the identity
     * @return this description with another identity
     * @since 1.1
     */
    public DeviceInfo withIdentity(String newIdentity) {
        return new DeviceInfo(resource, id, kind, size, sectorSize, description, newIdentity);
    }
}

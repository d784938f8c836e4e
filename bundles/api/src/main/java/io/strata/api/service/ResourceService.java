package io.strata.api.service;

import io.strata.api.StorageException;
import io.strata.api.device.DeviceInfo;
import java.util.List;
import java.util.Map;
import org.osgi.annotation.versioning.ProviderType;

/**
 * Installed plugins, storage resources and their devices. Resources are host
 * configuration: they survive restarts.
 */
@ProviderType
public interface ResourceService {
    /** @return installed drivers, filesystem layers and formats, sorted by kind then type */
    List<PluginInfo> plugins();

    /** @return configured resources, sorted by name */
    List<ResourceInfo> resources();

    /**
     * @throws StorageException {@code RESOURCE_NOT_FOUND}
     */
    ResourceInfo resource(String name);

    /**
     * Attaches a resource and records it in the host configuration.
     *
     * @throws StorageException {@code INVALID_NAME}, {@code ALREADY_EXISTS},
     *         {@code DRIVER_NOT_FOUND}, and whatever the driver's attach throws
     */
    ResourceInfo add(String name, String driver, Map<String, String> parameters);

    /**
     * Detaches a resource and forgets it. Never touches data on its devices.
     *
     * @throws StorageException {@code RESOURCE_NOT_FOUND}, {@code RESOURCE_IN_USE} while a datastore uses it
     */
    void remove(String name);

    /**
     * @param resource a resource name, or null for all resources
     * @return the devices, sorted by resource then id; unavailable resources contribute none
     * @throws StorageException {@code RESOURCE_NOT_FOUND}, {@code DEVICE_UNAVAILABLE}
     */
    List<DeviceInfo> devices(String resource);
    /**
     * Lists the paths of multipathed devices ({@code storage:path-list}).
     *
     * @param resource a resource name, or null for every resource
     * @param device a device id within it, or null for every device
     * @return the paths with their resource, sorted by resource, device, path
     * @throws StorageException {@code RESOURCE_NOT_FOUND}, {@code DEVICE_NOT_FOUND}
     * @since 1.4
     */
    default List<ResourcePath> paths(String resource, String device) {
        return List.of();
    }

    /**
     * Sets a path offline for maintenance or online again ({@code storage:path-set}).
     *
     * @param resource the resource name
     * @param pathId the path id
     * @param enabled false for offline, true for online
     * @throws StorageException {@code RESOURCE_NOT_FOUND}, {@code DEVICE_NOT_FOUND},
     *         {@code UNSUPPORTED}
     * @since 1.4
     */
    default void setPathEnabled(String resource, String pathId, boolean enabled) {
        throw new StorageException(io.strata.api.ErrorCode.UNSUPPORTED, "paths cannot be set here");
    }

    /**
     * Changes parameters of an attached resource at run time (a multipath policy, for
     * instance) and records them in the host configuration.
     *
     * @param name the resource name
     * @param changes parameter name to new value
     * @return the resource as it is now
     * @throws StorageException {@code RESOURCE_NOT_FOUND}, {@code INVALID_ARGUMENT},
     *         {@code UNSUPPORTED}
     * @since 1.4
     */
    default ResourceInfo update(String name, Map<String, String> changes) {
        throw new StorageException(io.strata.api.ErrorCode.UNSUPPORTED, "resources cannot be changed here");
    }
}

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
}

package io.strata.api.service;

import io.strata.api.StorageException;
import io.strata.api.fs.Datastore;
import java.util.List;
import java.util.Map;
import org.osgi.annotation.versioning.ProviderType;

/** Datastores: host configuration that survives restarts, with space accounting. */
@ProviderType
public interface DatastoreService {
    /** @return datastores, sorted by name */
    List<DatastoreInfo> list();

    /**
     * @throws StorageException {@code DATASTORE_NOT_FOUND}
     */
    DatastoreInfo info(String name);

    /**
     * Formats (where the layer formats) and mounts a datastore on a device and records it.
     *
     * @param name the datastore name
     * @param filesystem the filesystem layer type
     * @param device {@code resource/device}
     * @param options layer-specific options
     * @param force format even when the device already holds a filesystem
     * @throws StorageException {@code INVALID_NAME}, {@code ALREADY_EXISTS},
     *         {@code FILESYSTEM_NOT_FOUND}, {@code RESOURCE_NOT_FOUND}, {@code DEVICE_NOT_FOUND},
     *         {@code RESOURCE_IN_USE} when the device carries a datastore already,
     *         and what the layer throws
     */
    DatastoreInfo create(String name, String filesystem, String device, Map<String, String> options, boolean force);

    /**
     * Unmounts a datastore and forgets it. Its files stay on the device.
     *
     * @throws StorageException {@code DATASTORE_NOT_FOUND}, {@code VOLUME_IN_USE} while a volume is open
     */
    void remove(String name);

    /**
     * The mounted datastore, for front ends that need file access (migration, tests).
     *
     * @throws StorageException {@code DATASTORE_NOT_FOUND}, {@code DEVICE_UNAVAILABLE}
     */
    Datastore datastore(String name);
}

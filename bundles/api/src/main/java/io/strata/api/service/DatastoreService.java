package io.strata.api.service;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.format.CheckReport;
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

    /**
     * Checks a datastore's filesystem ({@link Datastore#check}): the layer's own metadata, not
     * the volumes' images ({@link VolumeService#check} checks those).
     *
     * @param datastore the datastore name
     * @param repair also fix what the checker can fix safely
     * @return what the checker found
     * @throws StorageException {@code DATASTORE_NOT_FOUND}, {@code DEVICE_UNAVAILABLE} while it
     *         is not mounted, {@code UNSUPPORTED} when its layer has no checker, and what the
     *         layer throws
     * @since 1.4
     */
    default CheckReport check(String datastore, boolean repair) {
        throw new StorageException(ErrorCode.UNSUPPORTED, "checking datastore '" + datastore
                + "' is not supported by this service");
    }

    /**
     * Grows a datastore's filesystem to its device's current size, after the LUN or share was
     * enlarged ({@link Datastore#grow}).
     *
     * @param datastore the datastore name
     * @return the datastore with its new capacity
     * @throws StorageException {@code DATASTORE_NOT_FOUND}, {@code DEVICE_UNAVAILABLE} while it
     *         is not mounted, {@code UNSUPPORTED} when its layer cannot grow, and what the layer
     *         throws
     * @since 1.4
     */
    default DatastoreInfo grow(String datastore) {
        throw new StorageException(ErrorCode.UNSUPPORTED, "growing datastore '" + datastore
                + "' is not supported by this service");
    }
}

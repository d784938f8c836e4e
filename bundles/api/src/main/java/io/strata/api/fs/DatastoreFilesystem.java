package io.strata.api.fs;

import io.strata.api.Capability;
import io.strata.api.StorageException;
import io.strata.api.device.DeviceKind;
import io.strata.api.device.StorageDevice;
import java.util.Map;
import java.util.Set;
import org.osgi.annotation.versioning.ConsumerType;

/**
 * A filesystem layer (dir, ext4, nfs, vims). Registered as an OSGi service with
 * the property {@value #TYPE_PROPERTY} set to {@link #type()}.
 */
@ConsumerType
public interface DatastoreFilesystem {
    /** The service property naming the filesystem type. */
    String TYPE_PROPERTY = "storage.fs";

    /** @return the type key, e.g. {@code ext4}; lower case, stable */
    String type();

    /** @return one line describing the layer */
    String description();

    /** @return what datastores of this type can do; includes {@link Capability#FORMAT} when {@link #format} works */
    Set<Capability> capabilities();

    /** @return the kind of device this layer puts a datastore on */
    DeviceKind deviceKind();

    /**
     * Writes a new, empty filesystem on the device.
     *
     * @param device the opened device, of {@link #deviceKind()}
     * @param options layer-specific options
     * @param force format even when the device already holds a filesystem
     * @throws StorageException {@code UNSUPPORTED} when the layer does not format,
     *         {@code DEVICE_HAS_FILESYSTEM} when not forced and a filesystem is found,
     *         {@code PERMISSION_DENIED}, {@code EXTERNAL_TOOL_FAILED}
     */
    void format(StorageDevice device, Map<String, String> options, boolean force);

    /**
     * Mounts the datastore on the device. Idempotent across restarts: mounting an
     * already mounted datastore of the same name returns a working handle.
     *
     * @param datastoreName the datastore name (already checked)
     * @param device the opened device, of {@link #deviceKind()}
     * @param options layer-specific options
     * @return the mounted datastore
     * @throws StorageException {@code DEVICE_UNAVAILABLE}, {@code PERMISSION_DENIED},
     *         {@code CORRUPT_IMAGE} when the device holds no usable filesystem
     */
    Datastore mount(String datastoreName, StorageDevice device, Map<String, String> options);
}

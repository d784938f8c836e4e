package io.strata.api.device;

import io.strata.api.StorageException;
import java.util.List;
import java.util.Map;
import org.osgi.annotation.versioning.ConsumerType;

/**
 * An attached storage resource: a physical storage system reached through
 * one driver. It offers devices; closing it releases connections but never
 * touches data.
 */
@ConsumerType
public interface StorageResource extends AutoCloseable {
    /** @return the user-given resource name */
    String name();

    /** @return the type of the driver that attached it */
    String driverType();

    /** @return the parameters it was attached with */
    Map<String, String> parameters();

    /**
     * Lists the devices the resource offers now (a fresh discovery where the driver discovers).
     *
     * @return the devices, sorted by id
     * @throws StorageException {@code DEVICE_UNAVAILABLE} when the resource cannot be reached
     */
    List<DeviceInfo> devices();

    /**
     * Opens a device for use by a filesystem layer.
     *
     * @param deviceId the id from {@link DeviceInfo#id()}
     * @return a {@link BlockDevice} or {@link FileShare}, according to {@link DeviceInfo#kind()}
     * @throws StorageException {@code DEVICE_NOT_FOUND}, {@code DEVICE_UNAVAILABLE}
     */
    StorageDevice openDevice(String deviceId);

    /** Releases connections. Never throws; never touches data. */
    @Override
    void close();
}

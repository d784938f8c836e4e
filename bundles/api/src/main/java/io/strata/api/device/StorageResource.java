package io.strata.api.device;

import io.strata.api.ErrorCode;
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

    /**
     * Lists the paths of every device of this resource, for drivers that reach devices
     * through several paths (iSCSI portals, Fibre Channel ports). Never blocks on a device.
     *
     * @return the paths, sorted by device then path id; empty for drivers without paths
     * @since 1.1
     */
    default List<PathInfo> paths() {
        return List.of();
    }

    /**
     * Takes a path out of use for maintenance, or puts it back ({@code storage:path-set}).
     * A disabled path gets no I/O and is not checked; I/O under way on it completes.
     *
     * @param pathId the id from {@link PathInfo#id()}
     * @param enabled false to set it offline, true to set it online again
     * @throws StorageException {@code DEVICE_NOT_FOUND} for an unknown path,
     *         {@code UNSUPPORTED} for drivers without paths (the default)
     * @since 1.1
     */
    default void setPathEnabled(String pathId, boolean enabled) {
        throw new StorageException(ErrorCode.UNSUPPORTED, "resource " + name() + " has no paths to set");
    }

    /**
     * Changes parameters of the attached resource at run time, such as a multipathing
     * policy. The driver checks all of them before it applies any.
     *
     * @param changes the parameters to change, name to new value
     * @throws StorageException {@code INVALID_ARGUMENT} for a parameter the driver cannot
     *         change at run time or a bad value, {@code UNSUPPORTED} when it changes none
     *         (the default)
     * @since 1.1
     */
    default void reconfigure(Map<String, String> changes) {
        throw new StorageException(ErrorCode.UNSUPPORTED,
                "resource " + name() + " (" + driverType() + ") cannot change its parameters while attached");
    }

    /** Releases connections. Never throws; never touches data. */
    @Override
    void close();
}

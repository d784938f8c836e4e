package io.strata.api.device;

import io.strata.api.Capability;
import io.strata.api.StorageException;
import java.util.Map;
import java.util.Set;
import org.osgi.annotation.versioning.ConsumerType;

/**
 * A transport driver (local, iSCSI, FC, NAS). Registered as an OSGi service
 * with the property {@value #TYPE_PROPERTY} set to {@link #type()}.
 *
 * <p>A driver is stateless towards the core: the core keeps which resources
 * are attached (in Configuration Admin) and calls {@link #attach} again after
 * a restart or after the driver bundle comes back.
 */
@ConsumerType
public interface StorageDriver {
    /** The service property naming the driver type. */
    String TYPE_PROPERTY = "storage.driver";

    /** @return the type key, e.g. {@code local}; lower case, stable */
    String type();

    /** @return one line describing the driver for {@code storage:driver-list} */
    String description();

    /** @return what this driver's resources and devices can do */
    Set<Capability> capabilities();

    /**
     * @return the parameters {@link #attach} understands, name to one-line description;
     *         used by completers, help and validation
     */
    Map<String, String> parameters();

    /**
     * Connects to a storage resource. Idempotent: attaching a resource that is already
     * attached (e.g. after a restart) returns a working handle to the same resource.
     *
     * @param name the resource name chosen by the user (already checked with
     *        {@link io.strata.api.Names#check})
     * @param parameters driver-specific parameters, validated by the driver
     * @return the attached resource
     * @throws StorageException {@code INVALID_ARGUMENT} for missing or bad parameters,
     *         {@code DEVICE_UNAVAILABLE} when the resource cannot be reached,
     *         {@code PERMISSION_DENIED} when privileges are missing
     */
    StorageResource attach(String name, Map<String, String> parameters);
}

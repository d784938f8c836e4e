package io.strata.lease;

import io.strata.api.device.StorageDevice;
import io.strata.api.fs.Datastore;
import java.util.Map;
import org.osgi.annotation.versioning.ConsumerType;

/**
 * A filesystem layer whose datastores coordinate the hosts that mount them through a
 * lockspace of their own, kept on the device (a clustered filesystem on a shared LUN).
 * The core mounts such a layer through this method, giving it the host's identity and lease
 * timings, instead of {@link io.strata.api.fs.DatastoreFilesystem#mount}; the datastore it
 * returns should implement {@link LockspaceProvider} so that the core's catalog and volume
 * leases live in the same lockspace (one slot and one heartbeat per host).
 *
 * @since 1.1
 */
@ConsumerType
public interface ClusteredFilesystem {
    /**
     * Mounts the datastore as one of the hosts sharing it: joins its lockspace (blocking until
     * this host has a slot), replays what a dead host left in its journal, then returns.
     *
     * @param datastoreName the datastore name on this host
     * @param device the opened device
     * @param options layer-specific options
     * @param participant this host
     * @return the mounted datastore
     * @throws io.strata.api.StorageException {@code CORRUPT_IMAGE} for a damaged filesystem,
     *         {@code DEVICE_UNAVAILABLE}, {@code RESOURCE_IN_USE} when every slot is taken
     */
    Datastore mount(String datastoreName, StorageDevice device, Map<String, String> options,
            LeaseParticipant participant);
}

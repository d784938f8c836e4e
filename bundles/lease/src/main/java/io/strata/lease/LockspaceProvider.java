package io.strata.lease;

import org.osgi.annotation.versioning.ConsumerType;

/**
 * A mounted datastore that keeps lease areas for its users in its own lockspace (see
 * {@link ClusteredFilesystem}).
 *
 * @since 1.1
 */
@ConsumerType
public interface LockspaceProvider {
    /**
     * @return a view of this host's membership of the datastore's lockspace in which area
     *         numbers run from 0 to {@link Lockspace#areas()} - 1 over the areas kept for the
     *         caller; closing the view releases the leases taken through it, not the slot,
     *         which the datastore leaves when it is unmounted
     */
    Lockspace sharedLockspace();
}

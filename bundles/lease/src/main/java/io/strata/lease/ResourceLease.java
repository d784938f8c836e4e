package io.strata.lease;

import org.osgi.annotation.versioning.ProviderType;

/**
 * An exclusive lease on a named resource held by this host. It stays valid as long as the
 * host's own slot in the lockspace is renewed; closing it releases it.
 */
@ProviderType
public interface ResourceLease extends AutoCloseable {
    /** @return the resource name */
    String resource();

    /** @return the lease area the resource uses in the lockspace */
    int area();

    /** @return whether the lease is still held (the host has not fenced itself and not released it) */
    boolean valid();

    /** Releases the lease; idempotent, never throws (a failed release expires with the host's slot). */
    @Override
    void close();
}

package io.strata.api.service;

import org.osgi.annotation.versioning.ProviderType;

/**
 * The host's identity and its view of the hosts it shares datastores with.
 *
 * @since 1.4
 */
@ProviderType
public interface HostService {
    /** @return this host and, for each shared datastore it joined, the hosts there */
    HostInfo host();
}

package io.strata.api.service;

import static java.util.Objects.requireNonNull;

import java.util.List;
import java.util.UUID;

/**
 * This host as the datastores it shares see it.
 *
 * @param id the host's stable identity, made at its first start
 * @param name its name for people (by default the hostname)
 * @param shared every shared datastore this host has joined, with the hosts it sees there
 * @since 1.4
 */
public record HostInfo(UUID id, String name, List<Shared> shared) {
    /** Checks the components. */
    public HostInfo {
        requireNonNull(id, "id");
        requireNonNull(name, "name");
        shared = List.copyOf(shared);
    }

    /**
     * One shared datastore's lockspace as this host sees it.
     *
     * @param datastore the datastore name on this host
     * @param slot this host's slot in the lockspace
     * @param generation this host's generation in that slot
     * @param valid whether this host's lease is renewed in time (false once it fenced itself)
     * @param hosts every host with a slot, this one included
     */
    public record Shared(String datastore, int slot, long generation, boolean valid, List<Member> hosts) {
        /** Checks the components. */
        public Shared {
            requireNonNull(datastore, "datastore");
            hosts = List.copyOf(hosts);
        }
    }

    /**
     * A host with a slot in a lockspace.
     *
     * @param slot its slot
     * @param id its identity
     * @param name its name
     * @param generation its generation
     * @param state LIVE, DEAD, FREE or UNKNOWN (not yet watched for a whole expiry period)
     * @param unchangedMillis how long its slot has been seen unchanged
     */
    public record Member(int slot, UUID id, String name, long generation, String state, long unchangedMillis) {
        /** Checks the components. */
        public Member {
            requireNonNull(id, "id");
            requireNonNull(name, "name");
            requireNonNull(state, "state");
        }
    }
}

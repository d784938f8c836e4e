package io.strata.lease;

import static java.util.Objects.requireNonNull;

/**
 * One slot of a lockspace as this host last saw it.
 *
 * @param slot the slot number
 * @param host the host that holds or last held it
 * @param generation the holder's generation (grows each time a host joins again)
 * @param state what this host concluded
 * @param unchangedMillis how long this host has seen the slot unchanged, in milliseconds
 */
public record HostStatus(int slot, HostIdentity host, long generation, State state, long unchangedMillis) {
    /** What a slot says of its host. */
    public enum State {
        /** Renewed within the expiry: the host may be writing. */
        LIVE,
        /** Not renewed for the expiry time: its leases may be taken. */
        DEAD,
        /** Released by its host on a clean leave. */
        FREE,
        /** Not yet watched for a whole expiry period by this host. */
        UNKNOWN
    }

    /** Checks the components. */
    public HostStatus {
        requireNonNull(host, "host");
        requireNonNull(state, "state");
    }
}

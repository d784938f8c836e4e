package io.strata.lease;

import static java.util.Objects.requireNonNull;

import java.util.UUID;

/**
 * Who a host is: a UUID made once at its first start, and a name for people (by default
 * its hostname). Leases, intents and log lines that concern a host name it by both.
 *
 * @param id the host's stable identity
 * @param name a human-readable name, not necessarily unique
 */
public record HostIdentity(UUID id, String name) {
    /** Checks the components. */
    public HostIdentity {
        requireNonNull(id, "id");
        requireNonNull(name, "name");
    }

    @Override
    public String toString() {
        return name + " (" + id + ")";
    }
}

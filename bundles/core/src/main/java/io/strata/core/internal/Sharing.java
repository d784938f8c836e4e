package io.strata.core.internal;

import static java.util.Objects.requireNonNull;

import io.strata.lease.HostIdentity;
import io.strata.lease.LeaseClock;
import io.strata.lease.LeaseSettings;
import java.util.function.Consumer;

/**
 * What a mount needs to join a shared datastore's lockspace: who this host is, the lease
 * timing, the clock, and whom to tell when this host fences itself (the core, which then
 * takes the datastore offline and mounts it again with a new generation).
 *
 * @param me this host
 * @param settings renewal and expiry
 * @param clock the lease clock
 * @param onFence called with the datastore's name when this host lost its lease on it
 */
record Sharing(HostIdentity me, LeaseSettings settings, LeaseClock clock, Consumer<String> onFence) {
    Sharing {
        requireNonNull(me, "me");
        requireNonNull(settings, "settings");
        requireNonNull(clock, "clock");
        requireNonNull(onFence, "onFence");
    }
}

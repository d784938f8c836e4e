package io.strata.lease;

import static java.util.Objects.requireNonNull;

/**
 * What a host brings to a lockspace it joins: who it is, its timings, its clock, and what
 * to run if it ever has to fence itself.
 *
 * @param me this host
 * @param settings renewal, expiry and I/O timeout
 * @param clock the clock leases are measured with
 * @param onFence run once, in a lease thread, when this host stops writing because it could
 *        not renew its slot in time
 * @since 1.1
 */
public record LeaseParticipant(HostIdentity me, LeaseSettings settings, LeaseClock clock, Runnable onFence) {
    /** Checks the components. */
    public LeaseParticipant {
        requireNonNull(me, "me");
        requireNonNull(settings, "settings");
        requireNonNull(clock, "clock");
        requireNonNull(onFence, "onFence");
    }
}

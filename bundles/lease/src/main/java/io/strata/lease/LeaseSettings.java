package io.strata.lease;

import static java.util.Objects.requireNonNull;

import java.time.Duration;

/**
 * Timing of a lockspace. Every host sharing a lockspace must use the same values.
 *
 * @param renewal how often a host renews its slot (VMFS: about 3 s)
 * @param expiry how long a slot must be seen unchanged before its host counts as dead
 *        (VMFS: 16 s); a host that has not renewed for this long minus {@code ioTimeout}
 *        has already stopped its own I/O
 * @param ioTimeout the longest one lease I/O may take before it counts as failed
 */
public record LeaseSettings(Duration renewal, Duration expiry, Duration ioTimeout) {
    /** The defaults: renew every 3 s, dead after 16 s, 4 s per lease I/O. */
    public static final LeaseSettings DEFAULTS =
            new LeaseSettings(Duration.ofSeconds(3), Duration.ofSeconds(16), Duration.ofSeconds(4));

    /** Checks that the values can work together. */
    public LeaseSettings {
        requireNonNull(renewal, "renewal");
        requireNonNull(expiry, "expiry");
        requireNonNull(ioTimeout, "ioTimeout");
        if (renewal.isNegative() || renewal.isZero() || ioTimeout.isNegative() || ioTimeout.isZero()) {
            throw new IllegalArgumentException("renewal and ioTimeout must be positive");
        }
        if (expiry.compareTo(renewal.multipliedBy(2).plus(ioTimeout)) < 0) {
            throw new IllegalArgumentException("expiry " + expiry + " must be at least twice the renewal "
                    + renewal + " plus the I/O timeout " + ioTimeout);
        }
    }
}

package io.strata.api.service;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;

/**
 * A volume's I/O limits, enforced in its I/O path by token buckets. Zero means unlimited.
 *
 * @param iops requests per second, reads and writes together
 * @param readIops reads per second
 * @param writeIops writes (and trims, write-zeroes) per second
 * @param bps bytes per second, reads and writes together
 * @param burstSeconds how many seconds of each rate may be spent at once after an idle
 *        period (the buckets' depth); 0.1 s by default
 * @since 1.2
 */
public record QosLimits(long iops, long readIops, long writeIops, long bps, double burstSeconds) {
    /** No limits. */
    public static final QosLimits NONE = new QosLimits(0, 0, 0, 0, 0.1);

    /** Checks the values. */
    public QosLimits {
        if (iops < 0 || readIops < 0 || writeIops < 0 || bps < 0) {
            throw new StorageException(ErrorCode.INVALID_ARGUMENT, "QoS limits cannot be negative");
        }
        if (!(burstSeconds > 0) || burstSeconds > 60) {
            throw new StorageException(ErrorCode.INVALID_ARGUMENT,
                    "the burst must be more than 0 and at most 60 seconds, not " + burstSeconds);
        }
    }

    /** @return whether any limit is set */
    public boolean limited() {
        return iops > 0 || readIops > 0 || writeIops > 0 || bps > 0;
    }
}

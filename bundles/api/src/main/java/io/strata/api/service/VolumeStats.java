package io.strata.api.service;

import static java.util.Objects.requireNonNull;

import java.time.Instant;

/**
 * A volume's I/O statistics, across every handle and export of it on this host.
 *
 * @param volume the volume
 * @param since when the statistics were last reset (or first collected)
 * @param window seconds over which the rates are averaged
 * @param read reads
 * @param write writes
 * @param flushes flushes completed
 * @param queueDepth requests in progress now
 * @param avgQueueDepth requests in progress on average over the window (Little's law)
 * @param throttledMillis time requests spent waiting for QoS tokens since {@code since}
 * @param qos the limits in force
 * @since 1.2
 */
public record VolumeStats(VolumeRef volume, Instant since, int window, IoStats read, IoStats write, long flushes,
        int queueDepth, double avgQueueDepth, long throttledMillis, QosLimits qos) {
    /** Checks the components. */
    public VolumeStats {
        requireNonNull(volume, "volume");
        requireNonNull(since, "since");
        requireNonNull(read, "read");
        requireNonNull(write, "write");
        requireNonNull(qos, "qos");
    }
}

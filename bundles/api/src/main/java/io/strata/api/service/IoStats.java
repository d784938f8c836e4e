package io.strata.api.service;

/**
 * One direction (reads or writes) of a volume's I/O since its statistics were last reset.
 *
 * @param ops requests completed (trim and write-zeroes count as writes)
 * @param bytes bytes moved by them
 * @param iops requests per second over the last {@code window} seconds
 * @param bytesPerSecond bytes per second over the same window
 * @param p50Micros median latency, microseconds (from an HdrHistogram, 3 significant digits)
 * @param p99Micros 99th percentile latency, microseconds
 * @param p999Micros 99.9th percentile latency, microseconds
 * @param maxMicros the slowest request, microseconds
 * @since 1.2
 */
public record IoStats(long ops, long bytes, double iops, double bytesPerSecond, double p50Micros, double p99Micros,
        double p999Micros, double maxMicros) {
}

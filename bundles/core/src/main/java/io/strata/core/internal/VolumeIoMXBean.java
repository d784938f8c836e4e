package io.strata.core.internal;

/**
 * A volume's I/O statistics over JMX, as
 * {@code io.strata:type=Volume,datastore=<datastore>,volume=<volume>}; rates are averaged
 * over the last 10 seconds, latencies are in microseconds since the last reset.
 */
public interface VolumeIoMXBean {
    long getReadOps();

    long getWriteOps();

    long getReadBytes();

    long getWriteBytes();

    double getReadIops();

    double getWriteIops();

    double getReadBytesPerSecond();

    double getWriteBytesPerSecond();

    double getReadLatencyP50Micros();

    double getReadLatencyP99Micros();

    double getWriteLatencyP50Micros();

    double getWriteLatencyP99Micros();

    int getQueueDepth();

    double getAverageQueueDepth();

    long getFlushes();

    long getThrottledMillis();

    /** Starts the statistics afresh. */
    void reset();
}

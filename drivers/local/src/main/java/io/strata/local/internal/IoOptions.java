package io.strata.local.internal;

/**
 * How a block device does I/O.
 *
 * @param direct uncached I/O (O_DIRECT) rather than through the host's page cache
 * @param timeoutMillis the time limit of one I/O in milliseconds, 0 for none
 */
record IoOptions(boolean direct, long timeoutMillis) {
    /** Buffered, no time limit: what the driver did before 1.1 of the device API. */
    static final IoOptions DEFAULT = new IoOptions(false, 0);
}

package io.strata.multipath;

/** The path selection policies, by their parameter value. */
enum Policy {
    /** Rotates over the usable paths. */
    ROUND_ROBIN("round-robin", false),
    /** The usable path with the fewest I/Os in flight. */
    QUEUE_LENGTH("queue-length", false),
    /** The usable path with the smallest (in-flight + 1) x recent average service time. */
    SERVICE_TIME("service-time", false),
    /** Failover only: the most recently used path while it works. */
    MRU("mru", true),
    /** Failover only: the preferred path whenever it is up. */
    FIXED("fixed", true);

    private final String value;
    private final boolean failover;

    Policy(String value, boolean failover) {
        this.value = value;
        this.failover = failover;
    }

    /** @return the parameter value naming it */
    String value() {
        return value;
    }

    /** @return true when it sends all I/O of a device to one path at a time */
    boolean failover() {
        return failover;
    }

    /** @return the policy the value names, or null */
    static Policy of(String value) {
        for (Policy p : values()) {
            if (p.value.equals(value)) {
                return p;
            }
        }
        return null;
    }
}

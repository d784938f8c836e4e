package io.strata.api.service;

/** Whether a resource or datastore can be used now. */
public enum Availability {
    /** Attached or mounted and usable. */
    ONLINE,
    /** Its driver or filesystem is missing, or the device failed. Configuration and data are kept; I/O fails with DEVICE_UNAVAILABLE. */
    UNAVAILABLE
}

package io.strata.api.service;

/** The life cycle of a long-running task. */
public enum TaskState {
    /** Accepted, not started. */
    QUEUED,
    /** Running; progress is reported. */
    RUNNING,
    /** Finished successfully. */
    SUCCEEDED,
    /** Failed; the message says why; what it did is rolled back or safely completed. */
    FAILED,
    /** Cancelled by a user; what it did is rolled back or safely completed. */
    CANCELLED
}

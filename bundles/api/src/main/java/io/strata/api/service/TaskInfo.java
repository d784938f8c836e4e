package io.strata.api.service;

import static java.util.Objects.requireNonNull;

import java.time.Instant;

/**
 * A long-running operation (snapshot merge, full clone, reclaim).
 *
 * @param id a stable id, unique on the host
 * @param kind what it does, e.g. {@code snapshot-delete}
 * @param target what it works on, e.g. {@code local/vm1@s1}
 * @param state where it is
 * @param progress done fraction, 0.0 to 1.0
 * @param message the error code and message for FAILED, a result line for SUCCEEDED, else empty
 * @param started when it started
 * @param finished when it finished, or null while it runs
 */
public record TaskInfo(String id, String kind, String target, TaskState state, double progress, String message,
        Instant started, Instant finished) {
    /** Checks the components. */
    public TaskInfo {
        requireNonNull(id, "id");
        requireNonNull(kind, "kind");
        requireNonNull(target, "target");
        requireNonNull(state, "state");
        requireNonNull(message, "message");
        requireNonNull(started, "started");
    }

    /** @return whether the task has ended (succeeded, failed or cancelled) */
    public boolean done() {
        return state == TaskState.SUCCEEDED || state == TaskState.FAILED || state == TaskState.CANCELLED;
    }
}

package io.strata.rest.internal;

import io.strata.api.service.TaskInfo;
import io.strata.api.service.TaskState;
import java.time.Instant;

/**
 * A task as the API shows it: the core's {@link TaskInfo} plus, for tasks the API started,
 * the structured result (the new volume of a clone or import, a check's reports, the bytes
 * a reclaim freed) once it has SUCCEEDED, and the error as {@code {code, message}} once it
 * has FAILED.
 */
public record TaskView(String id, String kind, String target, TaskState state, double progress, String message,
        Instant started, Instant finished, Object result, ApiError error) {

    static TaskView of(TaskInfo t, Object result) {
        ApiError error = null;
        if (t.state() == TaskState.FAILED || t.state() == TaskState.CANCELLED) {
            String m = t.message() == null ? "" : t.message();
            int colon = m.indexOf(": ");
            String code = colon > 0 && m.substring(0, colon).matches("[A-Z_]+") ? m.substring(0, colon) : "INTERNAL";
            error = new ApiError(code, colon > 0 ? m.substring(colon + 2) : m, null);
        }
        return new TaskView(t.id(), t.kind(), t.target(), t.state(), t.progress(), t.message(), t.started(),
                t.finished(), t.state() == TaskState.SUCCEEDED ? result : null, error);
    }
}

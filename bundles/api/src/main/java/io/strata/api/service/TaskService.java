package io.strata.api.service;

import io.strata.api.StorageException;
import java.time.Duration;
import java.util.List;
import org.osgi.annotation.versioning.ProviderType;

/** Long-running operations: their progress, waiting for them, cancelling them. */
@ProviderType
public interface TaskService {
    /** @return running tasks and recently finished ones, newest first */
    List<TaskInfo> list();

    /**
     * @throws StorageException {@code INVALID_ARGUMENT} for an unknown id
     */
    TaskInfo get(String id);

    /**
     * Waits until the task ends or the timeout passes.
     *
     * @return the task as it is when the wait ends
     */
    TaskInfo await(String id, Duration timeout);

    /**
     * Asks a task to stop at the next safe point; it then rolls back or completes what
     * cannot be undone, and ends CANCELLED.
     *
     * @throws StorageException {@code INVALID_ARGUMENT} for an unknown id
     */
    TaskInfo cancel(String id);

    /**
     * Runs {@code work} as a task of this service, so it is listed, awaited and cancelled
     * like the service's own tasks. For callers (the REST API) whose operations take long.
     *
     * @param kind what the task does, such as {@code volume-clone}
     * @param target what it works on, such as {@code ds/vol}
     * @return the task, QUEUED or already RUNNING
     * @throws StorageException {@code UNSUPPORTED} when this service runs only its own tasks
     */
    default TaskInfo submit(String kind, String target, TaskWork work) {
        throw new StorageException(io.strata.api.ErrorCode.UNSUPPORTED, "this task service runs only its own tasks");
    }
}

package io.strata.api.service;

import org.osgi.annotation.versioning.ConsumerType;

/** The work of a task given to {@link TaskService#submit}. */
@ConsumerType
@FunctionalInterface
public interface TaskWork {
    /**
     * Does the work, reporting progress and stopping at safe points when asked to.
     *
     * @return the result line the task keeps as its message
     * @throws io.strata.api.StorageException the task ends FAILED with its code, or CANCELLED
     *         for {@code CANCELLED}
     */
    String run(TaskControl control);
}

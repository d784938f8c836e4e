package io.strata.rest.internal;

import io.strata.api.service.TaskInfo;
import io.strata.api.service.TaskService;
import java.net.URI;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;
import javax.ws.rs.core.Response;

/**
 * Starts the API's long operations as tasks of the core's {@link TaskService}, so the shell's
 * {@code task-list} shows them too, and keeps each one's structured result for
 * {@link TaskView} (the last {@value #KEEP}).
 */
final class TaskResults {
    static final int KEEP = 1000;
    private final TaskService tasks;
    private final Map<String, AtomicReference<Object>> results = new LinkedHashMap<>(16, 0.75f, false) {
        private static final long serialVersionUID = 1L;

        @Override
        protected boolean removeEldestEntry(Map.Entry<String, AtomicReference<Object>> eldest) {
            return size() > KEEP;
        }
    };

    TaskResults(TaskService tasks) {
        this.tasks = tasks;
    }

    /**
     * Starts {@code work}; its return value is the task's result, {@code summary} its message.
     *
     * @return 202 with the task and its Location
     */
    <T> Response start(String kind, String target, Function<io.strata.api.service.TaskControl, T> work,
            Function<T, String> summary) {
        // The work fills the slot before its task ends, so a SUCCEEDED task always has it.
        AtomicReference<Object> slot = new AtomicReference<>();
        TaskInfo t = tasks.submit(kind, target, control -> {
            T value = work.apply(control);
            slot.set(value);
            return summary.apply(value);
        });
        synchronized (results) {
            results.put(t.id(), slot);
        }
        return Response.accepted(TaskView.of(t, null)).location(URI.create("tasks/" + t.id())).build();
    }

    TaskView view(TaskInfo t) {
        AtomicReference<Object> slot;
        synchronized (results) {
            slot = results.get(t.id());
        }
        return TaskView.of(t, slot == null ? null : slot.get());
    }
}

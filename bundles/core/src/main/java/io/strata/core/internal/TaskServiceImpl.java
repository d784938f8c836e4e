package io.strata.core.internal;

import static java.util.Objects.requireNonNull;

import io.strata.api.service.TaskInfo;
import io.strata.api.service.TaskControl;
import io.strata.api.service.TaskService;
import io.strata.api.service.TaskWork;
import java.time.Duration;
import java.util.List;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;

/** {@link TaskService}, a facade over the core's {@link TaskManager}. */
@Component(service = TaskService.class)
public final class TaskServiceImpl implements TaskService {
    private final StrataCore core;

    @Activate
    public TaskServiceImpl(@Reference StrataCore core) {
        this.core = requireNonNull(core, "core");
    }

    @Override
    public List<TaskInfo> list() {
        return core.tasks().list();
    }

    @Override
    public TaskInfo get(String id) {
        return core.tasks().task(id).info();
    }

    @Override
    public TaskInfo await(String id, Duration timeout) {
        return core.tasks().await(id, timeout);
    }

    @Override
    public TaskInfo cancel(String id) {
        return core.tasks().cancel(id);
    }

    @Override
    public TaskInfo submit(String kind, String target, TaskWork work) {
        requireNonNull(work, "work");
        return core.tasks().submit(requireNonNull(kind, "kind"), requireNonNull(target, "target"), task ->
                work.run(new TaskControl() {
                    @Override
                    public void progress(double fraction) {
                        task.progress(fraction);
                    }

                    @Override
                    public boolean cancelRequested() {
                        return task.cancelRequested();
                    }

                    @Override
                    public void checkCancel() {
                        task.checkCancel();
                    }
                })).info();
    }
}

package io.strata.shell.internal;

import io.strata.api.service.TaskInfo;
import io.strata.api.service.TaskService;
import io.strata.shell.internal.completers.TaskIdCompleter;
import org.apache.karaf.shell.api.action.Argument;
import org.apache.karaf.shell.api.action.Command;
import org.apache.karaf.shell.api.action.Completion;
import org.apache.karaf.shell.api.action.lifecycle.Reference;
import org.apache.karaf.shell.api.action.lifecycle.Service;

/** Asks a task to stop at its next safe point. */
@Command(scope = "storage", name = "task-cancel",
        description = "Asks a running task to stop at its next safe point (it then rolls back or completes safely)")
@Service
public class TaskCancelCommand extends StorageCommand {

    @Reference
    TaskService tasks;

    @Argument(index = 0, name = "id", description = "The task id (see storage:task-list)", required = true)
    @Completion(TaskIdCompleter.class)
    String id;

    @Override
    String run() {
        TaskInfo t = tasks.cancel(id);
        String what = "Task " + t.id() + " (" + t.kind() + " " + t.target() + ")";
        if (t.done()) {
            // Either the cancel took effect at once or the task had already ended.
            return what + " is " + t.state() + "\n";
        }
        return what + ": cancel requested, it stops at the next safe point (now " + t.state() + ", "
                + Text.percent(t.progress()) + "%)\n";
    }
}

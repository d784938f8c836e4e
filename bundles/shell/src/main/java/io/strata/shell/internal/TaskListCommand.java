package io.strata.shell.internal;

import io.strata.api.service.TaskInfo;
import io.strata.api.service.TaskService;
import org.apache.karaf.shell.api.action.Command;
import org.apache.karaf.shell.api.action.lifecycle.Reference;
import org.apache.karaf.shell.api.action.lifecycle.Service;

/** Lists running and recently finished tasks, newest first. */
@Command(scope = "storage", name = "task-list",
        description = "Lists running and recently finished tasks (snapshot merges, clones), newest first")
@Service
public class TaskListCommand extends ListCommand {

    @Reference
    TaskService tasks;

    @Override
    String run() {
        Table table = new Table();
        table.column("Id");
        table.column("Kind");
        table.column("Target");
        table.column("State");
        table.number("Progress %");
        table.column("Started");
        table.column("Message");
        for (TaskInfo t : tasks.list()) {
            table.row(t.id(), t.kind(), t.target(), t.state(), Text.percent(t.progress()), Text.time(t.started()),
                    t.message());
        }
        return table.render(!noFormat);
    }
}

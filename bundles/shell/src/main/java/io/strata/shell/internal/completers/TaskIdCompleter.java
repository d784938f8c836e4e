package io.strata.shell.internal.completers;

import io.strata.api.service.TaskInfo;
import io.strata.api.service.TaskService;
import java.util.Collection;
import java.util.stream.Collectors;
import org.apache.karaf.shell.api.action.lifecycle.Reference;
import org.apache.karaf.shell.api.action.lifecycle.Service;

/** Completes the ids of tasks that have not ended (the ones worth cancelling). */
@Service
public class TaskIdCompleter extends ListCompleter {

    @Reference
    TaskService tasks;

    @Override
    Collection<String> values() {
        return tasks.list().stream().filter(t -> !t.done()).map(TaskInfo::id).collect(Collectors.toList());
    }
}

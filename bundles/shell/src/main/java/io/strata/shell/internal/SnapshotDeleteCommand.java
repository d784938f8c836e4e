package io.strata.shell.internal;

import io.strata.api.ErrorCode;
import io.strata.api.Names;
import io.strata.api.StorageException;
import io.strata.api.service.SnapshotService;
import io.strata.api.service.TaskInfo;
import io.strata.api.service.TaskService;
import io.strata.api.service.TaskState;
import io.strata.api.service.VolumeRef;
import io.strata.shell.internal.completers.SnapshotNameCompleter;
import io.strata.shell.internal.completers.VolumeRefCompleter;
import java.time.Duration;
import org.apache.karaf.shell.api.action.Argument;
import org.apache.karaf.shell.api.action.Command;
import org.apache.karaf.shell.api.action.Completion;
import org.apache.karaf.shell.api.action.Option;
import org.apache.karaf.shell.api.action.lifecycle.Reference;
import org.apache.karaf.shell.api.action.lifecycle.Service;

/**
 * Deletes a snapshot: starts the merge task and, unless told not to, waits for
 * it and reports how it ended.
 */
@Command(scope = "storage", name = "snapshot-delete",
        description = "Deletes any snapshot of a volume, merging its data into a neighbour (a task; waits unless --no-wait)")
@Service
public class SnapshotDeleteCommand extends StorageCommand {

    /** How long one wait lasts before the loop checks for an interrupt (Ctrl-C) again. */
    static final Duration POLL = Duration.ofSeconds(2);

    @Reference
    SnapshotService snapshots;

    @Reference
    TaskService tasks;

    @Option(name = "--wait", description = "Wait until the merge ends and report the result (the default)")
    boolean waitForEnd;

    @Option(name = "--no-wait", description = "Print the task id at once and let the merge run (see storage:task-list)")
    boolean noWait;

    @Argument(index = 0, name = "volume", description = "The volume as <datastore>/<volume>", required = true)
    @Completion(VolumeRefCompleter.class)
    String volume;

    @Argument(index = 1, name = "snapshot", description = "The snapshot to delete", required = true)
    @Completion(SnapshotNameCompleter.class)
    String snapshot;

    @Override
    String run() {
        if (waitForEnd && noWait) {
            throw new StorageException(ErrorCode.INVALID_ARGUMENT, "--wait and --no-wait exclude each other");
        }
        VolumeRef ref = VolumeRef.parse(volume);
        Names.check("snapshot", snapshot);
        TaskInfo task = snapshots.delete(ref, snapshot);
        if (noWait) {
            // Only the id, so that a script can capture it and poll storage:task-list.
            return task.id() + "\n";
        }
        while (!task.done()) {
            if (Thread.currentThread().isInterrupted()) {
                return "Stopped waiting; task " + task.id() + " (" + task.state() + ", "
                        + Text.percent(task.progress()) + "%) continues, see storage:task-list\n";
            }
            task = tasks.await(task.id(), POLL);
        }
        if (task.state() == TaskState.SUCCEEDED) {
            return "Snapshot " + snapshot + " of " + ref + " deleted\n";
        }
        if (task.state() == TaskState.CANCELLED) {
            throw new StorageException(ErrorCode.CANCELLED, "deleting snapshot " + snapshot + " of " + ref
                    + " was cancelled (task " + task.id() + ")");
        }
        throw failure(task);
    }

    /**
     * @return the failed task's error: its message is {@code CODE: message}, so the
     *         user sees the same line as if the command had failed by itself
     */
    static StorageException failure(TaskInfo task) {
        String m = task.message();
        int colon = m.indexOf(": ");
        if (colon > 0) {
            try {
                return new StorageException(ErrorCode.valueOf(m.substring(0, colon)), m.substring(colon + 2));
            } catch (IllegalArgumentException notACode) {
                // fall through: report the text as it is
            }
        }
        return new StorageException(ErrorCode.INTERNAL, "task " + task.id() + " (" + task.kind() + " "
                + task.target() + ") failed" + (m.isEmpty() ? "" : ": " + m));
    }
}

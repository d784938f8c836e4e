package io.strata.shell.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.strata.api.service.TaskState;
import org.junit.jupiter.api.Test;

class TaskCommandsTest {
    private final Fakes fakes = new Fakes();

    private TaskListCommand list() {
        TaskListCommand c = new TaskListCommand();
        c.tasks = fakes.tasks;
        return c;
    }

    private TaskCancelCommand cancel(String id) {
        TaskCancelCommand c = new TaskCancelCommand();
        c.tasks = fakes.tasks;
        c.id = id;
        return c;
    }

    @Test
    void anEmptyListIsTheHeaderOnly() {
        assertEquals(""
                + "Id | Kind | Target | State | Progress % | Started | Message\n"
                + "---+------+--------+-------+------------+---------+--------\n",
                list().run());
    }

    @Test
    void listShowsRunningAndFinishedTasksNewestFirst() {
        var done = fakes.tasks.start("snapshot-delete", "local/vm1@s1");
        fakes.tasks.then(done, 1.0, TaskState.SUCCEEDED, "merged 65536 bytes");
        fakes.tasks.await(done.id(), java.time.Duration.ZERO);
        var running = fakes.tasks.start("volume-clone", "local/vm2");
        fakes.tasks.then(running, 0.4269, TaskState.RUNNING, "");
        fakes.tasks.await(running.id(), java.time.Duration.ZERO);
        assertEquals(""
                + "Id | Kind            | Target       | State     | Progress % | Started              | Message\n"
                + "---+-----------------+--------------+-----------+------------+----------------------+-------------------\n"
                + "t2 | volume-clone    | local/vm2    | RUNNING   |         42 | 2026-11-21T10:00:00Z |\n"
                + "t1 | snapshot-delete | local/vm1@s1 | SUCCEEDED |        100 | 2026-11-21T10:00:00Z | merged 65536 bytes\n",
                list().run());
        TaskListCommand c = list();
        c.noFormat = true;
        assertEquals(""
                + "t2\tvolume-clone\tlocal/vm2\tRUNNING\t42\t2026-11-21T10:00:00Z\t\n"
                + "t1\tsnapshot-delete\tlocal/vm1@s1\tSUCCEEDED\t100\t2026-11-21T10:00:00Z\tmerged 65536 bytes\n",
                c.run());
    }

    @Test
    void cancelAsksARunningTaskAndReportsAnEndedOne() {
        var t = fakes.tasks.start("snapshot-delete", "local/vm1@s1");
        assertEquals("Task t1 (snapshot-delete local/vm1@s1): cancel requested, it stops at the next safe point "
                + "(now RUNNING, 0%)\n", cancel("t1").run());
        fakes.tasks.await(t.id(), java.time.Duration.ZERO);
        assertEquals("Task t1 (snapshot-delete local/vm1@s1) is CANCELLED\n", cancel("t1").run());
    }

    @Test
    void cancelOfAnUnknownTask() {
        assertEquals("Error executing command: TASK_NOT_FOUND: no task 't9'\n",
                Shell.errorOutput(cancel("t9")));
    }
}

package io.strata.shell.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import io.strata.api.format.Provisioning;
import io.strata.api.service.TaskState;
import io.strata.api.service.VolumeInfo;
import io.strata.api.service.VolumeState;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

class SnapshotCommandsTest {
    private final Fakes fakes = new Fakes();

    private SnapshotCreateCommand create(String volume, String name) {
        SnapshotCreateCommand c = new SnapshotCreateCommand();
        c.snapshots = fakes.snapshots;
        c.volume = volume;
        c.name = name;
        return c;
    }

    private SnapshotListCommand list(String volume) {
        SnapshotListCommand c = new SnapshotListCommand();
        c.snapshots = fakes.snapshots;
        c.volumes = fakes.volumes;
        c.volume = volume;
        return c;
    }

    private SnapshotRevertCommand revert(String volume, String snapshot) {
        SnapshotRevertCommand c = new SnapshotRevertCommand();
        c.snapshots = fakes.snapshots;
        c.volume = volume;
        c.snapshot = snapshot;
        return c;
    }

    private SnapshotDeleteCommand delete(String volume, String snapshot) {
        SnapshotDeleteCommand c = new SnapshotDeleteCommand();
        c.snapshots = fakes.snapshots;
        c.tasks = fakes.tasks;
        c.volume = volume;
        c.snapshot = snapshot;
        return c;
    }

    /** vm1, closed, so that it can be reverted. */
    private void closeVm1() {
        fakes.volumes.put(new VolumeInfo("local", "vm1", "vhd", Provisioning.THIN, 10737418240L, 2097152L,
                "vm1.vhd", "/var/lib/strata/local/vm1.vhd", VolumeState.READY, Fakes.CREATED));
    }

    @Test
    void createPrintsTheSnapshotAndChainsTheNextOneOnIt() {
        assertEquals(""
                + "name: s1\n"
                + "volume: local/vm1\n"
                + "parent: \n"
                + "created: 2026-11-21T10:01:00Z\n"
                + "allocated: 2097152\n"
                + "file: vm1.s1.vhd\n",
                create("local/vm1", "s1").run());
        assertEquals(""
                + "name: s2\n"
                + "volume: local/vm1\n"
                + "parent: s1\n"
                + "created: 2026-11-21T10:02:00Z\n"
                + "allocated: 4096\n"
                + "file: vm1.s2.vhd\n",
                create("local/vm1", "s2").run());
    }

    @Test
    void createErrors() {
        assertEquals("Error executing command: INVALID_NAME: snapshot name 'a/b' must not contain a path separator\n",
                Shell.errorOutput(create("local/vm1", "a/b")));
        assertEquals("Error executing command: INVALID_NAME: snapshot name '..' must not contain '..'\n",
                Shell.errorOutput(create("local/vm1", "..")));
        assertEquals("Error executing command: INVALID_NAME: volume name '..' must not contain '..'\n",
                Shell.errorOutput(create("local/..", "s1")));
        assertEquals("Error executing command: VOLUME_NOT_FOUND: volume local/ghost does not exist\n",
                Shell.errorOutput(create("local/ghost", "s1")));
        assertEquals("Error executing command: UNSUPPORTED: volume local/vm2 is raw, which has no snapshots\n",
                Shell.errorOutput(create("local/vm2", "s1")));
        create("local/vm1", "s1").run();
        assertEquals("Error executing command: ALREADY_EXISTS: snapshot s1 of volume local/vm1 already exists\n",
                Shell.errorOutput(create("local/vm1", "s1")));
    }

    @Test
    void theChainStopsAtItsLimit() {
        // 31 snapshots plus the current image make 32 images, the limit.
        for (int i = 1; i <= 31; i++) {
            create("local/vm1", "s" + i).run();
        }
        assertEquals("Error executing command: CHAIN_TOO_LONG: volume local/vm1 would have a chain of 33 images; "
                + "the limit is 32\n", Shell.errorOutput(create("local/vm1", "s32")));
        assertEquals(31, fakes.snapshots.list(new io.strata.api.service.VolumeRef("local", "vm1")).size());
    }

    @Test
    void listWithoutSnapshotsShowsOnlyTheCurrentState() {
        assertEquals(""
                + "Snapshot  | Created | Allocated | File\n"
                + "----------+---------+-----------+--------\n"
                + "(current) | -       |      2.0M | vm1.vhd\n",
                list("local/vm1").run());
    }

    @Test
    void listDrawsTheTreeWithTheCurrentStateUnderItsParent() {
        closeVm1();
        create("local/vm1", "base").run();
        create("local/vm1", "s1").run();
        create("local/vm1", "s2").run();
        revert("local/vm1", "s1").run();
        assertEquals(""
                + "Snapshot        | Created              | Allocated | File\n"
                + "----------------+----------------------+-----------+-------------\n"
                + "base            | 2026-11-21T10:01:00Z |      2.0M | vm1.base.vhd\n"
                + "`- s1           | 2026-11-21T10:02:00Z |      4.0K | vm1.s1.vhd\n"
                + "   |- s2        | 2026-11-21T10:03:00Z |      4.0K | vm1.s2.vhd\n"
                + "   `- (current) | -                    |      4.0K | vm1.vhd\n",
                list("local/vm1").run());
        create("local/vm1", "s3").run();
        assertEquals(""
                + "Snapshot           | Created              | Allocated | File\n"
                + "-------------------+----------------------+-----------+-------------\n"
                + "base               | 2026-11-21T10:01:00Z |      2.0M | vm1.base.vhd\n"
                + "`- s1              | 2026-11-21T10:02:00Z |      4.0K | vm1.s1.vhd\n"
                + "   |- s2           | 2026-11-21T10:03:00Z |      4.0K | vm1.s2.vhd\n"
                + "   `- s3           | 2026-11-21T10:04:00Z |      4.0K | vm1.s3.vhd\n"
                + "      `- (current) | -                    |      4.0K | vm1.vhd\n",
                list("local/vm1").run());
    }

    @Test
    void listForScriptsGivesNameAndParentInsteadOfBranches() {
        closeVm1();
        create("local/vm1", "base").run();
        create("local/vm1", "s1").run();
        revert("local/vm1", "base").run();
        SnapshotListCommand c = list("local/vm1");
        c.noFormat = true;
        c.bytes = true;
        assertEquals(""
                + "base\t\t2026-11-21T10:01:00Z\t2097152\tvm1.base.vhd\n"
                + "s1\tbase\t2026-11-21T10:02:00Z\t4096\tvm1.s1.vhd\n"
                + "(current)\tbase\t-\t4096\tvm1.vhd\n",
                c.run());
    }

    @Test
    void listErrors() {
        assertEquals("Error executing command: VOLUME_NOT_FOUND: volume local/ghost does not exist\n",
                Shell.errorOutput(list("local/ghost")));
        assertEquals("Error executing command: INVALID_NAME: 'vm1' is not of the form <datastore>/<volume>\n",
                Shell.errorOutput(list("vm1")));
    }

    @Test
    void revertConfirmsAndItsErrors() {
        create("local/vm1", "s1").run();
        assertEquals("Error executing command: VOLUME_IN_USE: volume local/vm1 is open (1 writer)\n",
                Shell.errorOutput(revert("local/vm1", "s1")));
        closeVm1();
        assertEquals("Volume local/vm1 reverted to snapshot s1\n", revert("local/vm1", "s1").run());
        assertEquals("Error executing command: SNAPSHOT_NOT_FOUND: volume local/vm1 has no snapshot s9\n",
                Shell.errorOutput(revert("local/vm1", "s9")));
        assertEquals("Error executing command: INVALID_NAME: snapshot name '../s1' must not contain a path separator\n",
                Shell.errorOutput(revert("local/vm1", "../s1")));
    }

    @Test
    void deleteWaitsForTheMergeAndConfirms() {
        create("local/vm1", "s1").run();
        create("local/vm1", "s2").run();
        assertEquals("Snapshot s1 of local/vm1 deleted\n", delete("local/vm1", "s1").run());
        // Two waits: one reports 50 %, the next the end.
        assertEquals(List.of(Duration.ofSeconds(2), Duration.ofSeconds(2)), fakes.tasks.awaited);
        SnapshotListCommand l = list("local/vm1");
        l.noFormat = true;
        assertEquals(""
                + "s2\t\t2026-11-21T10:02:00Z\t4.0K\tvm1.s2.vhd\n"
                + "(current)\ts2\t-\t4.0K\tvm1.vhd\n",
                l.run());
    }

    @Test
    void deleteWithoutWaitingPrintsOnlyTheTaskId() {
        create("local/vm1", "s1").run();
        SnapshotDeleteCommand c = delete("local/vm1", "s1");
        c.noWait = true;
        assertEquals("t1\n", c.run());
        assertEquals(List.of(), fakes.tasks.awaited);
        assertEquals(TaskState.RUNNING, fakes.tasks.get("t1").state());
    }

    @Test
    void aFailedMergeReportsTheTasksErrorAsItsOwn() {
        create("local/vm1", "s1").run();
        fakes.snapshots.deleteOutcome = TaskState.FAILED;
        fakes.snapshots.deleteMessage = "IO_ERROR: write to vm1.vhd failed: No space left on device";
        assertEquals("Error executing command: IO_ERROR: write to vm1.vhd failed: No space left on device\n",
                Shell.errorOutput(delete("local/vm1", "s1")));
        fakes.snapshots.deleteMessage = "merge stopped";
        assertEquals("Error executing command: INTERNAL: task t2 (snapshot-delete local/vm1@s1) failed: merge stopped\n",
                Shell.errorOutput(delete("local/vm1", "s1")));
    }

    @Test
    void aCancelledMergeFailsWithCancelled() {
        create("local/vm1", "s1").run();
        fakes.snapshots.deleteOutcome = TaskState.CANCELLED;
        fakes.snapshots.deleteMessage = "";
        assertEquals("Error executing command: CANCELLED: deleting snapshot s1 of local/vm1 was cancelled (task t1)\n",
                Shell.errorOutput(delete("local/vm1", "s1")));
    }

    @Test
    void anInterruptStopsTheWaitButNotTheTask() {
        create("local/vm1", "s1").run();
        Thread.currentThread().interrupt();
        try {
            assertEquals("Stopped waiting; task t1 (RUNNING, 0%) continues, see storage:task-list\n",
                    delete("local/vm1", "s1").run());
        } finally {
            Thread.interrupted();
        }
        assertFalse(fakes.tasks.get("t1").done());
    }

    @Test
    void deleteErrors() {
        create("local/vm1", "base").run();
        fakes.snapshots.clonesOf.put("local/vm1@base", List.of("local/web1", "local/web2"));
        assertEquals("Error executing command: VOLUME_IN_USE: snapshot base of local/vm1 is the base of linked clones "
                + "local/web1, local/web2\n", Shell.errorOutput(delete("local/vm1", "base")));
        assertEquals("Error executing command: SNAPSHOT_NOT_FOUND: volume local/vm1 has no snapshot s9\n",
                Shell.errorOutput(delete("local/vm1", "s9")));
        assertEquals("Error executing command: INVALID_NAME: snapshot name 'a/b' must not contain a path separator\n",
                Shell.errorOutput(delete("local/vm1", "a/b")));
        SnapshotDeleteCommand c = delete("local/vm1", "base");
        c.waitForEnd = true;
        c.noWait = true;
        assertEquals("Error executing command: INVALID_ARGUMENT: --wait and --no-wait exclude each other\n",
                Shell.errorOutput(c));
        assertEquals(List.of(), fakes.tasks.list());
    }
}

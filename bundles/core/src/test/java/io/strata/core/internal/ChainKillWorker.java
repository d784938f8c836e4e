package io.strata.core.internal;

import io.strata.api.service.TaskInfo;
import io.strata.api.service.VolumeRef;
import java.nio.file.Path;
import java.time.Duration;

/**
 * The child JVM of {@link ChainKillTest}: mounts the datastore the test prepared, starts
 * the delete of one snapshot, prints {@code STARTED} once the intent is in the catalog
 * and {@code DONE} when the merge finished. The test kills it with SIGKILL in between.
 * Usage: ChainKillWorker &lt;tmp dir&gt; &lt;volume&gt; &lt;snapshot&gt;
 */
public final class ChainKillWorker {
    private ChainKillWorker() {
    }

    public static void main(String[] args) throws Exception {
        Path tmp = Path.of(args[0]);
        StrataCore core = ChainKillTest.core(tmp, new FileConfigStore(tmp.resolve("config.json")));
        SnapshotServiceImpl snaps = new SnapshotServiceImpl(core);
        TaskServiceImpl tasks = new TaskServiceImpl(core);
        TaskInfo t = snaps.delete(VolumeRef.parse(args[1]), args[2]);
        System.out.println("STARTED " + t.id());
        System.out.flush();
        TaskInfo end = tasks.await(t.id(), Duration.ofMinutes(2));
        System.out.println("DONE " + end.state() + (end.message().isEmpty() ? "" : " " + end.message()));
        System.out.flush();
        // Stay up until killed, as a container would.
        Thread.sleep(60_000);
    }
}

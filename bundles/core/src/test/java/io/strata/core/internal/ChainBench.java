package io.strata.core.internal;

import io.strata.api.format.Provisioning;
import io.strata.api.format.VirtualDisk;
import io.strata.api.service.TaskInfo;
import io.strata.api.service.TaskState;
import io.strata.api.service.VolumeRef;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Random;

/**
 * The chain benchmarks of bench/run.sh, through the core with the real local driver, dir
 * layer and formats on a directory (the {@code local} datastore of a fresh host):
 *
 * <ul>
 *   <li>{@code snapshot <format> <GiB>}: snapshot-create times on a thin volume of that size
 *       with some data: 15 snapshots while the volume is open (as under a running VM), then
 *       15 more while it is idle, when each snapshot opens the chain;</li>
 *   <li>{@code clone <format>}: linked-clone times, 25 clones of one snapshot;</li>
 *   <li>{@code merge-prepare <format> <MiB>}: writes that much data, snapshots it, writes a
 *       little on top and prints the snapshot's image path (run.sh times {@code cp} of it);</li>
 *   <li>{@code merge <format> <MiB>}: deletes that snapshot (the merge streams its data into
 *       the current image) and prints the bytes and seconds.</li>
 * </ul>
 *
 * Usage: ChainBench &lt;dir&gt; snapshot|clone|merge-prepare|merge &lt;format&gt; [size]
 */
public final class ChainBench {
    private ChainBench() {
    }

    public static void main(String[] a) throws Exception {
        Path dir = Path.of(a[0]);
        String mode = a[1];
        String format = a[2];
        Files.createDirectories(dir);
        StrataCore core = ChainKillTest.core(dir, new FileConfigStore(dir.resolve("config.json")));
        SnapshotServiceImpl snaps = new SnapshotServiceImpl(core);
        TaskServiceImpl tasks = new TaskServiceImpl(core);
        try {
            switch (mode) {
                case "snapshot" -> {
                    long gib = Long.parseLong(a[3]);
                    VolumeRef v = VolumeRef.parse("local/snap-" + format + "-" + gib + "g");
                    core.create(v, gib << 30, format, Provisioning.THIN);
                    fill(core, v, 64L << 20, 1);
                    // As under a running VM: the volume is open (its chain is in memory) while
                    // snapshots are taken, the 1st to the 15th image of its chain.
                    double[] open = new double[15];
                    try (VirtualDisk running = core.open(v, false)) {
                        for (int i = 0; i < open.length; i++) {
                            long t0 = System.nanoTime();
                            snaps.create(v, "s" + i);
                            open[i] = (System.nanoTime() - t0) / 1e6;
                        }
                    }
                    report("snapshot-create " + format + " " + gib + " GiB thin, in use", open);
                    // Idle: the chain (15 to 29 images deep) is opened for the snapshot.
                    double[] idle = new double[15];
                    for (int i = 0; i < idle.length; i++) {
                        long t0 = System.nanoTime();
                        snaps.create(v, "t" + i);
                        idle[i] = (System.nanoTime() - t0) / 1e6;
                    }
                    report("snapshot-create " + format + " " + gib + " GiB thin, idle", idle);
                    if (System.getenv("BENCH_VERBOSE") != null) {
                        System.out.println(Arrays.toString(open) + " " + Arrays.toString(idle));
                    }
                }
                case "clone" -> {
                    VolumeRef v = VolumeRef.parse("local/tmpl-" + format);
                    core.create(v, 10L << 30, format, Provisioning.THIN);
                    fill(core, v, 64L << 20, 2);
                    snaps.create(v, "golden");
                    double[] ms = new double[25];
                    for (int i = 0; i < ms.length; i++) {
                        long t0 = System.nanoTime();
                        core.clone(v, "golden", VolumeRef.parse("local/clone-" + format + "-" + i), true, null, null);
                        ms[i] = (System.nanoTime() - t0) / 1e6;
                    }
                    report("linked clone " + format + " of a 10 GiB template", ms);
                }
                case "merge-prepare" -> {
                    long bytes = Long.parseLong(a[3]) << 20;
                    VolumeRef v = VolumeRef.parse("local/merge-" + format);
                    core.create(v, bytes + (1L << 30), format, Provisioning.THIN);
                    fill(core, v, bytes, 3);
                    snaps.create(v, "base");
                    try (VirtualDisk d = core.open(v, false)) {
                        ByteBuffer b = ByteBuffer.allocate(1 << 20);
                        new Random(4).nextBytes(b.array());
                        d.write(b, 0);
                        d.flush();
                    }
                    System.out.println(dir.resolve("datastores/local").resolve(snaps.list(v).get(0).file()));
                }
                case "merge" -> {
                    long bytes = Long.parseLong(a[3]) << 20;
                    VolumeRef v = VolumeRef.parse("local/merge-" + format);
                    long t0 = System.nanoTime();
                    TaskInfo t = snaps.delete(v, "base");
                    TaskInfo end = tasks.await(t.id(), Duration.ofMinutes(30));
                    double s = (System.nanoTime() - t0) / 1e9;
                    if (end.state() != TaskState.SUCCEEDED) {
                        throw new IllegalStateException("merge " + end.state() + ": " + end.message());
                    }
                    System.out.printf("snapshot-delete merge %s: %d MiB of data in %.3f s, %.1f MiB/s%n", format,
                            bytes >> 20, s, bytes / s / (1 << 20));
                }
                default -> throw new IllegalArgumentException("mode " + mode);
            }
        } finally {
            core.close();
        }
    }

    /** Writes {@code bytes} of random, incompressible data from offset 0, 1 MiB at a time, and flushes. */
    static void fill(StrataCore core, VolumeRef v, long bytes, int seed) {
        try (VirtualDisk d = core.open(v, false)) {
            ByteBuffer b = ByteBuffer.allocate(1 << 20);
            Random r = new Random(seed);
            for (long off = 0; off < bytes; off += b.capacity()) {
                r.nextBytes(b.array());
                b.clear();
                d.write(b, off);
            }
            d.flush();
        }
    }

    static void report(String what, double[] ms) {
        double[] s = ms.clone();
        Arrays.sort(s);
        System.out.printf("%-52s median %7.2f ms, p90 %7.2f ms, max %7.2f ms (%d runs)%n", what, s[s.length / 2],
                s[(int) (s.length * 0.9)], s[s.length - 1], s.length);
    }
}

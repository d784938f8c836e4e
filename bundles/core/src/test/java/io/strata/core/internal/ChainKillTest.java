package io.strata.core.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.api.format.CheckReport;
import io.strata.api.format.Provisioning;
import io.strata.api.format.VirtualDisk;
import io.strata.api.service.SnapshotInfo;
import io.strata.api.service.VolumeRef;
import io.strata.fs.dir.internal.DirFilesystem;
import io.strata.local.internal.LocalDriver;
import io.strata.qcow2.internal.Qcow2Format;
import io.strata.vhd.internal.VhdFormat;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A snapshot delete killed with SIGKILL at a random moment of its merge, many times:
 * a child JVM ({@link ChainKillWorker}) runs the core over a real dir datastore and
 * deletes a snapshot (the root, a middle one, the current image's parent, in turn);
 * the test kills it, mounts the datastore again in this JVM and checks that the
 * interrupted delete was completed or rolled back, that the volume and every
 * remaining snapshot read exactly as before, that the checker finds no error and
 * that no image file is left that the catalog does not name.
 */
class ChainKillTest {
    static final long SIZE = 48L << 20;
    static final int ROUNDS = 9;

    @TempDir
    Path tmp;

    static StrataCore core(Path tmp, ConfigStore store) {
        StrataCore core = new StrataCore(store, new CoreSettings(true, "local", tmp.resolve("datastores/local"),
                tmp.resolve("strata")));
        core.addFormat(new VhdFormat(), "vhd", "io.strata.format-vhd");
        core.addFormat(new Qcow2Format(), "qcow2", "io.strata.format-qcow2");
        core.addDriver(new LocalDriver(), "local", "io.strata.driver-local");
        core.addFilesystem(new DirFilesystem(), "dir", "io.strata.fs-dir");
        return core;
    }

    /** Starts the core and waits for the merges the kill interrupted, which resume as tasks after the mount. */
    private StrataCore open() {
        StrataCore core = core(tmp, new FileConfigStore(tmp.resolve("config.json")));
        for (io.strata.api.service.TaskInfo t : core.tasks().list()) {
            assertTrue(t.target().endsWith("(resumed)"), "only resumed work runs after a restart: " + t);
            var end = core.tasks().await(t.id(), java.time.Duration.ofMinutes(2));
            assertEquals(io.strata.api.service.TaskState.SUCCEEDED, end.state(), end.message());
            resumed++;
        }
        return core;
    }

    /** Interrupted snapshot deletes that resumed as tasks after a restart. */
    private int resumed;

    /** s0, s1, s2 over overlapping writes, then more writes; returns what each reads. */
    private Map<String, byte[]> prepare(StrataCore core, VolumeRef v, String format, int seed) {
        SnapshotServiceImpl snaps = new SnapshotServiceImpl(core);
        core.create(v, SIZE, format, Provisioning.THIN);
        long[][] writes = {{1 << 20, 24 << 20}, {5L << 20, 12 << 20}, {(9L << 20) + 4096, 6 << 20},
                {(20L << 20) + 513, 70_000}};
        Map<String, byte[]> contents = new LinkedHashMap<>();
        for (int i = 0; i < writes.length; i++) {
            try (VirtualDisk d = core.open(v, false)) {
                ChainsTest.write(d, writes[i][0], (int) writes[i][1], seed * 10 + i);
                d.flush();
            }
            if (i < 3) {
                snaps.create(v, "s" + i);
                try (SharedDisk.Chain ch = core.mounted(v.datastore()).openSnapshot(v.volume(), "s" + i)) {
                    contents.put("s" + i, ChainsTest.readAll(ch.disk()));
                }
            }
        }
        try (VirtualDisk d = core.open(v, true)) {
            contents.put("", ChainsTest.readAll(d));
        }
        return contents;
    }

    @ParameterizedTest
    @ValueSource(strings = {"vhd", "qcow2"})
    void killedSnapshotDeletesCompleteOrRollBack(String format) throws Exception {
        Random rnd = new Random(format.hashCode());
        long[] mergeMillis = new long[3];
        int cutMidMerge = 0;
        int completed = 0;
        int rolledBack = 0;
        for (int round = 0; round < ROUNDS + 3; round++) {
            VolumeRef v = VolumeRef.parse("local/v" + round);
            String victim = "s" + (round % 3);
            Map<String, byte[]> contents;
            StrataCore core = open();
            try {
                contents = prepare(core, v, format, round);
            } finally {
                core.close();
            }
            // Rounds 0 to 2 are not killed: they measure how long each kind of merge takes.
            boolean calibrate = round < 3;
            Outcome o = runWorker(v, victim, calibrate ? -1 : rnd.nextInt((int) mergeMillis[round % 3]));
            if (calibrate) {
                assertTrue(o.done, "the unkilled merge finished");
                mergeMillis[round] = Math.max(5, o.mergeMillis);
            } else if (!o.done) {
                cutMidMerge++;
            }

            core = open();
            try {
                SnapshotServiceImpl snaps = new SnapshotServiceImpl(core);
                List<SnapshotInfo> list = snaps.list(v);
                boolean gone = list.stream().noneMatch(s -> s.name().equals(victim));
                if (gone) {
                    completed++;
                } else {
                    rolledBack++;
                    assertFalse(o.done, "round " + round + ": a merge reported done but its snapshot is still listed");
                }
                for (Map.Entry<String, byte[]> e : contents.entrySet()) {
                    if (gone && e.getKey().equals(victim)) {
                        continue;
                    }
                    byte[] now;
                    if (e.getKey().isEmpty()) {
                        try (VirtualDisk d = core.open(v, true)) {
                            now = ChainsTest.readAll(d);
                        }
                    } else {
                        try (SharedDisk.Chain ch = core.mounted(v.datastore()).openSnapshot(v.volume(), e.getKey())) {
                            now = ChainsTest.readAll(ch.disk());
                        }
                    }
                    assertArrayEquals(e.getValue(), now, "round " + round + " (" + victim + " killed after "
                            + o.killedAfter + " ms, " + (gone ? "completed" : "rolled back") + "): "
                            + (e.getKey().isEmpty() ? "the volume" : e.getKey()));
                }
                for (CheckReport r : core.check(v, false)) {
                    assertTrue(r.errors().isEmpty(), "round " + round + ": " + r);
                }
                assertEquals(namedImages(core), imagesOnDisk(), "round " + round + ": image files");
                if (!gone) {
                    // The delete can still be done after the rollback.
                    TaskServiceImpl tasks = new TaskServiceImpl(core);
                    var end = tasks.await(snaps.delete(v, victim).id(), java.time.Duration.ofMinutes(1));
                    assertEquals(io.strata.api.service.TaskState.SUCCEEDED, end.state(), end.message());
                }
            } finally {
                core.close();
            }
        }
        System.out.printf("ChainKillTest %s: merges of s0, s1, s2 take %s ms; %d kills, %d before the merge reported done; "
                + "%d completed after the restart (%d of them by a resumed task), %d rolled back%n", format,
                java.util.Arrays.toString(mergeMillis), ROUNDS, cutMidMerge, completed - 3, resumed, rolledBack);
        assertTrue(cutMidMerge >= ROUNDS / 3, "a third of the kills at least must land inside the merge: " + cutMidMerge);
    }

    private Set<String> namedImages(StrataCore core) {
        Set<String> names = new TreeSet<>();
        SnapshotServiceImpl snaps = new SnapshotServiceImpl(core);
        for (var vi : core.list("local")) {
            names.add(vi.file());
            for (SnapshotInfo s : snaps.list(vi.ref())) {
                names.add(s.file());
            }
        }
        return names;
    }

    private Set<String> imagesOnDisk() throws Exception {
        try (Stream<Path> s = Files.list(tmp.resolve("datastores/local"))) {
            return s.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".vhd") || n.endsWith(".qcow2"))
                    .collect(Collectors.toCollection(TreeSet::new));
        }
    }

    private record Outcome(boolean done, long mergeMillis, long killedAfter) {
    }

    /** Runs the worker; kills it {@code killAfter} ms after it started the delete (never when negative). */
    private Outcome runWorker(VolumeRef v, String victim, long killAfter) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder(java, "-Xmx256m", "-cp", System.getProperty("java.class.path"),
                ChainKillWorker.class.getName(), tmp.toString(), v.toString(), victim)
                .redirectError(ProcessBuilder.Redirect.INHERIT).start();
        try (BufferedReader in = new BufferedReader(new InputStreamReader(p.getInputStream(),
                StandardCharsets.UTF_8))) {
            String line = in.readLine();
            assertTrue(line != null && line.startsWith("STARTED"), "worker: " + line);
            long started = System.nanoTime();
            if (killAfter < 0) {
                line = in.readLine();
                long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);
                assertTrue(line != null && line.startsWith("DONE SUCCEEDED"), line);
                p.destroyForcibly();
                p.waitFor();
                return new Outcome(true, ms, -1);
            }
            Thread.sleep(killAfter);
            // SIGKILL: no shutdown hook, no finally, as kill -9 of the container.
            p.toHandle().destroyForcibly();
            p.waitFor();
            boolean done = false;
            while ((line = in.readLine()) != null) {
                done |= line.startsWith("DONE");
            }
            return new Outcome(done, -1, killAfter);
        } finally {
            p.destroyForcibly();
        }
    }
}

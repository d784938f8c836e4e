package io.strata.core.internal;

import static io.strata.core.internal.Assertions2.fails;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.format.CheckReport;
import io.strata.api.format.Provisioning;
import io.strata.api.format.VirtualDisk;
import io.strata.api.service.SnapshotInfo;
import io.strata.api.service.TaskInfo;
import io.strata.api.service.TaskState;
import io.strata.api.service.VolumeInfo;
import io.strata.api.service.VolumeRef;
import io.strata.api.service.VolumeUsage;
import io.strata.fs.dir.internal.DirFilesystem;
import io.strata.local.internal.LocalDriver;
import io.strata.qcow2.internal.Qcow2Format;
import io.strata.raw.internal.RawFormat;
import io.strata.vhd.internal.VhdFormat;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Snapshots, merges, linked and full clones, reclaim and check with the real local
 * driver, dir layer, VHD and qcow2 formats.
 */
class ChainsTest {
    static final long SIZE = 8L << 20;

    @TempDir
    Path tmp;
    MemoryConfigStore store = new MemoryConfigStore();
    StrataCore core;
    SnapshotServiceImpl snaps;
    TaskServiceImpl tasks;
    int chainMax = 32;

    void start() {
        core = new StrataCore(store, new CoreSettings(true, "local", tmp.resolve("datastores/local"),
                tmp.resolve("strata"), chainMax));
        core.addFormat(new VhdFormat(), "vhd", "io.strata.format-vhd");
        core.addFormat(new Qcow2Format(), "qcow2", "io.strata.format-qcow2");
        core.addFormat(new RawFormat(), "raw", "io.strata.format-raw");
        core.addDriver(new LocalDriver(), "local", "io.strata.driver-local");
        core.addFilesystem(new DirFilesystem(), "dir", "io.strata.fs-dir");
        snaps = new SnapshotServiceImpl(core);
        tasks = new TaskServiceImpl(core);
    }

    @AfterEach
    void stop() {
        if (core != null) {
            core.close();
        }
    }

    void restart() {
        core.close();
        start();
    }

    static VolumeRef ref(String s) {
        return VolumeRef.parse(s);
    }

    static void write(VirtualDisk d, long offset, int length, int seed) {
        byte[] b = new byte[length];
        new Random(seed).nextBytes(b);
        d.write(ByteBuffer.wrap(b), offset);
    }

    static byte[] readAll(VirtualDisk d) {
        ByteBuffer b = ByteBuffer.allocate((int) d.virtualSize());
        d.read(b, 0);
        return b.array();
    }

    byte[] volume(VolumeRef v) {
        try (VirtualDisk d = core.open(v, true)) {
            return readAll(d);
        }
    }

    byte[] snapshot(VolumeRef v, String s) {
        try (SharedDisk.Chain ch = core.mounted(v.datastore()).openSnapshot(v.volume(), s)) {
            return readAll(ch.disk());
        }
    }

    /** Five snapshots s0..s4, each after writes that overlap the previous ones, then more writes. */
    Map<String, byte[]> chainOfFive(VolumeRef v, String format) {
        core.create(v, SIZE, format, Provisioning.THIN);
        Map<String, byte[]> contents = new LinkedHashMap<>();
        for (int i = 0; i < 5; i++) {
            try (VirtualDisk d = core.open(v, false)) {
                write(d, (long) i * (1 << 20) + 4096, 1 << 20, i);   // a new region, partly over the last
                write(d, 512L * (i + 1), 3000, 100 + i);              // small, unaligned, always overlapping
                write(d, SIZE - (2L << 20) + i * 65536L, 70000, 200 + i);
            }
            snaps.create(v, "s" + i);
            contents.put("s" + i, snapshot(v, "s" + i));
        }
        try (VirtualDisk d = core.open(v, false)) {
            write(d, 3L << 20, 5000, 999);
        }
        contents.put("", volume(v));
        return contents;
    }

    void assertContents(VolumeRef v, Map<String, byte[]> contents, String deleted) {
        for (Map.Entry<String, byte[]> e : contents.entrySet()) {
            if (e.getKey().equals(deleted)) {
                continue;
            }
            byte[] now = e.getKey().isEmpty() ? volume(v) : snapshot(v, e.getKey());
            assertArrayEquals(e.getValue(), now, "contents of " + (e.getKey().isEmpty() ? "the volume" : e.getKey()));
        }
    }

    TaskInfo awaitDone(TaskInfo t) {
        TaskInfo end = tasks.await(t.id(), Duration.ofMinutes(2));
        assertTrue(end.done(), "task ended: " + end);
        return end;
    }

    @ParameterizedTest
    @ValueSource(strings = {"vhd", "qcow2"})
    void deleteEverySnapshotOfAChainOfFive(String format) {
        start();
        for (int p = 0; p < 5; p++) {
            final int pos = p;
            VolumeRef v = ref("local/v" + pos);
            Map<String, byte[]> contents = chainOfFive(v, format);
            List<SnapshotInfo> before = snaps.list(v);
            assertEquals(List.of("s0", "s1", "s2", "s3", "s4"), before.stream().map(SnapshotInfo::name).toList());
            assertTrue(before.stream().allMatch(SnapshotInfo::current));
            String victim = "s" + pos;
            java.util.Set<String> filesBefore = new java.util.TreeSet<>();
            before.forEach(x -> filesBefore.add(x.file()));
            TaskInfo t = awaitDone(snaps.delete(v, victim));
            assertEquals(TaskState.SUCCEEDED, t.state(), t.message());
            assertEquals(1.0, t.progress());
            List<SnapshotInfo> after = snaps.list(v);
            // One image fewer: the victim's (streamed into its children) or, when its only child
            // held less and was committed into it, the child's old one.
            java.util.Set<String> filesAfter = new java.util.TreeSet<>();
            after.forEach(x -> filesAfter.add(x.file()));
            assertTrue(filesBefore.containsAll(filesAfter), filesBefore + " -> " + filesAfter);
            assertEquals(filesBefore.size() - 1, filesAfter.size());
            for (String gone : filesBefore) {
                if (!filesAfter.contains(gone)) {
                    assertFalse(Files.exists(tmp.resolve("datastores/local").resolve(gone)), gone);
                }
            }
            assertEquals(4, after.size());
            assertTrue(after.stream().noneMatch(s -> s.name().equals(victim)));
            if (pos < 4) {
                assertEquals(pos == 0 ? "" : "s" + (pos - 1),
                        after.stream().filter(s -> s.name().equals("s" + (pos + 1))).findFirst().get().parent());
            }
            assertContents(v, contents, victim);
            restart();
            assertContents(v, contents, victim);
            for (CheckReport r : core.check(v, false)) {
                assertTrue(r.errors().isEmpty(), r.toString());
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"vhd", "qcow2"})
    void revertKeepsOtherSnapshotsAndDiscardsTheCurrentState(String format) {
        start();
        VolumeRef v = ref("local/r");
        Map<String, byte[]> contents = chainOfFive(v, format);
        String leaf = core.info(v).file();
        try (VirtualDisk d = core.open(v, true)) {
            fails(ErrorCode.VOLUME_IN_USE, () -> snaps.revert(v, "s2"));
        }
        fails(ErrorCode.SNAPSHOT_NOT_FOUND, () -> snaps.revert(v, "nope"));
        snaps.revert(v, "s2");
        assertFalse(Files.exists(tmp.resolve("datastores/local").resolve(leaf)));
        assertArrayEquals(contents.get("s2"), volume(v));
        List<SnapshotInfo> list = snaps.list(v);
        assertEquals(5, list.size());
        assertEquals(List.of(true, true, true, false, false), list.stream().map(SnapshotInfo::current).toList());
        // a new branch: a snapshot after the revert is a sibling of s3
        snaps.create(v, "b1");
        assertEquals("s2", snaps.list(v).stream().filter(s -> s.name().equals("b1")).findFirst().get().parent());
        contents.put("", volume(v));
        TaskInfo t = awaitDone(snaps.delete(v, "s2"));   // two children: s3 and b1
        assertEquals(TaskState.SUCCEEDED, t.state(), t.message());
        contents.remove("s2");
        assertContents(v, contents, null);
    }

    @Test
    void snapshotDeleteWhileAWriterWrites() throws Exception {
        start();
        VolumeRef v = ref("local/busy");
        core.create(v, 32L << 20, "vhd", Provisioning.THIN);
        byte[] model = new byte[32 << 20];
        try (VirtualDisk d = core.open(v, false)) {
            Random r = new Random(1);
            for (int i = 0; i < 64; i++) {
                int off = r.nextInt(model.length - 100_000);
                byte[] b = new byte[1 + r.nextInt(99_999)];
                r.nextBytes(b);
                d.write(ByteBuffer.wrap(b), off);
                System.arraycopy(b, 0, model, off, b.length);
            }
            snaps.create(v, "old");
            byte[] atOld = model.clone();
            snaps.create(v, "keep");
            byte[] atKeep = model.clone();
            AtomicBoolean stop = new AtomicBoolean();
            AtomicReference<Throwable> failed = new AtomicReference<>();
            Thread writer = new Thread(() -> {
                Random w = new Random(2);
                try {
                    while (!stop.get()) {
                        int off = w.nextInt(model.length - 70_000);
                        byte[] b = new byte[1 + w.nextInt(69_999)];
                        w.nextBytes(b);
                        d.write(ByteBuffer.wrap(b), off);
                        System.arraycopy(b, 0, model, off, b.length);
                    }
                } catch (Throwable t) {
                    failed.set(t);
                }
            });
            writer.start();
            try {
                // "keep" is the parent of the current image: its data streams into the live leaf
                TaskInfo t1 = awaitDone(snaps.delete(v, "keep"));
                assertEquals(TaskState.SUCCEEDED, t1.state(), t1.message());
                snaps.create(v, "mid");   // a snapshot taken while writing
                TaskInfo t2 = awaitDone(snaps.delete(v, "old"));
                assertEquals(TaskState.SUCCEEDED, t2.state(), t2.message());
            } finally {
                stop.set(true);
                writer.join();
            }
            if (failed.get() != null) {
                throw new AssertionError(failed.get());
            }
            assertArrayEquals(model, readAll(d));
            assertEquals(List.of("mid"), snaps.list(v).stream().map(SnapshotInfo::name).toList());
            assertTrue(atOld.length > 0 && atKeep.length > 0);
        }
        assertArrayEquals(model, volume(v));
    }

    @Test
    void chainLimitIsConfigurableAndNeverAbove32() {
        chainMax = 4;
        start();
        VolumeRef v = ref("local/c");
        core.create(v, SIZE, "qcow2", Provisioning.THIN);
        snaps.create(v, "a");
        snaps.create(v, "b");
        snaps.create(v, "c");
        StorageException e = fails(ErrorCode.CHAIN_TOO_LONG, () -> snaps.create(v, "d"));
        assertTrue(e.getMessage().contains("limit is 4"), e.getMessage());
        core.clone(v, "c", ref("local/cl"), true, null, null);   // cl + c + b + a
        fails(ErrorCode.CHAIN_TOO_LONG, () -> snaps.create(ref("local/cl"), "x"));
        assertEquals(32, new CoreSettings(true, "x", tmp, tmp, 40).chainMax());
        fails(ErrorCode.ALREADY_EXISTS, () -> snaps.create(v, "a"));
        fails(ErrorCode.INVALID_NAME, () -> snaps.create(v, "../x"));
        core.create(ref("local/plain"), SIZE, "raw", Provisioning.THIN);
        fails(ErrorCode.UNSUPPORTED, () -> snaps.create(ref("local/plain"), "s"));
    }

    @Test
    void linkedClonesShareAProtectedBase() throws Exception {
        start();
        VolumeRef gold = ref("local/gold");
        core.create(gold, SIZE, "vhd", Provisioning.THIN);
        try (VirtualDisk d = core.open(gold, false)) {
            write(d, 0, 2 << 20, 7);
        }
        snaps.create(gold, "v1");
        byte[] base = snapshot(gold, "v1");
        VolumeInfo c1 = core.clone(gold, "v1", ref("local/c1"), true, null, null);
        // A linked clone copies no data: only a differencing header over the base (its speed
        // is measured by bundles/core/bench/run.sh).
        assertTrue(c1.allocated() < (2 << 20) / 4, "linked clone allocated " + c1.allocated());
        core.clone(gold, "v1", ref("local/c2"), true, null, null);
        assertEquals(SIZE, c1.virtualSize());
        try (VirtualDisk d = core.open(ref("local/c1"), false)) {
            write(d, 4096, 4096, 8);
        }
        assertArrayEquals(base, volume(ref("local/c2")));
        assertFalse(java.util.Arrays.equals(base, volume(ref("local/c1"))));

        StorageException e = fails(ErrorCode.VOLUME_IN_USE, () -> snaps.delete(gold, "v1"));
        assertTrue(e.getMessage().contains("c1") && e.getMessage().contains("c2"), e.getMessage());
        e = fails(ErrorCode.VOLUME_IN_USE, () -> core.delete(gold));
        assertTrue(e.getMessage().contains("c1"), e.getMessage());

        VolumeUsage u = core.usage(ref("local/c1"));
        assertEquals("gold@v1", u.base());
        assertTrue(u.shared() >= (2L << 20), "shared " + u.shared());
        VolumeUsage g = core.usage(gold);
        assertEquals(2, g.dependents().size());
        assertTrue(g.shared() >= (2L << 20), "gold shares its snapshot: " + g.shared());

        // a clone of the current state freezes it in a snapshot first
        core.clone(gold, null, ref("local/c3"), true, null, null);
        assertTrue(snaps.list(gold).stream().anyMatch(s -> s.name().equals("clone-base-c3")));
        // snapshots of a clone, and deleting the clone's first snapshot keeps it on its base
        snaps.create(ref("local/c1"), "x");
        try (VirtualDisk d = core.open(ref("local/c1"), false)) {
            write(d, 1 << 20, 4096, 9);
        }
        byte[] c1now = volume(ref("local/c1"));
        TaskInfo t = awaitDone(snaps.delete(ref("local/c1"), "x"));
        assertEquals(TaskState.SUCCEEDED, t.state(), t.message());
        assertArrayEquals(c1now, volume(ref("local/c1")));

        // another datastore: linked refused, full allowed
        new ResourceServiceImpl(core).add("r2", "local", Map.of("kind", "directory", "path",
                tmp.resolve("ds2").toString()));
        core.create("ds2", "dir", "r2", Map.of(), false);
        e = fails(ErrorCode.INVALID_ARGUMENT, () -> core.clone(gold, "v1", ref("ds2/far"), true, null, null));
        assertTrue(e.getMessage().contains("full clone"), e.getMessage());
        core.clone(gold, "v1", ref("ds2/far"), false, null, null);
        assertArrayEquals(base, volume(ref("ds2/far")));
        restart();
        assertArrayEquals(base, volume(ref("local/c2")));
        core.delete(ref("local/c1"));
        core.delete(ref("local/c2"));
        core.delete(ref("local/c3"));
        TaskInfo t2 = awaitDone(snaps.delete(gold, "v1"));
        assertEquals(TaskState.SUCCEEDED, t2.state(), t2.message());
        core.delete(gold);
    }

    @Test
    void fullCloneChangesProvisioningAndFormat() {
        start();
        VolumeRef src = ref("local/tpl");
        core.create(src, SIZE, "vhd", Provisioning.THIN);
        try (VirtualDisk d = core.open(src, false)) {
            write(d, 1 << 20, 100_000, 3);
        }
        snaps.create(src, "s");
        try (VirtualDisk d = core.open(src, false)) {
            write(d, 5 << 20, 10_000, 4);
        }
        VolumeInfo thick = core.clone(src, null, ref("local/thick"), false, null, Provisioning.THICK);
        assertEquals(Provisioning.THICK, thick.provisioning());
        assertTrue(thick.allocated() >= SIZE, "thick: " + thick.allocated());
        assertArrayEquals(volume(src), volume(ref("local/thick")));
        VolumeInfo thin = core.clone(ref("local/thick"), null, ref("local/thin"), false, "qcow2",
                Provisioning.THIN);
        assertEquals("qcow2", thin.format());
        assertTrue(thin.allocated() < SIZE / 2, "thin again: " + thin.allocated());
        assertArrayEquals(volume(src), volume(ref("local/thin")));
        core.clone(src, "s", ref("local/fromsnap"), false, null, null);
        assertArrayEquals(snapshot(src, "s"), volume(ref("local/fromsnap")));
        fails(ErrorCode.SNAPSHOT_NOT_FOUND, () -> core.clone(src, "zz", ref("local/x"), false, null, null));
        fails(ErrorCode.DATASTORE_FULL, () -> core.create(ref("local/huge"), 1L << 50, "qcow2", Provisioning.THICK));
    }

    @Test
    void reclaimAndCheckGoThroughTheFormats() {
        start();
        VolumeRef v = ref("local/z");
        core.create(v, SIZE, "vhd", Provisioning.THIN);
        try (VirtualDisk d = core.open(v, false)) {
            write(d, 0, 1 << 20, 5);
        }
        snaps.create(v, "s");
        try (VirtualDisk d = core.open(v, false)) {
            d.write(ByteBuffer.allocate(4 << 20), 2 << 20);   // zeros written as data
            fails(ErrorCode.VOLUME_IN_USE, () -> core.reclaim(v));
            fails(ErrorCode.VOLUME_IN_USE, () -> core.check(v, true));
            assertEquals(2, core.check(v, false).size());
        }
        long freed = core.reclaim(v);
        assertTrue(freed > 0, "freed " + freed);
        List<CheckReport> reports = core.check(v, true);
        assertEquals(2, reports.size());
        reports.forEach(r -> assertTrue(r.clean(), r.toString()));
        core.create(ref("local/plain"), SIZE, "raw", Provisioning.THIN);
        fails(ErrorCode.UNSUPPORTED, () -> core.reclaim(ref("local/plain")));
    }

    @Test
    void cancelBeforeRebaseKeepsTheSnapshot() {
        start();
        VolumeRef v = ref("local/k");
        Map<String, byte[]> contents = chainOfFive(v, "vhd");
        TaskInfo t = snaps.delete(v, "s2");
        tasks.cancel(t.id());
        TaskInfo end = awaitDone(t);
        if (end.state() == TaskState.CANCELLED) {
            assertTrue(snaps.list(v).stream().anyMatch(s -> s.name().equals("s2")));
            assertContents(v, contents, null);
        } else {
            assertEquals(TaskState.SUCCEEDED, end.state(), end.message());
            assertContents(v, contents, "s2");
        }
        assertTrue(tasks.list().stream().anyMatch(x -> x.id().equals(t.id())));
        fails(ErrorCode.TASK_NOT_FOUND, () -> tasks.get("task-none"));
        new ArrayList<>(tasks.list());
    }

    @ParameterizedTest
    @ValueSource(strings = {"vhd", "qcow2"})
    void aBigSnapshotUnderASmallOneIsDeletedByCommittingTheSmallOneIntoIt(String format) throws Exception {
        start();
        VolumeRef v = ref("local/c");
        core.create(v, SIZE, format, Provisioning.THIN);
        Map<String, byte[]> contents = new LinkedHashMap<>();
        try (VirtualDisk d = core.open(v, false)) {
            write(d, 0, 6 << 20, 1);                       // s0: 6 MiB
        }
        snaps.create(v, "s0");
        contents.put("s0", snapshot(v, "s0"));
        try (VirtualDisk d = core.open(v, false)) {
            write(d, (1 << 20) + 512, 70_000, 2);          // s1: a little, unaligned, over s0's data
        }
        snaps.create(v, "s1");
        contents.put("s1", snapshot(v, "s1"));
        String s0File = snaps.list(v).get(0).file();
        String s1File = snaps.list(v).get(1).file();
        // The current image is s1's child and stays open for writing during the delete.
        try (VirtualDisk d = core.open(v, false)) {
            write(d, 3L << 20, 5000, 3);
            TaskInfo t = awaitDone(snaps.delete(v, "s0"));
            assertEquals(TaskState.SUCCEEDED, t.state(), t.message());
            write(d, (3L << 20) + 100_000, 5000, 4);
            contents.put("", readAll(d));
        }
        contents.remove("s0");
        List<SnapshotInfo> after = snaps.list(v);
        assertEquals(List.of("s1"), after.stream().map(SnapshotInfo::name).toList());
        assertEquals(s0File, after.get(0).file(), "s1 now lives in the bigger image, into which it was committed");
        assertEquals("", after.get(0).parent());
        assertFalse(Files.exists(tmp.resolve("datastores/local").resolve(s1File)), "s1's old image is gone");
        assertContents(v, contents, null);
        restart();
        assertContents(v, contents, null);
        for (CheckReport r : core.check(v, false)) {
            assertTrue(r.errors().isEmpty(), r.toString());
        }
    }
}

package io.strata.fs.vims.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.device.BlockDevice;
import io.strata.api.device.DeviceInfo;
import io.strata.api.format.CheckReport;
import io.strata.api.fs.DatastoreFile;
import io.strata.api.fs.SpaceInfo;
import io.strata.lease.LeaseParticipant;
import io.strata.lease.ResourceLease;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Several hosts on one LUN: concurrent work, where hosts allocate, a host that dies, replay of its journal, growing. */
class VimsMultiHostTest {
    static final int MIB = 1024 * 1024;
    /** Generous: these waits cover a host being counted dead (2 s with the test timings) on a loaded machine. */
    static final long DEADLINE_MS = 30_000;

    @TempDir
    Path dir;
    Path lun;
    final List<AutoCloseable> toClose = new ArrayList<>();

    @AfterEach
    void tearDown() throws Exception {
        for (int i = toClose.size() - 1; i >= 0; i--) {
            try {
                toClose.get(i).close();
            } catch (RuntimeException e) {
                // closing what a test left
            }
        }
        Luns.cleanUp();
    }

    TestDevice device(long size) {
        if (lun == null) {
            lun = Luns.dir(dir).resolve("lun");
        }
        TestDevice d = new TestDevice(lun, size, "uuid:multi-lun");
        toClose.add(d);
        return d;
    }

    void format(BlockDevice dev, String... extra) {
        Map<String, String> o = new java.util.HashMap<>(Map.of("max-files", "64", "max-hosts", "4", "cluster-size", "8M",
                "max-size", "2G"));
        for (int i = 0; i < extra.length; i += 2) {
            o.put(extra[i], extra[i + 1]);
        }
        new VimsFilesystem().format(dev, o, false);
    }

    Vims mount(BlockDevice dev, LeaseParticipant p) {
        Vims v = Vims.mount("ds", dev, p);
        toClose.add(v);
        return v;
    }

    /** Mounts several hosts at once (each join takes a couple of seconds). */
    List<Vims> mountAll(List<? extends BlockDevice> devs, List<LeaseParticipant> ps) throws Exception {
        List<Vims> out = new ArrayList<>();
        List<Thread> threads = new ArrayList<>();
        Vims[] got = new Vims[devs.size()];
        Throwable[] failed = new Throwable[devs.size()];
        for (int i = 0; i < devs.size(); i++) {
            int k = i;
            Thread t = new Thread(() -> {
                try {
                    got[k] = Vims.mount("ds", devs.get(k), ps.get(k));
                } catch (Throwable e) {
                    failed[k] = e;
                }
            });
            t.start();
            threads.add(t);
        }
        for (Thread t : threads) {
            t.join();
        }
        for (int i = 0; i < devs.size(); i++) {
            if (got[i] != null) {
                toClose.add(got[i]);
            }
        }
        for (Throwable t : failed) {
            if (t != null) {
                throw new AssertionError("a mount failed", t);
            }
        }
        for (Vims v : got) {
            out.add(v);
        }
        return out;
    }

    /** Host a's view of a fresh 512 MiB LUN, and hosts a and b (steady leases) mounted on it. */
    record TwoHosts(TestDevice devA, Vims a, Vims b) {
    }

    TwoHosts twoSteadyHosts() throws Exception {
        TestDevice devA = device(512L * MIB);
        format(devA);
        TestDevice devB = device(512L * MIB);
        List<Vims> fs = mountAll(List.of(devA, devB), List.of(Hosts.steady("a"), Hosts.steady("b")));
        return new TwoHosts(devA, fs.get(0), fs.get(1));
    }

    static byte[] random(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    static byte[] read(DatastoreFile f, long pos, int n) {
        ByteBuffer b = ByteBuffer.allocate(n);
        f.read(b, pos);
        return b.array();
    }

    static void assertClean(Vims fs) {
        CheckReport r = fs.check(false);
        assertTrue(r.clean(), () -> "checker: " + r);
    }

    static void waitFor(String what, BooleanSupplier cond) throws InterruptedException {
        long end = System.currentTimeMillis() + DEADLINE_MS;
        while (!cond.getAsBoolean()) {
            if (System.currentTimeMillis() > end) {
                throw new AssertionError("not within " + DEADLINE_MS / 1000 + " s: " + what);
            }
            Thread.sleep(50);
        }
    }

    /** Opens a file for writing, retrying while another host (a dead one, until it is counted dead) holds it. */
    static DatastoreFile openForWritingWhenFree(Vims fs, String name) throws InterruptedException {
        long end = System.currentTimeMillis() + DEADLINE_MS;
        while (true) {
            try {
                return fs.open(name, true);
            } catch (StorageException e) {
                if (e.code() != ErrorCode.LOCKED || System.currentTimeMillis() > end) {
                    throw e;
                }
            }
            Thread.sleep(100);
        }
    }

    static List<Long> blocksOf(DatastoreFile f) {
        Vims.Node n = ((VimsFile) f).node;
        List<Long> out = new ArrayList<>();
        for (int i = 0; i < Descriptor.DIRECT; i++) {
            long p = n.desc.direct(i);
            if (p != 0) {
                out.add(Descriptor.block(p));
            }
        }
        return out;
    }

    // ------------------------------------------------------------------ (a)

    @Test
    void hostsWorkingAtOnceLoseNothingAndFreeEverything() throws Exception {
        int hostCount = 3;
        int threadsPerHost = 2;
        int filesPerThread = 8;
        List<TestDevice> devs = new ArrayList<>();
        for (int i = 0; i < hostCount; i++) {
            devs.add(device(512L * MIB));
        }
        format(devs.get(0));
        List<LeaseParticipant> ps = new ArrayList<>();
        for (int i = 0; i < hostCount; i++) {
            ps.add(Hosts.steady("host-" + i));
        }
        List<Vims> fs = mountAll(devs, ps);
        long free0 = fs.get(0).space().free();
        Map<String, byte[]> kept = new ConcurrentHashMap<>();
        List<Throwable> failures = new CopyOnWriteArrayList<>();
        List<Thread> threads = new ArrayList<>();
        for (int h = 0; h < hostCount; h++) {
            for (int t = 0; t < threadsPerHost; t++) {
                Vims v = fs.get(h);
                String prefix = "h" + h + "t" + t + "-";
                long seed = h * 100 + t;
                Thread th = new Thread(() -> {
                    try {
                        Random rnd = new Random(seed);
                        for (int i = 0; i < filesPerThread; i++) {
                            String name = prefix + i;
                            byte[] data = random(1 + rnd.nextInt(3 * MIB), seed * 1000 + i);
                            long at = rnd.nextInt(2 * MIB);
                            try (DatastoreFile f = v.create(name)) {
                                f.write(ByteBuffer.wrap(data), at);
                                f.flush();
                            }
                            byte[] content = new byte[(int) at + data.length];
                            System.arraycopy(data, 0, content, (int) at, data.length);
                            try (DatastoreFile f = v.open(name, false)) {
                                assertArrayEquals(content, read(f, 0, content.length), name);
                            }
                            if (i % 2 == 1) {
                                v.delete(name);
                            } else {
                                kept.put(name, content);
                            }
                            // a file of another thread on another host: readable whenever it exists
                            List<String> names = v.list();
                            if (!names.isEmpty()) {
                                String other = names.get(rnd.nextInt(names.size()));
                                try {
                                    v.stat(other);
                                } catch (StorageException e) {
                                    if (e.code() != ErrorCode.FILE_NOT_FOUND) {
                                        throw e;
                                    }
                                }
                            }
                        }
                    } catch (Throwable e) {
                        failures.add(e);
                    }
                }, "worker-" + prefix);
                th.start();
                threads.add(th);
            }
        }
        for (Thread t : threads) {
            t.join();
        }
        if (!failures.isEmpty()) {
            AssertionError e = new AssertionError("workers failed: " + failures);
            failures.forEach(e::addSuppressed);
            throw e;
        }
        assertEquals(hostCount * threadsPerHost * filesPerThread / 2, kept.size());
        for (Vims v : fs) {
            assertEquals(new java.util.TreeSet<>(kept.keySet()), new java.util.TreeSet<>(v.list()));
        }
        for (Map.Entry<String, byte[]> e : kept.entrySet()) {
            Vims v = fs.get(Math.abs(e.getKey().hashCode()) % hostCount);
            try (DatastoreFile f = v.open(e.getKey(), false)) {
                assertEquals(e.getValue().length, f.size(), e.getKey());
                assertArrayEquals(e.getValue(), read(f, 0, e.getValue().length), e.getKey());
            }
        }
        assertClean(fs.get(1));
        // everything deleted, from other hosts than the writers: all the space comes back
        int k = 0;
        for (String name : kept.keySet()) {
            fs.get(k++ % hostCount).delete(name);
        }
        for (Vims v : fs) {
            assertEquals(List.of(), v.list());
            assertEquals(free0, v.space().free());
        }
        assertClean(fs.get(2));
    }

    // ------------------------------------------------------------------ (b)

    @Test
    void hostsAllocateFromTheirOwnResourceClusters() throws Exception {
        List<TestDevice> devs = List.of(device(512L * MIB), device(512L * MIB));
        format(devs.get(0));
        List<Vims> fs = mountAll(devs, List.of(Hosts.steady("a"), Hosts.steady("b")));
        assertNotEquals(fs.get(0).ls.slot(), fs.get(1).ls.slot());
        List<Set<Long>> clusters = new ArrayList<>();
        for (int h = 0; h < 2; h++) {
            Vims v = fs.get(h);
            int maxHosts = v.sb.maxHosts();
            int clusterBlocks = v.sb.clusterBlocks();
            Set<Long> used = new HashSet<>();
            try (DatastoreFile f = v.create("file-" + h)) {
                f.write(ByteBuffer.wrap(random(12 * MIB, h)), 0); // more than one cluster of 8 blocks
                f.allocate(20L * MIB, 4L * MIB);
                List<Long> blocks = blocksOf(f);
                assertEquals(16, blocks.size());
                for (long b : blocks) {
                    long c = b / clusterBlocks;
                    used.add(c);
                    assertEquals(v.ls.slot() % maxHosts, c % maxHosts, "host in slot " + v.ls.slot()
                            + " allocated block " + b + " in cluster " + c);
                }
            }
            clusters.add(used);
        }
        assertTrue(clusters.get(0).size() >= 2, "the first host filled more than one cluster: " + clusters.get(0));
        Set<Long> both = new HashSet<>(clusters.get(0));
        both.retainAll(clusters.get(1));
        assertEquals(Set.of(), both, "clusters used by both hosts");
        // the bitmaps agree: the clusters of each host hold exactly its blocks
        Vims v = fs.get(0);
        for (int h = 0; h < 2; h++) {
            int bits = 0;
            for (long c : clusters.get(h)) {
                ByteBuffer b = v.disk.readPage(v.sb.bitmapPage(c));
                bits += Bitmaps.used(b);
            }
            assertEquals(16, bits, "bits set in the clusters of host " + h);
        }
        assertClean(fs.get(1));
    }

    // ------------------------------------------------------------------ (c)

    /**
     * Formats {@code devA} and mounts hosts a and b on the two devices, for a test where a
     * fences itself. Host b must never fence itself while a does: TOLERANT timings, so a
     * stalled heartbeat thread on a loaded machine is not taken for a lost LUN.
     */
    private List<Vims> aThatWillFenceAndB(TestDevice devA, TestDevice devB, AtomicInteger fencesA,
            AtomicInteger fencesB) throws Exception {
        format(devA);
        return mountAll(List.of(devA, devB), List.of(Hosts.host("a", fencesA, Hosts.TOLERANT),
                Hosts.host("b", fencesB, Hosts.TOLERANT)));
    }

    @Test
    void aHostThatLosesTheLunFencesItselfAndAnotherTakesOverItsFile() throws Exception {
        TestDevice devA = device(512L * MIB);
        TestDevice devB = device(512L * MIB);
        AtomicInteger fencesA = new AtomicInteger();
        AtomicInteger fencesB = new AtomicInteger();
        List<Vims> fs = aThatWillFenceAndB(devA, devB, fencesA, fencesB);
        Vims a = fs.get(0);
        Vims b = fs.get(1);
        byte[] first = random(2 * MIB + 100, 1);
        byte[] second = random(MIB, 2);
        DatastoreFile f = a.create("vm.disk");
        f.write(ByteBuffer.wrap(first), 0);
        f.flush();
        f.write(ByteBuffer.wrap(second), 5L * MIB + 7); // written, not flushed yet
        f.write(ByteBuffer.wrap(second, 0, 4096), 100); // over an allocated block: straight to the device
        f.flush();
        assertThrows(StorageException.class, () -> b.open("vm.disk", true));

        devA.fail(true); // host a loses its path to the LUN
        waitFor("host a fences itself", () -> fencesA.get() > 0);
        assertEquals(1, fencesA.get());
        devA.fail(false); // the path comes back: a fenced host still writes nothing
        long writes = devA.writes.get();
        StorageException e = assertThrows(StorageException.class, () -> f.write(ByteBuffer.wrap(new byte[10]), 0));
        assertEquals(ErrorCode.DEVICE_UNAVAILABLE, e.code(), e.getMessage());
        e = assertThrows(StorageException.class, () -> f.write(ByteBuffer.wrap(new byte[10]), 50L * MIB));
        assertEquals(ErrorCode.DEVICE_UNAVAILABLE, e.code(), e.getMessage());
        e = assertThrows(StorageException.class, () -> f.setSize(0));
        assertEquals(ErrorCode.DEVICE_UNAVAILABLE, e.code(), e.getMessage());
        e = assertThrows(StorageException.class, () -> a.create("other"));
        assertEquals(ErrorCode.DEVICE_UNAVAILABLE, e.code(), e.getMessage());
        assertEquals(writes, devA.writes.get(), "device writes of the fenced host");

        try (DatastoreFile g = openForWritingWhenFree(b, "vm.disk")) {
            byte[] want = new byte[(int) (5L * MIB + 7 + second.length)];
            System.arraycopy(first, 0, want, 0, first.length);
            System.arraycopy(second, 0, want, 100, 4096);
            System.arraycopy(second, 0, want, (int) (5L * MIB + 7), second.length);
            assertEquals(want.length, g.size());
            assertArrayEquals(want, read(g, 0, want.length));
            g.write(ByteBuffer.wrap(new byte[] {1, 2, 3}), 0);
        }
        assertEquals(0, fencesB.get());
        f.close();
        a.close();
        assertEquals(writes, devA.writes.get(), "device writes of the fenced host, closing");
        assertClean(b);
        try (DatastoreFile g = b.open("vm.disk", false)) {
            assertArrayEquals(new byte[] {1, 2, 3}, read(g, 0, 3));
        }
    }

    /**
     * A host froze between its own check and the device call (a write already past
     * {@code checkWritable}, its thread stopped): when it thaws after fencing itself, the write
     * is not issued, because the driver checks the fence again right before the call. Before
     * that second check, such a write landed over what the next owner of the file wrote.
     */
    @ParameterizedTest(name = "asynchronous {0}")
    @ValueSource(booleans = {false, true})
    void aWriteHeldUpBeforeTheDeviceCallIsNotIssuedOnceTheHostFenced(boolean async) throws Exception {
        TestDevice devA = device(512L * MIB);
        TestDevice devB = device(512L * MIB);
        AtomicInteger fencesA = new AtomicInteger();
        AtomicInteger fencesB = new AtomicInteger();
        List<Vims> fs = aThatWillFenceAndB(devA, devB, fencesA, fencesB);
        Vims a = fs.get(0);
        Vims b = fs.get(1);
        java.util.concurrent.ExecutorService io = java.util.concurrent.Executors.newFixedThreadPool(2);
        try {
            if (async) {
                devA.asyncIo = io; // a driver with I/O threads: the write waits in their queue
            }
            byte[] first = random(2 * MIB, 3);
            DatastoreFile f = a.create("vm.disk");
            f.write(ByteBuffer.wrap(first), 0);
            f.flush();
            // 1536 bytes inside an allocated block: straight to the device, no metadata
            java.util.concurrent.CountDownLatch stopped = devA.stopNextWrite(1536);
            byte[] late = new byte[1536];
            Arrays.fill(late, (byte) 0x11);
            java.util.concurrent.CompletableFuture<Void> w = async
                    ? f.writeAsync(ByteBuffer.wrap(late), 4096)
                    : java.util.concurrent.CompletableFuture.runAsync(() -> f.write(ByteBuffer.wrap(late), 4096), io);
            assertTrue(stopped.await(60, java.util.concurrent.TimeUnit.SECONDS), "the write reached the driver");

            devA.fail(true); // meanwhile host a cannot renew its heartbeat and fences itself
            waitFor("host a fences itself", () -> fencesA.get() > 0);
            devA.fail(false);
            long writes = devA.writes.get();
            devA.resumeStopped(); // the host thaws
            java.util.concurrent.ExecutionException e = assertThrows(java.util.concurrent.ExecutionException.class,
                    () -> w.get(60, java.util.concurrent.TimeUnit.SECONDS));
            Throwable cause = e.getCause();
            assertTrue(cause instanceof StorageException, String.valueOf(cause));
            assertEquals(ErrorCode.DEVICE_UNAVAILABLE, ((StorageException) cause).code(), cause.getMessage());
            assertEquals(writes, devA.writes.get(), "device writes of the fenced host");

            try (DatastoreFile g = openForWritingWhenFree(b, "vm.disk")) {
                assertArrayEquals(first, read(g, 0, first.length), "the next owner sees no late write");
            }
            assertEquals(0, fencesB.get());
            f.close();
            a.close();
            assertClean(b);
        } finally {
            io.shutdownNow();
        }
    }

    // ------------------------------------------------------------------ (d)

    /**
     * A device that lets a host commit one journal record and then dies: once armed, the first
     * write into {@code [from, to)} (the host's journal) goes through, the next flush too, and
     * from then on every I/O fails, as if the host crashed right after its record was durable
     * and before any page of it reached its place.
     */
    static final class DyingDevice implements BlockDevice {
        final TestDevice dev;
        volatile long from;
        volatile long to;
        /** 0 normal, 1 armed, 2 record written, 3 dead. */
        final AtomicInteger state = new AtomicInteger();

        DyingDevice(TestDevice dev) {
            this.dev = dev;
        }

        void arm(long fromByte, long toByte) {
            from = fromByte;
            to = toByte;
            state.set(1);
        }

        private void check() {
            if (state.get() == 3) {
                throw new StorageException(ErrorCode.DEVICE_UNAVAILABLE, "the host died");
            }
        }

        @Override
        public DeviceInfo info() {
            return dev.info();
        }

        @Override
        public Optional<Path> localPath() {
            return Optional.empty();
        }

        @Override
        public long size() {
            return dev.size();
        }

        @Override
        public int sectorSize() {
            return dev.sectorSize();
        }

        @Override
        public void read(ByteBuffer dst, long offset) {
            check();
            dev.read(dst, offset);
        }

        @Override
        public synchronized void write(ByteBuffer src, long offset) {
            check();
            dev.write(src, offset);
            if (offset >= from && offset < to) {
                state.compareAndSet(1, 2);
            }
        }

        @Override
        public synchronized void flush() {
            check();
            dev.flush();
            state.compareAndSet(2, 3);
        }

        @Override
        public void unmap(long offset, long length) {
            check();
            dev.unmap(offset, length);
        }

        @Override
        public Optional<String> identity() {
            return dev.identity();
        }

        @Override
        public void close() {
            dev.close();
        }
    }

    static void armJournal(DyingDevice d, Vims v) {
        long first = v.sb.journalPage(v.ls.slot()) * Pages.SIZE;
        d.arm(first + Pages.SIZE, first + (long) v.sb.journalPages() * Pages.SIZE);
    }

    @Test
    void anotherHostReplaysTheJournalOfADeadHostBeforeTakingItsFile() throws Exception {
        DyingDevice devA = new DyingDevice(device(512L * MIB));
        format(devA);
        AtomicInteger fencesA = new AtomicInteger();
        Vims a = mount(devA, Hosts.host("a", fencesA));
        byte[] data = random(MIB, 3);
        DatastoreFile f = a.create("grown");
        f.write(ByteBuffer.wrap(data), 0);
        f.flush();
        long descPage = a.sb.descriptorPage(((VimsFile) f).node.index);
        armJournal(devA, a);
        // the new size is committed to a's journal, then a dies before writing it in place
        StorageException e = assertThrows(StorageException.class, () -> f.setSize(9L * MIB));
        assertEquals(ErrorCode.DEVICE_UNAVAILABLE, e.code(), e.getMessage());
        assertEquals(3, devA.state.get());
        TestDevice raw = device(512L * MIB);
        ByteBuffer inPlace = ByteBuffer.allocate(Pages.SIZE);
        raw.read(inPlace, descPage * Pages.SIZE);
        assertEquals(MIB, new Descriptor(0, inPlace).size(), "the record is not in place");
        waitFor("host a fences itself", () -> fencesA.get() > 0);

        Vims b = mount(device(512L * MIB), Hosts.host("b"));
        try (DatastoreFile g = openForWritingWhenFree(b, "grown")) {
            assertEquals(9L * MIB, g.size(), "host b took a's file before replaying a's journal");
            assertArrayEquals(data, read(g, 0, MIB));
            assertArrayEquals(new byte[MIB], read(g, 8L * MIB, MIB));
        }
        assertEquals(9L * MIB, b.stat("grown").size());
        assertClean(b);
        f.close();
        a.close();
    }

    /**
     * A free descriptor slot whose lease another host still holds (it lets a deleted file's
     * lease go after the directory says free, or has not written the release yet), or another
     * thread of this host (its maintenance, a moment, while it looks at a delete in passing),
     * is passed over: a create takes the next free slot instead of failing with LOCKED. Seen
     * in the benchmark with three hosts making snapshots at once, and in VimsModelTest.
     */
    @ParameterizedTest(name = "held by {0}")
    @ValueSource(strings = {"another host", "this host"})
    void aCreateSkipsFreeSlotsWhoseLeaseIsStillHeld(String holder) throws Exception {
        TestDevice devA = device(512L * MIB);
        format(devA);
        TestDevice devB = device(512L * MIB);
        List<Vims> fs = mountAll(List.of(devA, devB), List.of(Hosts.host("a"), Hosts.host("b")));
        Vims a = fs.get(0);
        Vims b = holder.equals("this host") ? a : fs.get(1);
        List<ResourceLease> held = new ArrayList<>();
        try {
            for (int i = 0; i < 3; i++) { // the first free slots, in the order a create tries them
                held.add(a.acquire(a.sb.fileArea(i), "file deleted-" + i, Duration.ZERO));
            }
            try (DatastoreFile f = b.create("made")) {
                f.write(ByteBuffer.wrap(new byte[] {9}), 0);
            }
            assertEquals(List.of("made"), b.list());
            assertEquals(List.of("made"), fs.get(1).list());
        } finally {
            held.forEach(ResourceLease::close);
        }
        assertClean(b);
    }

    /**
     * One host creates and deletes files while the other does the same and keeps sweeping for
     * interrupted deletes, as its maintenance thread does: a sweep must leave a delete that a
     * live host (this one included) is still doing to it. Taking the file's lease the moment
     * the deleter let it go made the sweeping host's own create of a file in that free slot
     * fail LOCKED ("this host already holds lease area ..."), and could do the same to its
     * own delete. The sweeps pause up to 7 ms after listing the DELETING entries, as a busy
     * machine pauses them: a sweep that then took a lease on what it had listed, rather than
     * on what the entry had become, held the lease of a file created since in the same entry,
     * and that file's delete on this host failed LOCKED.
     */
    @Test
    void sweepsForInterruptedDeletesLeaveLiveHostsDeletesAlone() throws Exception {
        TwoHosts hosts = twoSteadyHosts();
        Vims a = hosts.a();
        Vims b = hosts.b();
        a.sweepListed = () -> {
            try {
                Thread.sleep(ThreadLocalRandom.current().nextInt(8));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        };
        AtomicBoolean stop = new AtomicBoolean();
        AtomicReference<Throwable> failed = new AtomicReference<>();
        AtomicInteger sweeps = new AtomicInteger();
        Thread sweeper = new Thread(() -> {
            while (!stop.get()) {
                try {
                    a.finishInterrupted();
                    sweeps.incrementAndGet();
                    Thread.sleep(1);
                } catch (Throwable t) {
                    failed.compareAndSet(null, t);
                    return;
                }
            }
        }, "sweeper");
        Thread other = new Thread(() -> {
            try {
                for (int i = 0; i < 120 && !stop.get(); i++) {
                    try (DatastoreFile f = b.create("b-" + i)) {
                        f.write(ByteBuffer.wrap(new byte[] {1, 2, 3}), 0);
                    }
                    b.delete("b-" + i);
                }
            } catch (Throwable t) {
                failed.compareAndSet(null, t);
            }
        }, "host-b");
        sweeper.start();
        other.start();
        try {
            for (int i = 0; i < 120 && failed.get() == null; i++) {
                try (DatastoreFile f = a.create("a-" + i)) {
                    f.write(ByteBuffer.wrap(new byte[] {4, 5}), 0);
                }
                a.delete("a-" + i);
            }
            other.join(120_000);
        } finally {
            stop.set(true);
            sweeper.join(30_000);
            other.join(30_000);
        }
        if (failed.get() != null) {
            throw new AssertionError("after " + sweeps.get() + " sweeps", failed.get());
        }
        assertTrue(sweeps.get() > 0, "the sweeper never ran");
        assertEquals(List.of(), a.list());
        assertClean(a);
    }

    /**
     * A delete that fails on a live host after it marked the entry (here: the read of the
     * file's descriptor fails) leaves neither the name nor the space behind for long: the
     * deleting host's own maintenance finishes it, as it does any of its deletes that is no
     * longer under way (the other host's sweep leaves a live host's deletes alone: see above).
     */
    @Test
    void aLiveHostFinishesItsOwnFailedDelete() throws Exception {
        TwoHosts hosts = twoSteadyHosts();
        Vims a = hosts.a();
        Vims b = hosts.b();
        long freeBefore = b.space().free();
        try (DatastoreFile f = a.create("doomed")) { // a fresh filesystem's first file: entry 0
            f.write(ByteBuffer.wrap(random(4 << 20, 5)), 0);
            f.flush();
        }
        assertTrue(b.space().free() < freeBefore, "the file took no space");

        hosts.devA().failNextReadOf(a.sb.descriptorPage(0) * Pages.SIZE);
        StorageException e = assertThrows(StorageException.class, () -> a.delete("doomed"));
        assertEquals(ErrorCode.IO_ERROR, e.code(), e::getMessage);
        assertTrue(e.getMessage().contains("test device"), e::getMessage);

        waitFor("host a's maintenance gives the file's space back",
                () -> a.space().free() == freeBefore && b.space().free() == freeBefore);
        assertEquals(List.of(), a.list());
        try (DatastoreFile f = b.create("doomed")) { // the name is free again, on the other host too
            f.write(ByteBuffer.wrap(new byte[] {1}), 0);
        }
        assertEquals(List.of("doomed"), a.list());
        assertClean(a);
    }

    /**
     * An open for writing looks the name up, then takes the file's lease. Another host's delete
     * that runs whole in between leaves a free entry whose descriptor still has the looked-up
     * generation: the open must see that it came too late, not open the free entry (whose
     * writes would then allocate blocks to no file).
     */
    /**
     * Host a creates {@code f}; host b opens it, and a deletes it between b's lookup of the name
     * and the rest of the open: the open fails {@code FILE_NOT_FOUND} and b lists no file.
     */
    private static void openOvertakenByADelete(Vims a, Vims b, boolean writable) {
        try (DatastoreFile f = a.create("f")) {
            f.write(ByteBuffer.wrap(random(1 << 20, 11)), 0);
        }
        assertTrue(b.exists("f"));
        AtomicInteger deletes = new AtomicInteger();
        b.openLookedUp = () -> {
            b.openLookedUp = null;
            a.delete("f");
            deletes.incrementAndGet();
        };
        StorageException e = assertThrows(StorageException.class, () -> {
            try (DatastoreFile f = b.open("f", writable)) {
                fail("opened a deleted file (writable " + writable + "), size " + f.size());
            }
        });
        assertEquals(1, deletes.get(), "the delete did not run in the window");
        assertEquals(ErrorCode.FILE_NOT_FOUND, e.code(), e::getMessage);
        assertTrue(e.getMessage().contains("deleted meanwhile"), e::getMessage);
        assertEquals(List.of(), b.list());
    }

    @Test
    void aFileDeletedByAnotherHostBetweenLookupAndLeaseIsNotOpened() throws Exception {
        TwoHosts hosts = twoSteadyHosts();
        Vims a = hosts.a();
        Vims b = hosts.b();
        long freeBefore = b.space().free();
        openOvertakenByADelete(a, b, true);
        // the entry and its lease are free for a new file, on either host
        try (DatastoreFile g = b.create("g")) {
            g.write(ByteBuffer.wrap(random(1 << 20, 12)), 0);
        }
        try (DatastoreFile g = a.open("g", true)) {
            assertArrayEquals(random(1 << 20, 12), read(g, 0, 1 << 20));
        }
        b.delete("g");
        waitFor("both hosts see all space free", () -> a.space().free() == freeBefore && b.space().free() == freeBefore);
        assertClean(a);
        assertClean(b);
    }

    @Test
    void aFileDeletedByAnotherHostBetweenLookupAndDescriptorIsNotOpenedForReading() throws Exception {
        TwoHosts hosts = twoSteadyHosts();
        Vims a = hosts.a();
        Vims b = hosts.b();
        // without the second look at the entry, b opened the freed file and read it as empty
        openOvertakenByADelete(a, b, false);
        // a new file of that name opens for reading
        try (DatastoreFile g = a.create("f")) {
            g.write(ByteBuffer.wrap(random(4096, 14)), 0);
        }
        try (DatastoreFile g = b.open("f", false)) {
            assertArrayEquals(random(4096, 14), read(g, 0, 4096));
        }
        assertClean(a);
        assertClean(b);
    }

    @Test
    void aReaderWhoseFileWasDeletedCannotLockTheFileThatReusedItsEntry() throws Exception {
        TwoHosts hosts = twoSteadyHosts();
        Vims a = hosts.a();
        Vims b = hosts.b();
        try (DatastoreFile f = a.create("f")) {
            f.write(ByteBuffer.wrap(random(65536, 15)), 0);
        }
        try (DatastoreFile stale = b.open("f", false)) {
            a.delete("f"); // readers take no lease and do not stop a delete
            try (DatastoreFile g = a.create("g")) {
                assertEquals(((VimsFile) stale).node.index, ((VimsFile) g).node.index,
                        "the new file did not reuse the entry, so this test shows nothing");
            }
            // without the check, b took the lease of g's entry for a handle on f
            StorageException ex = assertThrows(StorageException.class, () -> stale.lock(true).close());
            assertEquals(ErrorCode.FILE_NOT_FOUND, ex.code(), ex::getMessage);
            assertTrue(ex.getMessage().contains("deleted meanwhile"), ex::getMessage);
            try (DatastoreFile g = a.open("g", true)) {
                // the lease is a's: b's failed lock gave it back at once
                g.write(ByteBuffer.wrap(random(4096, 16)), 0);
                // and a shared lock no longer reports g's writer as f's
                StorageException sh = assertThrows(StorageException.class, () -> stale.lock(false).close());
                assertEquals(ErrorCode.FILE_NOT_FOUND, sh.code(), sh::getMessage);
            }
        }
        try (DatastoreFile g = b.open("g", true)) {
            assertArrayEquals(random(4096, 16), read(g, 0, 4096));
        }
        assertClean(a);
        assertClean(b);
    }

    @Test
    void aFileCreatedInTheJournalOfADeadHostAppearsOnTheOthers() throws Exception {
        DyingDevice devA = new DyingDevice(device(512L * MIB));
        format(devA);
        TestDevice devB = device(512L * MIB);
        AtomicInteger fencesA = new AtomicInteger();
        List<Vims> fs = mountAll(List.of(devA, devB), List.of(Hosts.host("a", fencesA), Hosts.host("b")));
        Vims a = fs.get(0);
        Vims b = fs.get(1);
        try (DatastoreFile f = a.create("before")) {
            f.write(ByteBuffer.wrap(new byte[] {7}), 0);
        }
        armJournal(devA, a);
        StorageException e = assertThrows(StorageException.class, () -> a.create("ghost"));
        assertEquals(ErrorCode.DEVICE_UNAVAILABLE, e.code(), e.getMessage());
        assertEquals(3, devA.state.get());
        // b replays a's journal in the background once a is dead, or when it takes a lease a held
        waitFor("host b sees the file of a's last transaction", () -> b.exists("ghost"));
        assertEquals(List.of("before", "ghost"), b.list());
        try (DatastoreFile g = openForWritingWhenFree(b, "ghost")) {
            assertEquals(0, g.size());
            g.write(ByteBuffer.wrap(new byte[] {1}), 0);
        }
        assertClean(b);
        b.delete("ghost");
        assertEquals(List.of("before"), b.list());
        assertClean(b);
        a.close();
    }

    // ------------------------------------------------------------------ (e)

    @Test
    void aGrownFilesystemIsSeenAndUsedByEveryHost() throws Exception {
        TestDevice devA = device(128L * MIB);
        TestDevice devB = device(128L * MIB);
        format(devA, "max-size", "1G");
        List<Vims> fs = mountAll(List.of(devA, devB), List.of(Hosts.steady("a"), Hosts.steady("b")));
        Vims a = fs.get(0);
        Vims b = fs.get(1);
        SpaceInfo before = b.space();
        long oldBlocks = b.sb.blocks();
        assertEquals(before, a.grow(), "nothing to grow into yet");
        devA.grow(256L * MIB);
        devB.grow(256L * MIB); // every host sees the LUN grow (a rescan)
        SpaceInfo grown = a.grow();
        assertTrue(grown.capacity() >= before.capacity() + 127L * MIB, "grown: " + grown + " before " + before);
        assertEquals(before.free() + grown.capacity() - before.capacity(), grown.free());
        // b has not looked since: its first allocation that needs the new space finds it
        int size = (int) (before.free() + 16L * MIB);
        byte[] data = random(size, 5);
        try (DatastoreFile f = b.create("big")) {
            f.write(ByteBuffer.wrap(data), 0);
            boolean inNewSpace = false;
            for (long blk : blocksOf(f)) {
                inNewSpace |= blk >= oldBlocks;
            }
            assertTrue(inNewSpace, "some block beyond the old " + oldBlocks);
            assertEquals(size, f.size());
            assertArrayEquals(data, read(f, 0, size));
        }
        assertEquals(grown.capacity(), b.space().capacity());
        assertEquals(grown.free() - (long) size, b.space().free());
        assertClean(b);
        assertClean(a);
        try (DatastoreFile f = a.open("big", false)) {
            assertArrayEquals(data, read(f, 0, size));
        }
        b.delete("big");
        assertEquals(grown.free(), a.space().free());
        assertFalse(a.exists("big"));
        assertClean(a);
    }
}

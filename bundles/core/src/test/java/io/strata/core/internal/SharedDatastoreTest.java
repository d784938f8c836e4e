package io.strata.core.internal;

import static io.strata.core.internal.Assertions2.fails;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.format.Provisioning;
import io.strata.api.format.VirtualDisk;
import io.strata.api.service.HostInfo;
import io.strata.api.service.VolumeInfo;
import io.strata.api.service.VolumeRef;
import io.strata.lease.LeaseSettings;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.BooleanSupplier;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.io.TempDir;

/**
 * Three hosts (three cores in this JVM, each with its own configuration, identity and
 * lockspace slot) sharing one directory as a shared dir datastore: the catalog under its
 * lease, volume leases, recovery of only the intents nobody live holds.
 */
class SharedDatastoreTest {
    @TempDir
    Path tmp;
    final List<StrataCore> hosts = new ArrayList<>();

    @BeforeEach
    void start(TestInfo test) {
        // the concurrency test keeps the disk busy with synced writes from six threads: its
        // hosts get timing that a stalled renewal on a loaded machine does not fence
        LeaseSettings lease = test.getTestMethod().map(m -> m.getName().startsWith("concurrent")).orElse(false)
                ? SharedHosts.TOLERANT : SharedHosts.FAST;
        for (String name : List.of("h1", "h2", "h3")) {
            hosts.add(SharedHosts.start(tmp, name, new MemoryConfigStore(), lease));
        }
    }

    @AfterEach
    void stop() {
        hosts.forEach(StrataCore::close);
    }

    private StrataCore h(int i) {
        return hosts.get(i);
    }

    private static Set<String> names(StrataCore core) {
        return core.list("ds").stream().map(VolumeInfo::name).collect(Collectors.toCollection(TreeSet::new));
    }

    private static void await(String what, BooleanSupplier done) throws InterruptedException {
        long end = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (!done.getAsBoolean()) {
            if (System.nanoTime() > end) {
                throw new AssertionError("timed out waiting until " + what);
            }
            Thread.sleep(50);
        }
    }

    @Test
    void everyHostHasItsOwnIdentityAndSeesTheOthers() throws Exception {
        HostInfo one = h(0).host();
        assertEquals("h1", one.name());
        assertEquals(3, hosts.stream().map(c -> c.host().id()).distinct().count(), "three identities");
        assertEquals(1, one.shared().size());
        assertEquals("ds", one.shared().get(0).datastore());
        assertTrue(one.shared().get(0).valid());
        await("h1 sees h2 and h3 live", () -> h(0).host().shared().get(0).hosts().stream()
                .filter(m -> !m.id().equals(one.id()) && m.state().equals("LIVE")).count() == 2);
        h(2).close();
        await("h1 sees h3 leave", () -> h(0).host().shared().get(0).hosts().stream()
                .anyMatch(m -> m.name().equals("h3") && m.state().equals("FREE")));
    }

    @Test
    void concurrentCreatesSnapshotsAndDeletesFromThreeHostsLoseNothing() throws Exception {
        int perHost = 6;
        ExecutorService pool = Executors.newFixedThreadPool(6);
        ConcurrentLinkedQueue<String> expected = new ConcurrentLinkedQueue<>();
        try {
            List<Future<?>> work = new ArrayList<>();
            for (int i = 0; i < hosts.size(); i++) {
                StrataCore core = h(i);
                String host = "h" + (i + 1);
                for (int t = 0; t < 2; t++) {
                    int thread = t;
                    work.add(pool.submit(() -> {
                        for (int n = 0; n < perHost / 2; n++) {
                            String name = host + "-t" + thread + "-v" + n;
                            VolumeRef ref = VolumeRef.parse("ds/" + name);
                            core.create(ref, 4L << 20, n % 2 == 0 ? "vhd" : "qcow2", Provisioning.THIN);
                            new SnapshotServiceImpl(core).create(ref, "s1");
                            if (n == 1) {
                                core.delete(ref);
                            } else {
                                expected.add(name);
                            }
                        }
                        return null;
                    }));
                }
            }
            for (Future<?> f : work) {
                f.get();
            }
        } finally {
            pool.shutdownNow();
        }
        Set<String> want = new TreeSet<>(expected);
        assertEquals(hosts.size() * perHost * 2 / 3, want.size());
        for (StrataCore core : hosts) {
            await("every host lists every volume", () -> names(core).equals(want));
        }
        // What the catalog says, the storage has: every image is there, nothing else.
        Set<String> images;
        try (var s = Files.list(tmp.resolve("shared"))) {
            images = s.map(p -> p.getFileName().toString()).filter(n -> !n.startsWith("."))
                    .collect(Collectors.toCollection(TreeSet::new));
        }
        Catalog stored = CatalogCodec.decode("ds", Files.readAllBytes(tmp.resolve("shared").resolve(Catalog.FILE)));
        for (StrataCore core : hosts) {
            await("every host has read the last catalog", () -> core.mounted("ds").catalog().equals(stored));
        }
        Set<String> named = new TreeSet<>();
        for (String v : want) {
            CatalogEntry e = stored.find(v).orElseThrow();
            assertEquals(1, e.snapshots().size(), v + " keeps its snapshot");
            named.add(e.file());
            e.snapshots().forEach(sn -> named.add(sn.file()));
        }
        assertEquals(named, images);
    }

    @Test
    void aVolumeOpenOnOneHostIsRefusedOnAnotherNamingTheHolder() throws Exception {
        VolumeRef v = VolumeRef.parse("ds/vm1");
        h(0).create(v, 8L << 20, "vhd", Provisioning.THIN);
        byte[] data = "written by h1".getBytes(StandardCharsets.UTF_8);
        try (VirtualDisk d = h(0).open(v, false)) {
            d.write(ByteBuffer.wrap(data), 4096);
            d.flush();
            StorageException e = fails(ErrorCode.VOLUME_IN_USE, () -> h(1).open(v, false));
            assertTrue(e.getMessage().contains("h1"), e.getMessage());
            fails(ErrorCode.VOLUME_IN_USE, () -> h(1).open(v, true));
            fails(ErrorCode.VOLUME_IN_USE, () -> new SnapshotServiceImpl(h(2)).create(v, "s"));
            fails(ErrorCode.VOLUME_IN_USE, () -> h(2).delete(v));
            fails(ErrorCode.VOLUME_IN_USE, () -> h(2).resize(v, 16L << 20));
            // The holder itself may snapshot its open volume.
            new SnapshotServiceImpl(h(0)).create(v, "s");
            // A linked clone of an existing snapshot writes nothing of the volume: any host makes one
            // while h1 holds it, and several hosts at once; one without a snapshot needs the volume.
            h(1).clone(v, "s", VolumeRef.parse("ds/kid2"), true, null, null);
            h(2).clone(v, "s", VolumeRef.parse("ds/kid3"), true, null, null);
            fails(ErrorCode.VOLUME_IN_USE, () -> h(1).clone(v, null, VolumeRef.parse("ds/kid4"), true, null, null));
            try (VirtualDisk kid = h(2).open(VolumeRef.parse("ds/kid3"), true)) {
                ByteBuffer got = ByteBuffer.allocate(data.length);
                kid.read(got, 4096);
                assertArrayEquals(data, got.array(), "the clone sees its base's data");
            }
            // A snapshot with clones is not deleted under them.
            fails(ErrorCode.VOLUME_IN_USE, () -> new SnapshotServiceImpl(h(0)).delete(v, "s"));
        }
        // Released with the handle: another host opens it at once and reads what h1 flushed.
        try (VirtualDisk d = h(1).open(v, false)) {
            ByteBuffer got = ByteBuffer.allocate(data.length);
            d.read(got, 4096);
            assertArrayEquals(data, got.array());
            assertEquals(1, new SnapshotServiceImpl(h(1)).list(v).size(), "h2 sees the snapshot h1 took");
        }
    }

    @Test
    void oneHostsChangesReachTheOthersWithinSeconds() throws Exception {
        h(0).create(VolumeRef.parse("ds/new"), 1L << 20, "raw", Provisioning.THIN);
        await("h2 and h3 list the new volume", () -> names(h(1)).contains("new") && names(h(2)).contains("new"));
        h(2).delete(VolumeRef.parse("ds/new"));
        await("h1 no longer lists it", () -> !names(h(0)).contains("new"));
    }

    @Test
    void aLiveHostsIntentIsLeftAloneAndADeadOnesIsRolledBack() throws Exception {
        // h1 starts a create and stops half-way: its CREATING entry is in the catalog, it holds the lease.
        MountedDatastore m1 = h(0).mounted("ds");
        Claim claim;
        try (MountedDatastore.Tx tx = m1.tx()) {
            claim = m1.claimNew("half");
            synchronized (m1.lock) {
                m1.writeCatalog(m1.placed(m1.catalog.put(new CatalogEntry("half", "half.vhd", "vhd",
                        Provisioning.THIN, 1L << 20, MountedDatastore.now(), CatalogEntry.State.CREATING, null, null,
                        0)), "half"));
            }
        }
        Files.write(tmp.resolve("shared/half.vhd"), new byte[512]);
        MountedDatastore m2 = h(1).mounted("ds");
        await("h2 sees the half-made volume", () -> m2.catalog().find("half").isPresent());
        m2.recovery.recoverShared();
        assertEquals(CatalogEntry.State.CREATING, m2.catalog().find("half").orElseThrow().state(),
                "a live host's intent is not touched");
        assertTrue(Files.exists(tmp.resolve("shared/half.vhd")));
        // h1 goes away (its lease on the volume is given up): the others finish its intent.
        claim.close();
        h(0).close();
        await("the half-made volume is rolled back", () -> h(1).mounted("ds").catalog().find("half").isEmpty()
                && h(2).mounted("ds").catalog().find("half").isEmpty());
        assertTrue(Files.notExists(tmp.resolve("shared/half.vhd")));
    }

    @Test
    void aCatalogChangedBehindTheLeaseIsNeverOverwritten() throws Exception {
        MountedDatastore m1 = h(0).mounted("ds");
        h(0).create(VolumeRef.parse("ds/a"), 1L << 20, "raw", Provisioning.THIN);
        // Someone writes the catalog without the lease (a host that does not respect it).
        byte[] stray = CatalogCodec.encode(m1.catalog().remove("a").put(m1.catalog().find("a").orElseThrow()
                .withVirtualSize(2L << 20)));
        try (MountedDatastore.Tx tx = m1.tx()) {
            Files.write(tmp.resolve("shared").resolve(Catalog.FILE), stray);
            StorageException e = fails(ErrorCode.LOCKED, () -> {
                synchronized (m1.lock) {
                    m1.writeCatalog(m1.catalog.remove("a"));
                }
            });
            assertTrue(e.getMessage().contains("nothing was written"), e.getMessage());
        }
        assertArrayEquals(stray, Files.readAllBytes(tmp.resolve("shared").resolve(Catalog.FILE)));
    }
}

package io.strata.core.internal;

import static io.strata.core.internal.Assertions2.fails;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.api.Capability;
import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.device.DeviceInfo;
import io.strata.api.device.DeviceKind;
import io.strata.api.device.StorageDevice;
import io.strata.api.device.StorageResource;
import io.strata.api.format.CheckReport;
import io.strata.api.format.Provisioning;
import io.strata.api.format.VirtualDisk;
import io.strata.api.fs.Datastore;
import io.strata.api.fs.DatastoreFile;
import io.strata.api.fs.DatastoreFilesystem;
import io.strata.api.fs.FileStat;
import io.strata.api.fs.SpaceInfo;
import io.strata.api.service.Availability;
import io.strata.api.service.DatastoreInfo;
import io.strata.api.service.HostInfo;
import io.strata.api.service.VolumeRef;
import io.strata.lease.ClusteredFilesystem;
import io.strata.lease.HostIdentity;
import io.strata.lease.HostStatus;
import io.strata.lease.LeaseParticipant;
import io.strata.lease.Lockspace;
import io.strata.lease.LockspaceLayout;
import io.strata.lease.LockspaceProvider;
import io.strata.lease.Lockspaces;
import io.strata.lease.ResourceLease;
import io.strata.lease.SectorStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A clustered filesystem layer ({@link ClusteredFilesystem}) whose datastores keep their own
 * lockspace ({@link LockspaceProvider}): the core mounts it with this host as participant and
 * takes the catalog and volume leases in the view the datastore gives, with no lockspace file of
 * its own. The fake layer keeps its lockspace with the real lease library in a file beside the
 * datastore's directory and reserves its first areas for itself.
 */
class ClusteredDatastoreTest {
    /** The areas the fake layer keeps for itself; the core's area n is the lockspace's n + this. */
    static final int LAYER_AREAS = 3;

    @TempDir
    Path tmp;
    ClusteredFs fs;
    StrataCore core;

    @BeforeEach
    void start() {
        fs = new ClusteredFs(tmp.resolve("lockspace"));
        core = new StrataCore(new MemoryConfigStore(), new CoreSettings(false, "local", tmp.resolve("default"),
                tmp.resolve("state")).withLease(SharedHosts.FAST, "h1"));
        core.addFormat(TestFormat.raw(), "raw", "io.strata.test.raw");
        core.addDriver(new TestDriver(), "local", "io.strata.test.driver");
        core.addFilesystem(fs, "clustered", "io.strata.test.clustered");
        new ResourceServiceImpl(core).add("lun", "local", Map.of("kind", "directory", "path",
                tmp.resolve("ds").toString()));
        core.create("ds", "clustered", "lun", Map.of(), false);
    }

    @AfterEach
    void stop() {
        core.close();
    }

    private static void await(String what, BooleanSupplier done) throws InterruptedException {
        long end = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (!done.getAsBoolean()) {
            if (System.nanoTime() > end) {
                throw new AssertionError("timed out waiting until " + what);
            }
            Thread.sleep(20);
        }
    }

    @Test
    void theClusteredMountIsCalledWithThisHostAndNoLockspaceFileIsMade() {
        assertEquals(0, fs.plainMounts, "DatastoreFilesystem.mount is not called");
        assertEquals(1, fs.mounted.size());
        LeaseParticipant p = fs.mounted.get(0).participant;
        HostInfo host = core.host();
        assertEquals(new HostIdentity(host.id(), "h1"), p.me());
        assertEquals(SharedHosts.FAST, p.settings());
        assertFalse(Files.exists(tmp.resolve("ds").resolve(SharedAccess.LOCKSPACE_FILE)),
                "the core made no lockspace file");
        // host-info shows the datastore's lockspace, this host in the slot the layer joined
        assertEquals(1, host.shared().size());
        assertEquals(fs.mounted.get(0).lockspace.slot(), host.shared().get(0).slot());
        assertEquals(Availability.ONLINE, core.info("ds").state());
    }

    @Test
    void catalogAndVolumeLeasesAreTakenInTheViewTheDatastoreGives() throws Exception {
        ClusteredDs ds = fs.mounted.get(0);
        VolumeRef ref = VolumeRef.parse("ds/vm1");
        core.create(ref, 1L << 20, "raw", Provisioning.THIN);
        assertTrue(ds.view.taken.contains("0 catalog"), ds.view.taken.toString());
        int area = core.mounted("ds").catalog().area("vm1");
        assertTrue(area > SharedAccess.CATALOG_AREA, "area " + area);
        try (VirtualDisk d = core.open(ref, false)) {
            assertTrue(ds.view.taken.contains(area + " volume vm1"), ds.view.taken.toString());
            // In the layer's lockspace the core's area n is area n + LAYER_AREAS, held by this host.
            assertEquals(Optional.of(ds.participant.me()), ds.lockspace.holder(area + LAYER_AREAS));
            assertEquals(Optional.empty(), ds.lockspace.holder(area));
            // A second host of the same lockspace sees the lease and cannot take it.
            try (SectorStore store = Lockspaces.pathStore(fs.lockspaceFile, 512, ClusteredFs.SECTORS);
                    Lockspace other = Lockspaces.join(store, new HostIdentity(UUID.randomUUID(), "h2"),
                            SharedHosts.FAST, io.strata.lease.LeaseClock.SYSTEM, null)) {
                assertEquals(Optional.of(ds.participant.me()), other.holder(area + LAYER_AREAS));
            }
        }
        assertEquals(Optional.empty(), ds.lockspace.holder(area + LAYER_AREAS), "released with the handle");
    }

    @Test
    void unmountClosesTheViewAndTheDatastoreLeavesTheLockspace() {
        ClusteredDs ds = fs.mounted.get(0);
        VolumeRef ref = VolumeRef.parse("ds/vm1");
        core.create(ref, 1L << 20, "raw", Provisioning.THIN);
        int area = core.mounted("ds").catalog().area("vm1");
        VirtualDisk open = core.open(ref, true);
        assertEquals(Optional.of(ds.participant.me()), ds.lockspace.holder(area + LAYER_AREAS));
        core.close();
        assertTrue(ds.view.closed, "the core closed the view");
        assertTrue(ds.view.slotHeldWhenClosed, "closing the view left the slot to the layer");
        assertTrue(ds.view.leases.isEmpty(), "closing the view released the leases taken through it");
        assertTrue(ds.closed, "the datastore was unmounted");
        assertFalse(ds.lockspace.valid(), "the datastore's own close left the lockspace");
        open.close();
    }

    @Test
    void aFenceOfTheLayerTakesThisDatastoreOfflineAndItJoinsAgain() throws Exception {
        ClusteredDs first = fs.mounted.get(0);
        first.participant.onFence().run();
        await("the datastore is mounted again", () -> fs.mounted.size() == 2
                && core.info("ds").state() == Availability.ONLINE);
        assertTrue(first.closed);
        assertTrue(first.view.closed);
    }

    @Test
    void withoutSharingAClusteredLayerIsRefusedBeforeItsDeviceIsOpened() {
        StorageResource res = new StorageResource() {
            @Override
            public String name() {
                return "lun";
            }

            @Override
            public String driverType() {
                return "local";
            }

            @Override
            public Map<String, String> parameters() {
                return Map.of();
            }

            @Override
            public List<DeviceInfo> devices() {
                return List.of();
            }

            @Override
            public StorageDevice openDevice(String deviceId) {
                throw new AssertionError("the device is not opened");
            }

            @Override
            public void close() {
            }
        };
        StorageException e = fails(ErrorCode.UNSUPPORTED, () -> MountedDatastore.mount(
                new HostConfig.Datastore("x", "clustered", "lun", "dir", Map.of()), res, fs,
                new PluginSet<>(), false, false));
        assertTrue(e.getMessage().contains("lockspace"), e.getMessage());
        assertEquals(1, fs.mounted.size());
    }

    @Test
    void checkGrowAndDetailsReachTheLayer() {
        ClusteredDs ds = fs.mounted.get(0);
        DatastoreInfo info = core.info("ds");
        assertEquals(List.of("block size", "hosts"), List.copyOf(info.details().keySet()), "the layer's order");
        assertEquals("h1 (slot " + ds.lockspace.slot() + ", alive)", info.details().get("hosts"));

        CheckReport clean = core.check("ds", false);
        assertTrue(clean.clean());
        assertEquals(List.of(false), ds.checks);
        core.check("ds", true);
        assertEquals(List.of(false, true), ds.checks);

        long before = core.info("ds").capacity();
        DatastoreInfo grown = core.grow("ds");
        assertEquals(before * 2, grown.capacity());
        assertEquals(1, ds.grows);

        ds.detailsFail = true;
        assertEquals(Map.of(), core.info("ds").details(), "a failing details() leaves them empty");
        fails(ErrorCode.DATASTORE_NOT_FOUND, () -> core.check("nope", false));
        fails(ErrorCode.DATASTORE_NOT_FOUND, () -> core.grow("nope"));
    }

    @Test
    void growMountsAgainOnANewHandleWhenTheMountsHandleStillSeesTheOldSize() {
        java.util.concurrent.atomic.AtomicLong size = new java.util.concurrent.atomic.AtomicLong(1L << 30);
        Path dir = tmp.resolve("big");
        StorageResource res = new StorageResource() {
            @Override
            public String name() {
                return "big";
            }

            @Override
            public String driverType() {
                return "growing";
            }

            @Override
            public Map<String, String> parameters() {
                return Map.of();
            }

            @Override
            public List<DeviceInfo> devices() {
                return List.of(new DeviceInfo("big", "dir", DeviceKind.FILE_SHARE, size.get(), 0, "growing share"));
            }

            @Override
            public StorageDevice openDevice(String deviceId) {
                // As drivers do: the size is read when the device is opened.
                return new TestDriver.Share(devices().get(0), dir);
            }

            @Override
            public void close() {
            }
        };
        try {
            Files.createDirectories(dir);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        core.addDriver(new io.strata.api.device.StorageDriver() {
            @Override
            public String type() {
                return "growing";
            }

            @Override
            public String description() {
                return "a share that grows";
            }

            @Override
            public Set<Capability> capabilities() {
                return Set.of(Capability.FILE_SHARES);
            }

            @Override
            public Map<String, String> parameters() {
                return Map.of();
            }

            @Override
            public StorageResource attach(String name, Map<String, String> parameters) {
                return res;
            }
        }, "growing", "io.strata.test.growing");
        new ResourceServiceImpl(core).add("big", "growing", Map.of());
        core.create("ds2", "clustered", "big", Map.of(), false);
        VolumeRef ref = VolumeRef.parse("ds2/vm1");
        core.create(ref, 1L << 20, "raw", Provisioning.THIN);
        ClusteredDs first = fs.mounted.get(fs.mounted.size() - 1);
        long before = core.info("ds2").capacity();

        // Not grown: the same mount grows (nothing), no remount.
        assertEquals(before * 2, core.grow("ds2").capacity());
        assertEquals(2, fs.mounted.size());

        size.set(2L << 30);
        VirtualDisk open = core.open(ref, true);
        try {
            // The layer's grow saw nothing new through the old handle and a volume is open.
            first.growTo = first.capacityFactor;
            StorageException e = fails(ErrorCode.VOLUME_IN_USE, () -> core.grow("ds2"));
            assertTrue(e.getMessage().contains("vm1"), e.getMessage());
            assertEquals(2, fs.mounted.size(), "not mounted again while a volume is open");
        } finally {
            open.close();
        }
        DatastoreInfo grown = core.grow("ds2");
        assertEquals(3, fs.mounted.size(), "mounted again on a new handle");
        assertTrue(first.closed);
        ClusteredDs second = fs.mounted.get(2);
        assertEquals(1, second.grows);
        assertEquals(Availability.ONLINE, grown.state());
        assertEquals(before * 2, grown.capacity());
        assertEquals(List.of("vm1"), core.list("ds2").stream().map(v -> v.name()).toList());
    }

    @Test
    void aFencedHostChecksAndGrowsNothing() {
        ClusteredDs ds = fs.mounted.get(0);
        ds.lockspace.close(); // as a host that could not renew: the view is no longer valid
        fails(ErrorCode.DEVICE_UNAVAILABLE, () -> core.mounted("ds").datastore().check(false));
        fails(ErrorCode.DEVICE_UNAVAILABLE, () -> core.mounted("ds").datastore().grow());
        assertNotNull(core.mounted("ds").datastore().details());
    }

    // ------------------------------------------------------------------ the fake layer

    /** Mounts {@link ClusteredDs}s; its plain mount must not be used by the core. */
    static final class ClusteredFs implements DatastoreFilesystem, ClusteredFilesystem {
        static final LockspaceLayout LAYOUT = new LockspaceLayout(8, 64);
        static final long SECTORS = Lockspaces.sectorsNeeded(LAYOUT, 512);
        final Path lockspaceFile;
        final List<ClusteredDs> mounted = new CopyOnWriteArrayList<>();
        volatile int plainMounts;

        ClusteredFs(Path lockspaceFile) {
            this.lockspaceFile = lockspaceFile;
        }

        @Override
        public String type() {
            return "clustered";
        }

        @Override
        public String description() {
            return "fake clustered filesystem";
        }

        @Override
        public Set<Capability> capabilities() {
            return EnumSet.of(Capability.LOCAL_PATHS, Capability.SPARSE_FILES, Capability.SHARED);
        }

        @Override
        public DeviceKind deviceKind() {
            return DeviceKind.FILE_SHARE;
        }

        @Override
        public void format(StorageDevice device, Map<String, String> options, boolean force) {
            throw new StorageException(ErrorCode.UNSUPPORTED, "no format");
        }

        @Override
        public Datastore mount(String datastoreName, StorageDevice device, Map<String, String> options) {
            plainMounts++;
            throw new StorageException(ErrorCode.UNSUPPORTED, "a clustered datastore needs a participant");
        }

        @Override
        public Datastore mount(String datastoreName, StorageDevice device, Map<String, String> options,
                LeaseParticipant participant) {
            // One lockspace per device: the one of "ds" is lockspaceFile.
            Path dir = device.localPath().orElseThrow();
            Path file = dir.getFileName().toString().equals("ds") ? lockspaceFile
                    : dir.resolveSibling(dir.getFileName() + ".lockspace");
            SectorStore store = Lockspaces.pathStore(file, 512, SECTORS);
            if (!Lockspaces.formatted(store)) {
                Lockspaces.format(store, "clustered", LAYOUT);
            }
            Lockspace ls = Lockspaces.join(store, participant.me(), participant.settings(), participant.clock(),
                    participant.onFence());
            ClusteredDs ds = new ClusteredDs(new TestDatastore(datastoreName, device.localPath().orElseThrow(),
                    new Faults(), 64L << 20), participant, ls, store);
            mounted.add(ds);
            return ds;
        }
    }

    /** A shared datastore over a {@link TestDatastore} whose lockspace the layer joined at mount. */
    static final class ClusteredDs implements Datastore, LockspaceProvider {
        final TestDatastore files;
        final LeaseParticipant participant;
        final Lockspace lockspace;
        final SectorStore store;
        final List<Boolean> checks = new CopyOnWriteArrayList<>();
        volatile long capacityFactor = 1;
        /** What {@link #grow} makes of the capacity: twice the device's first size, as if it had doubled. */
        volatile long growTo = 2;
        volatile int grows;
        volatile boolean detailsFail;
        volatile boolean closed;
        View view;

        ClusteredDs(TestDatastore files, LeaseParticipant participant, Lockspace lockspace, SectorStore store) {
            this.files = files;
            this.participant = participant;
            this.lockspace = lockspace;
            this.store = store;
        }

        @Override
        public synchronized Lockspace sharedLockspace() {
            view = new View(lockspace);
            return view;
        }

        @Override
        public String name() {
            return files.name();
        }

        @Override
        public String filesystemType() {
            return "clustered";
        }

        @Override
        public Set<Capability> capabilities() {
            return EnumSet.of(Capability.LOCAL_PATHS, Capability.SPARSE_FILES, Capability.SHARED);
        }

        @Override
        public SpaceInfo space() {
            SpaceInfo s = files.space();
            long f = capacityFactor;
            return new SpaceInfo(s.capacity() * f, s.free() + s.capacity() * (f - 1));
        }

        @Override
        public Optional<Path> localPath() {
            return files.localPath();
        }

        @Override
        public List<String> list() {
            return files.list();
        }

        @Override
        public boolean exists(String name) {
            return files.exists(name);
        }

        @Override
        public FileStat stat(String name) {
            return files.stat(name);
        }

        @Override
        public DatastoreFile create(String name) {
            return files.create(name);
        }

        @Override
        public DatastoreFile open(String name, boolean writable) {
            return files.open(name, writable);
        }

        @Override
        public void delete(String name) {
            files.delete(name);
        }

        @Override
        public void rename(String from, String to) {
            files.rename(from, to);
        }

        @Override
        public void writeAtomically(String name, byte[] content) {
            files.writeAtomically(name, content);
        }

        @Override
        public byte[] readAll(String name) {
            return files.readAll(name);
        }

        @Override
        public CheckReport check(boolean repair) {
            checks.add(repair);
            return new CheckReport(".clustered-meta", List.of(), List.of(), List.of(), 0);
        }

        @Override
        public SpaceInfo grow() {
            grows++;
            capacityFactor = growTo;
            return space();
        }

        @Override
        public Map<String, String> details() {
            if (detailsFail) {
                throw new StorageException(ErrorCode.IO_ERROR, "cannot read the heartbeat region");
            }
            Map<String, String> d = new LinkedHashMap<>();
            d.put("block size", "1 MiB");
            d.put("hosts", participant.me().name() + " (slot " + lockspace.slot() + ", alive)");
            return d;
        }

        /** Leaves the lockspace (the slot), then the files. */
        @Override
        public void close() {
            closed = true;
            lockspace.close();
            store.close();
            files.close();
        }
    }

    /**
     * The core's view of the layer's lockspace: areas shifted past {@link #LAYER_AREAS}; closing
     * it releases the leases taken through it and leaves the slot.
     */
    static final class View implements Lockspace {
        final Lockspace ls;
        final List<String> taken = new CopyOnWriteArrayList<>();
        final List<ResourceLease> leases = new CopyOnWriteArrayList<>();
        volatile boolean closed;
        volatile boolean slotHeldWhenClosed;

        View(Lockspace ls) {
            this.ls = ls;
        }

        @Override
        public HostIdentity me() {
            return ls.me();
        }

        @Override
        public int slot() {
            return ls.slot();
        }

        @Override
        public long generation() {
            return ls.generation();
        }

        @Override
        public boolean valid() {
            return !closed && ls.valid();
        }

        @Override
        public void checkValid() {
            if (closed) {
                throw new StorageException(ErrorCode.DEVICE_UNAVAILABLE, "the view is closed");
            }
            ls.checkValid();
        }

        @Override
        public List<HostStatus> hosts() {
            return ls.hosts();
        }

        @Override
        public boolean isDead(UUID host) {
            return ls.isDead(host);
        }

        @Override
        public int areas() {
            return ls.areas() - LAYER_AREAS;
        }

        @Override
        public ResourceLease acquire(int area, String resource, Duration wait) {
            checkValid();
            if (area < 0 || area >= areas()) {
                throw new StorageException(ErrorCode.OUT_OF_RANGE, "area " + area);
            }
            ResourceLease l = ls.acquire(area + LAYER_AREAS, resource, wait);
            taken.add(area + " " + resource);
            ResourceLease mine = new ResourceLease() {
                @Override
                public String resource() {
                    return l.resource();
                }

                @Override
                public int area() {
                    return area;
                }

                @Override
                public boolean valid() {
                    return l.valid();
                }

                @Override
                public void close() {
                    leases.remove(this);
                    l.close();
                }
            };
            leases.add(mine);
            return mine;
        }

        @Override
        public Optional<HostIdentity> holder(int area) {
            return ls.holder(area + LAYER_AREAS);
        }

        @Override
        public void close() {
            slotHeldWhenClosed = ls.valid();
            closed = true;
            for (ResourceLease l : new ArrayList<>(leases)) {
                l.close();
            }
        }
    }
}

package io.strata.core.internal;

import static java.util.Objects.requireNonNull;

import io.strata.api.Bounds;
import io.strata.api.Capability;
import io.strata.api.ErrorCode;
import io.strata.api.Names;
import io.strata.api.Sizes;
import io.strata.api.StorageException;
import io.strata.api.device.BlockDevice;
import io.strata.api.device.DeviceState;
import io.strata.api.device.StorageDevice;
import io.strata.api.device.StorageResource;
import io.strata.api.format.BackingResolver;
import io.strata.api.format.CheckReport;
import io.strata.api.format.DiskFormat;
import io.strata.api.format.DiskSpec;
import io.strata.api.format.ImageInfo;
import io.strata.api.format.Provisioning;
import io.strata.api.format.VirtualDisk;
import io.strata.api.fs.Datastore;
import io.strata.api.fs.DatastoreFile;
import io.strata.api.fs.DatastoreFilesystem;
import io.strata.api.fs.ShareFiles;
import io.strata.api.fs.SpaceInfo;
import io.strata.api.service.VolumeInfo;
import io.strata.api.service.VolumeRef;
import io.strata.api.service.VolumeState;
import io.strata.lease.ClusteredFilesystem;
import io.strata.lease.LeaseParticipant;
import io.strata.lease.LockspaceProvider;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A mounted datastore with its volume catalog and its open volumes. One
 * instance lives from a mount to the unmount (or to the disappearance of its
 * driver or filesystem); a re-mount makes a new instance, so an operation still
 * running on an old one can only fail, never touch the new catalog.
 *
 * <p>Catalog write ordering (each step one atomic replace of the catalog file):
 * create = entry CREATING, file written and flushed, entry READY; delete = entry
 * DELETING, file deleted, entry removed. At mount, CREATING entries are rolled
 * back and DELETING ones finished, so a crash at any point never leaves a
 * half-made volume listed as READY.
 *
 * <p>Threading: {@link #lock} guards the catalog, the leases and the busy set,
 * and is held only for checks, small catalog writes and bookkeeping; the long
 * work (format create, zeroing, copies, resize) runs without it, protected by
 * the volume's CREATING state or the busy set. This class never calls back
 * into the core.
 */
final class MountedDatastore {
    private static final Logger LOG = LoggerFactory.getLogger(MountedDatastore.class);
    /** Room kept free beyond a thick volume's size for format metadata and the catalog. */
    static final long METADATA_MARGIN = 1L << 20;
    private static final String IMPORT_PREFIX = ".strata-import-";

    final String name;
    final Datastore datastore;
    private final StorageDevice device;
    private final DatastoreFilesystem filesystem;
    final PluginSet<DiskFormat> formats;
    final Object lock = new Object();
    /**
     * Serializes this host's catalog changes ({@link Tx}); taken before {@link #lock}, never
     * while holding it.
     */
    final java.util.concurrent.locks.ReentrantLock catalogLock = new java.util.concurrent.locks.ReentrantLock();
    /** On a shared datastore: the lockspace and leases; null on a datastore of one host. */
    volatile SharedAccess sharedAccess;
    /** The catalog lease of the outermost {@link Tx}, guarded by {@link #catalogLock}. */
    private io.strata.lease.ResourceLease catalogLease;
    /** Guarded by {@link #lock}: lease areas given to volumes being created (see {@link #claimNew}). */
    private final Map<String, Integer> newAreas = new HashMap<>();
    /** Written under {@link #lock}; read without it by listings and by the core after an unmount. */
    volatile Catalog catalog = Catalog.EMPTY;

    /**
     * Room kept for catalog updates: a datastore filled by its volumes' writes can still record
     * their deletion (the reserve is given up, the delete goes on, and it is taken again once
     * space is free).
     */
    static final String RESERVE = ".strata-catalog.reserve";
    private static final long RESERVE_MIN = 256 << 10;
    private static final int RESERVE_CHUNK = 64 << 10;
    /** Guarded by {@link #lock}: the reserve's size as last written, 0 when unknown. */
    private long reserveBytes;
    boolean closed;
    private String closedReason = "";
    final Map<String, List<Lease>> leases = new HashMap<>();
    final Set<String> busy = new HashSet<>();
    private final Map<String, Long> reserved = new HashMap<>();
    /** The open chain of each volume with handles; guarded by {@link #lock}. */
    final Map<String, SharedDisk> shared = new HashMap<>();
    /** Resolves parents by plain file name in this datastore, read-only. */
    final io.strata.api.format.BackingResolver resolver = this::openBacking;

    /** A claim on a volume by an open (or opening) handle. */
    static final class Lease {
        final String volume;
        final String format;
        final boolean writer;
        VolumeHandle handle;
        SharedDisk disk;
        boolean invalid;
        /** The volume's lease on a shared datastore, given back when the handle closes. */
        Claim claim = Claim.NONE;

        Lease(String volume, String format, boolean writer) {
            this.volume = volume;
            this.format = format;
            this.writer = writer;
        }
    }

    /** Finishes or undoes interrupted work (at mount; on a shared datastore also every few seconds). */
    final Recovery recovery = new Recovery(this);

    /** Per-volume accounting and QoS of the core; set after the mount, null in some tests. */
    volatile IoRegistry io;

    MountedDatastore(String name, Datastore datastore, StorageDevice device, DatastoreFilesystem filesystem,
            PluginSet<DiskFormat> formats) {
        this.name = requireNonNull(name, "name");
        this.datastore = requireNonNull(datastore, "datastore");
        this.device = device;
        this.filesystem = filesystem;
        this.formats = requireNonNull(formats, "formats");
    }

    /**
     * Opens the device, formats it when asked, mounts it, reads the catalog and recovers
     * interrupted operations. On failure everything opened is closed again.
     */
    static MountedDatastore mount(HostConfig.Datastore config, StorageResource resource,
            DatastoreFilesystem filesystem, PluginSet<DiskFormat> formats, boolean format, boolean force) {
        return mount(config, resource, filesystem, formats, format, force, null);
    }

    /**
     * As above; a datastore its layer declares {@link Capability#SHARED} is joined through
     * {@code sharing} (its lockspace, then the catalog under the catalog lease, then recovery of
     * the intents no live host holds). Without {@code sharing} a shared datastore is refused.
     *
     * <p>A layer that is a {@link ClusteredFilesystem} is mounted through its own method, with
     * this host as the {@link LeaseParticipant}, and is refused without {@code sharing}. When
     * the shared datastore is a {@link LockspaceProvider}, the catalog and volume leases are
     * taken in the view of its lockspace it gives; otherwise in the lockspace file
     * {@value SharedAccess#LOCKSPACE_FILE} the core keeps in the datastore.
     */
    static MountedDatastore mount(HostConfig.Datastore config, StorageResource resource,
            DatastoreFilesystem filesystem, PluginSet<DiskFormat> formats, boolean format, boolean force,
            Sharing sharing) {
        return mount(config, resource, filesystem, formats, format, force, sharing, false);
    }

    /** @param deferMerges leave interrupted snapshot deletes to {@link #resume} (see {@link #deferMerges}) */
    static MountedDatastore mount(HostConfig.Datastore config, StorageResource resource,
            DatastoreFilesystem filesystem, PluginSet<DiskFormat> formats, boolean format, boolean force,
            Sharing sharing, boolean deferMerges) {
        String dsName = config.name();
        ClusteredFilesystem clustered = filesystem instanceof ClusteredFilesystem cf ? cf : null;
        if (clustered != null && sharing == null) {
            // Its datastores are always shared: refused before the device is touched.
            throw new StorageException(ErrorCode.UNSUPPORTED, "datastore '" + dsName + "' is on the clustered "
                    + "filesystem layer and this mount cannot join its lockspace");
        }
        StorageDevice device = resource.openDevice(config.device());
        Datastore ds = null;
        SharedAccess access = null;
        try {
            if (format) {
                filesystem.format(device, config.options(), force);
            }
            if (clustered != null) {
                // The layer coordinates the hosts through a lockspace on the device: it joins it.
                ds = clustered.mount(dsName, device, config.options(), new LeaseParticipant(sharing.me(),
                        sharing.settings(), sharing.clock(), () -> sharing.onFence().accept(dsName)));
            } else {
                ds = filesystem.mount(dsName, device, config.options());
            }
            MountedDatastore m;
            if (ds.capabilities().contains(Capability.SHARED)) {
                if (sharing == null) {
                    throw new StorageException(ErrorCode.UNSUPPORTED, "datastore '" + dsName
                            + "' is shared and this mount cannot join its lockspace");
                }
                if (ds instanceof LockspaceProvider provider) {
                    // The layer's own lockspace: one slot and one heartbeat per host, no lockspace file.
                    access = SharedAccess.over(dsName, provider.sharedLockspace(), sharing.settings());
                } else {
                    access = SharedAccess.join(dsName, ds, sharing.me(), sharing.settings(), sharing.clock(),
                            () -> sharing.onFence().accept(dsName));
                }
                // The lockspace above writes through ds itself; everything else goes through a view
                // whose layer checks the lease again right before each request leaves the host.
                m = new MountedDatastore(dsName, new FencedDatastore(ds.fenced(access::checkValid), access), device,
                        filesystem, formats);
                m.sharedAccess = access;
                m.maintenanceEvery = sharing.settings().renewal();
            } else {
                m = new MountedDatastore(config.name(), ds, device, filesystem, formats);
            }
            m.recovery.deferMerges = deferMerges;
            m.load();
            m.startMaintenance();
            return m;
        } catch (RuntimeException e) {
            if (access != null) {
                access.close();
            }
            if (ds != null) {
                closeQuietly(ds);
            }
            closeQuietly(device);
            throw e;
        }
    }

    /** On a shared datastore: how often the catalog is read again and dead hosts' intents are looked for. */
    private java.time.Duration maintenanceEvery;
    private volatile Thread maintenance;

    private void startMaintenance() {
        if (sharedAccess == null || maintenanceEvery == null) {
            return;
        }
        long every = Math.max(1, maintenanceEvery.toMillis());
        Thread t = new Thread(() -> {
            while (!closed && !Thread.currentThread().isInterrupted()) {
                try {
                    Thread.sleep(every);
                    refresh();
                    recovery.recoverShared();
                } catch (InterruptedException e) {
                    return;
                } catch (RuntimeException e) {
                    LOG.debug("datastore {}: maintenance pass failed: {}", name, e.getMessage());
                }
            }
        }, "strata-shared-" + name);
        t.setDaemon(true);
        maintenance = t;
        t.start();
    }

    /**
     * @return the size of the device as the handle this mount opened reports it: a block device's
     *         {@code size()}, a share's capacity, -1 when unknown (a mount made without a device)
     */
    long deviceSize() {
        return sizeOf(device);
    }

    /** @return a block device's {@code size()}, else the size in its {@code info()}; -1 when unknown */
    static long sizeOf(StorageDevice device) {
        if (device == null) {
            return -1;
        }
        return device instanceof BlockDevice b ? b.size() : device.info().size();
    }

    /** @return the volumes with open handles or an operation under way, sorted */
    List<String> volumesInUse() {
        synchronized (lock) {
            Set<String> all = new TreeSet<>(leases.keySet());
            all.addAll(busy);
            return List.copyOf(all);
        }
    }

    /** @return the shared datastore's lockspace view for host-info, or null on a datastore of one host */
    SharedAccess sharedAccess() {
        return sharedAccess;
    }

    String name() {
        return name;
    }

    Datastore datastore() {
        return datastore;
    }

    DatastoreFilesystem filesystem() {
        return filesystem;
    }

    /** @return the last catalog read or written; readable after the unmount */
    Catalog catalog() {
        return catalog;
    }

    // ---------------------------------------------------------------- mount and recovery

    /**
     * Reads the catalog (an empty one is written when there is none) and recovers. On a shared
     * datastore only the intents no live host holds are recovered (see {@link Recovery#recoverShared}).
     */
    void load() {
        try (Tx tx = tx()) {
            Catalog c = datastore.exists(Catalog.FILE) ? CatalogCodec.decode(name, datastore.readAll(Catalog.FILE))
                    : null;
            if (c == null) {
                c = Catalog.EMPTY;
                datastore.writeAtomically(Catalog.FILE, CatalogCodec.encode(c));
            }
            synchronized (lock) {
                catalog = c;
                if (sharedAccess == null) {
                    recovery.recover();
                }
                keepReserve(CatalogCodec.encode(catalog).length);
            }
        }
        if (sharedAccess != null) {
            recovery.recoverShared();
        }
    }

    /**
     * On a shared datastore: reads the catalog again when another host changed it. Called at the
     * start of every catalog change (under the catalog lease) and every few seconds by the
     * maintenance thread, so each host sees the others' changes within seconds.
     */
    void refresh() {
        if (sharedAccess == null || !datastore.exists(Catalog.FILE)) {
            return;
        }
        Catalog c = CatalogCodec.decode(name, datastore.readAll(Catalog.FILE));
        synchronized (lock) {
            if (closed) {
                return;
            }
            if (c.generation() > catalog.generation()) {
                catalog = c;
            } else if (c.generation() < catalog.generation() && catalogLock.isHeldByCurrentThread()) {
                // Under the catalog lease the file is the truth; a newer copy here means a write this
                // host believed done never reached the storage.
                throw new StorageException(ErrorCode.IO_ERROR, "the catalog of datastore '" + name
                        + "' on storage (generation " + c.generation() + ") is older than this host's copy ("
                        + catalog.generation() + "): a catalog write was lost");
            }
        }
    }

    /**
     * Must be in a catalog transaction on a shared datastore: the volume's lease area, given one
     * (written with the next catalog change) when it has none yet.
     */
    int areaFor(String volume) {
        SharedAccess s = sharedAccess;
        synchronized (lock) {
            int area = catalog.area(volume);
            if (area >= 0 || s == null) {
                return area;
            }
            area = catalog.freeArea(SharedAccess.CATALOG_AREA + 1, s.lockspace().areas());
            if (area < 0) {
                throw new StorageException(ErrorCode.DATASTORE_FULL, "datastore '" + name + "' has no free lease area left for volume "
                        + volume + " (" + s.lockspace().areas() + " areas)");
            }
            writeCatalog(catalog.withArea(volume, area).put(catalog.find(volume).orElseThrow(() -> notFound(volume))));
            return area;
        }
    }

    /**
     * Holds a volume's lease for an open handle or an operation on a shared datastore; on a
     * datastore of one host, nothing (the in-memory checks of this mount suffice).
     *
     * @throws StorageException {@code VOLUME_IN_USE} naming the host that holds the volume
     */
    Claim hold(String volume) {
        SharedAccess s = sharedAccess;
        if (s == null) {
            return Claim.NONE;
        }
        int area;
        synchronized (lock) {
            area = catalog.area(volume);
        }
        if (area < 0) {
            try (Tx tx = tx()) {
                catalog.find(volume).orElseThrow(() -> notFound(volume));
                area = areaFor(volume);
            }
        }
        SharedAccess.Hold h = s.hold(volume, area);
        try {
            // The holder before this one may have changed the volume's chain: read what it wrote.
            refresh();
        } catch (RuntimeException e) {
            h.close();
            throw e;
        }
        return h;
    }

    /**
     * A catalog change: this host's catalog lock and, on a shared datastore, the catalog lease,
     * with the catalog read fresh from the storage. Begun outside {@link #lock}; nests.
     */
    final class Tx implements AutoCloseable {
        private final io.strata.lease.ResourceLease lease;

        Tx() {
            if (Thread.holdsLock(lock)) {
                throw new IllegalStateException("a catalog change must begin outside the mount's lock");
            }
            catalogLock.lock();
            io.strata.lease.ResourceLease taken = null;
            try {
                SharedAccess s = sharedAccess;
                if (s != null && catalogLock.getHoldCount() == 1) {
                    taken = s.catalogLease();
                    refresh();
                }
            } catch (RuntimeException e) {
                if (taken != null) {
                    taken.close();
                }
                catalogLock.unlock();
                throw e;
            }
            lease = taken;
            catalogLease = taken != null ? taken : catalogLease;
        }

        @Override
        public void close() {
            try {
                if (lease != null) {
                    catalogLease = null;
                    lease.close();
                }
            } finally {
                catalogLock.unlock();
            }
        }
    }

    Tx tx() {
        return new Tx();
    }


    // ---------------------------------------------------------------- closing

    /**
     * Makes this mount unusable: every open handle fails with DEVICE_UNAVAILABLE from now
     * on, and every later operation too. Does not unmount; see {@link #close}.
     */
    void invalidate(String reason) {
        List<VolumeHandle> handles = new ArrayList<>();
        List<SharedDisk> disks = new ArrayList<>();
        synchronized (lock) {
            closed = true;
            closedReason = reason;
            for (List<Lease> list : leases.values()) {
                for (Lease l : list) {
                    l.invalid = true;
                    if (l.handle != null) {
                        handles.add(l.handle);
                    }
                }
            }
            leases.clear();
            disks.addAll(shared.values());
            shared.clear();
        }
        for (VolumeHandle h : handles) {
            h.invalidate(reason);
        }
        disks.forEach(SharedDisk::close);
    }

    /** Invalidates the handles of volumes of one format, which went away. */
    void invalidateFormat(String format, String reason) {
        List<VolumeHandle> handles = new ArrayList<>();
        List<SharedDisk> disks = new ArrayList<>();
        synchronized (lock) {
            for (List<Lease> list : leases.values()) {
                for (Lease l : list) {
                    if (l.format.equals(format)) {
                        l.invalid = true;
                        if (l.handle != null) {
                            handles.add(l.handle);
                        }
                    }
                }
                list.removeIf(l -> l.invalid);
            }
            leases.values().removeIf(List::isEmpty);
            shared.values().removeIf(d -> {
                if (d.format.equals(format)) {
                    disks.add(d);
                    return true;
                }
                return false;
            });
        }
        for (VolumeHandle h : handles) {
            h.invalidate(reason);
        }
        disks.forEach(SharedDisk::close);
    }

    /** Unmounts and releases the device. Never throws. Call {@link #invalidate} first. */
    void close() {
        Thread t = maintenance;
        if (t != null) {
            t.interrupt();
        }
        if (sharedAccess != null) {
            sharedAccess.close();
        }
        closeQuietly(datastore);
        if (device != null) {
            closeQuietly(device);
        }
    }

    /** @return the names of volumes with open handles */
    List<String> openVolumes() {
        synchronized (lock) {
            return leases.keySet().stream().sorted().toList();
        }
    }

    // ---------------------------------------------------------------- views

    /** Space and accounting, computed without holding the lock during I/O. */
    record Stats(SpaceInfo space, String spaceError, long provisioned, long allocated, int volumes, String path) {
    }

    /** The figures of the last {@link #stats()}, shown while the device does not answer; null before the first. */
    private volatile Stats lastStats;

    /**
     * The state the driver gives the device under this datastore: a block device's, or a NAS
     * export's ({@link io.strata.api.fs.ShareFiles#state()}); ONLINE when it tells none. Never
     * does I/O, so a device that does not answer cannot make it wait.
     */
    DeviceState deviceState() {
        try {
            if (device instanceof BlockDevice b) {
                return b.state();
            }
            if (device instanceof ShareFiles s) {
                return s.state();
            }
        } catch (RuntimeException e) {
            LOG.debug("datastore {}: its device gave no state: {}", name, e.toString());
        }
        return DeviceState.ONLINE;
    }

    /**
     * What {@link #stats()} last measured, with the catalog's current counts: for a device that
     * does not answer, where asking for space or allocation would wait for it.
     */
    Stats lastStats() {
        Catalog c = catalog;
        Stats last = lastStats;
        long provisioned = 0;
        int count = 0;
        for (CatalogEntry e : c.volumes()) {
            if (e.state() != CatalogEntry.State.DELETING) {
                count++;
                provisioned = saturatedAdd(provisioned, e.virtualSize());
            }
        }
        return new Stats(last == null ? null : last.space(), last == null ? "" : last.spaceError(), provisioned,
                last == null ? 0 : last.allocated(), count, localPath().map(Path::toString).orElse(""));
    }

    Stats stats() {
        Stats s = measure();
        lastStats = s;
        return s;
    }

    private Stats measure() {
        Catalog c = catalog;
        SpaceInfo space = null;
        String error = "";
        try {
            space = datastore.space();
        } catch (RuntimeException e) {
            error = e.getMessage();
        }
        long provisioned = 0;
        long allocated = 0;
        int count = 0;
        for (CatalogEntry e : c.volumes()) {
            if (e.state() == CatalogEntry.State.DELETING) {
                continue;
            }
            count++;
            provisioned = saturatedAdd(provisioned, e.virtualSize());
            allocated += allocatedOf(e.file());
        }
        return new Stats(space, error, provisioned, allocated, count, localPath().map(Path::toString).orElse(""));
    }

    List<VolumeInfo> volumes() {
        return volumes(null);
    }

    /** @param only a volume name to describe alone, or null for all */
    private List<VolumeInfo> volumes(String only) {
        Catalog c;
        Set<String> open;
        Set<String> inProgress;
        synchronized (lock) {
            c = catalog;
            open = new HashSet<>(leases.keySet());
            inProgress = new HashSet<>(busy);
        }
        Optional<Path> dir = localPath();
        // A device that does not answer is not asked for each file's allocation (that would wait
        // for it); past its driver's limit the volumes are UNAVAILABLE, as the datastore is.
        DeviceState device = deviceState();
        List<VolumeInfo> list = new ArrayList<>();
        for (CatalogEntry e : c.volumes()) {
            if (only != null && !only.equals(e.name())) {
                continue;
            }
            VolumeState state = device == DeviceState.OFFLINE ? VolumeState.UNAVAILABLE : switch (e.state()) {
                case CREATING -> VolumeState.CREATING;
                case DELETING -> VolumeState.DELETING;
                case READY -> open.contains(e.name()) || inProgress.contains(e.name()) ? VolumeState.IN_USE
                        : formats.get(e.format()) == null ? VolumeState.UNAVAILABLE : VolumeState.READY;
            };
            list.add(new VolumeInfo(name, e.name(), e.format(), e.provisioning(), e.virtualSize(),
                    e.state() == CatalogEntry.State.READY && device == DeviceState.ONLINE ? allocatedOf(e.file()) : 0,
                    e.file(),
                    dir.map(d -> d.resolve(e.file()).toString()).orElse(""), state, e.created()));
        }
        return list;
    }

    /** The view of a catalog when its datastore is not mounted. */
    static List<VolumeInfo> unavailableVolumes(String datastore, Catalog c) {
        List<VolumeInfo> list = new ArrayList<>();
        for (CatalogEntry e : c.volumes()) {
            list.add(new VolumeInfo(datastore, e.name(), e.format(), e.provisioning(), e.virtualSize(), 0, e.file(),
                    "", VolumeState.UNAVAILABLE, e.created()));
        }
        return list;
    }

    VolumeInfo info(String volume) {
        return volumes(volume).stream().findFirst().orElseThrow(() -> notFound(volume));
    }

    // ---------------------------------------------------------------- operations

    VolumeInfo create(String volume, long virtualSize, String formatType, Provisioning provisioning) {
        return create(volume, virtualSize, formatType, provisioning, null);
    }

    /**
     * Creates a volume; {@code fill}, when given, writes its data (a full clone) while the
     * entry is still CREATING, so a crash during the copy is rolled back at the next mount.
     */
    VolumeInfo create(String volume, long virtualSize, String formatType, Provisioning provisioning,
            java.util.function.Consumer<VirtualDisk> fill) {
        return create(volume, virtualSize, formatType, provisioning, fill, null);
    }

    /**
     * Maps a block device as a volume: a {@link RdmMapping} file in a catalog entry of format
     * {@code rdm}, made through the same CREATING/READY steps as any volume.
     */
    VolumeInfo map(String volume, RdmMapping mapping) {
        return create(volume, mapping.size(), RdmMapping.TYPE, Provisioning.THICK, null, mapping::writeTo);
    }

    /** The raw device mappings of this datastore's volumes, by volume name; unreadable ones are skipped. */
    java.util.Map<String, RdmMapping> mappings() {
        Catalog c;
        synchronized (lock) {
            c = catalog;
        }
        java.util.Map<String, RdmMapping> found = new java.util.TreeMap<>();
        for (CatalogEntry e : c.volumes()) {
            if (!RdmMapping.TYPE.equals(e.format()) || e.state() == CatalogEntry.State.DELETING) {
                continue;
            }
            try (DatastoreFile f = datastore.open(e.file(), false)) {
                found.put(e.name(), RdmMapping.read(f));
            } catch (RuntimeException ex) {
                LOG.warn("datastore {}: mapping of volume {} cannot be read: {}", name, e.name(), ex.getMessage());
            }
        }
        return found;
    }

    private VolumeInfo create(String volume, long virtualSize, String formatType, Provisioning provisioning,
            java.util.function.Consumer<VirtualDisk> fill, java.util.function.Consumer<DatastoreFile> maker) {
        Names.check("volume", volume);
        requireNonNull(provisioning, "provisioning");
        checkSize(volume, virtualSize);
        DiskFormat format = format(formatType);
        if (virtualSize > format.maxVirtualSize()) {
            throw new StorageException(ErrorCode.SIZE_TOO_LARGE, "volume " + ref(volume) + ": " + formatType
                    + " can address at most " + Sizes.human(format.maxVirtualSize()) + " ("
                    + format.maxVirtualSize() + " bytes)");
        }
        Capability needed = switch (provisioning) {
            case THIN -> Capability.THIN;
            case THICK -> Capability.THICK;
            case THICK_LAZY -> Capability.THICK_LAZY;
        };
        if (!format.capabilities().contains(needed)) {
            throw new StorageException(ErrorCode.UNSUPPORTED,
                    "format " + formatType + " does not support " + provisioning.label() + " provisioning");
        }
        String file = volume + "." + format.fileExtension();
        CatalogEntry entry = new CatalogEntry(volume, file, format.type(), provisioning, virtualSize, now(),
                CatalogEntry.State.CREATING, null, null, 0);
        long need = provisioning == Provisioning.THIN || maker != null ? 0 : virtualSize + METADATA_MARGIN;
        Claim claim;
        try (Tx tx = tx()) {
            synchronized (lock) {
                ensureOpen();
                checkNew(volume, file);
            }
            claim = claimNew(volume);
            synchronized (lock) {
                reserve(volume, need);
                try {
                    writeCatalog(placed(catalog.put(entry), volume));
                } catch (RuntimeException e) {
                    reserved.remove(volume);
                    closeQuietly(claim);
                    throw e;
                }
            }
        }
        try (Claim held = claim) {
            DatastoreFile df = datastore.create(file);
            try {
                if (maker != null) {
                    maker.accept(df);
                } else {
                    VirtualDisk disk = format.create(df, new DiskSpec(virtualSize, provisioning));
                    try {
                        if (fill != null) {
                            fill.accept(disk);
                        }
                        disk.flush();
                    } finally {
                        disk.close();
                    }
                }
            } finally {
                df.close();
            }
            try (Tx tx = tx()) {
                synchronized (lock) {
                    ensureOpen();
                    writeCatalog(catalog.put(entry.ready()));
                }
            }
            LOG.info("datastore {}: created volume {} ({} {} bytes {})", name, volume, format.type(), virtualSize,
                    provisioning.label());
        } catch (RuntimeException e) {
            undo(entry, e);
            throw translate(e);
        } finally {
            synchronized (lock) {
                reserved.remove(volume);
            }
        }
        return info(volume);
    }

    /**
     * In a catalog change, before a new volume's CREATING entry is written: on a shared datastore
     * gives the volume a free lease area and takes its lease, so that no other host's recovery
     * rolls the new entry back while this host makes it. {@link #placed} records the area.
     *
     * @return the claim, released once the entry is READY or rolled back
     */
    Claim claimNew(String volume) {
        SharedAccess s = sharedAccess;
        if (s == null) {
            return Claim.NONE;
        }
        int area;
        synchronized (lock) {
            area = catalog.freeArea(SharedAccess.CATALOG_AREA + 1, s.lockspace().areas());
        }
        if (area < 0) {
            throw new StorageException(ErrorCode.DATASTORE_FULL, "datastore '" + name
                    + "' has no free lease area left for volume " + volume);
        }
        SharedAccess.Hold h = s.hold(volume, area);
        synchronized (lock) {
            newAreas.put(volume, area);
        }
        return () -> {
            synchronized (lock) {
                newAreas.remove(volume);
            }
            h.close();
        };
    }

    /** Must hold {@link #lock}: the catalog with a new volume's lease area from {@link #claimNew}, if any. */
    Catalog placed(Catalog c, String volume) {
        Integer area = newAreas.get(volume);
        return area == null ? c : c.withArea(volume, area);
    }

    void delete(String volume) {
        Names.check("volume", volume);
        try (Claim held = hold(volume)) {
            deleteHeld(volume);
        }
    }

    private void deleteHeld(String volume) {
        CatalogEntry entry;
        try (Tx tx = tx()) {
            synchronized (lock) {
                ensureOpen();
                entry = catalog.find(volume).orElseThrow(() -> notFound(volume));
                if (entry.state() == CatalogEntry.State.CREATING) {
                    throw new StorageException(ErrorCode.VOLUME_IN_USE, "volume " + ref(volume) + " is being created");
                }
                checkIdle(volume, "delete");
                Chains.checkNoPending(this, entry);
                List<String> clones = Chains.dependents(catalog, volume, null);
                if (!clones.isEmpty()) {
                    throw new StorageException(ErrorCode.VOLUME_IN_USE, "volume " + ref(volume)
                            + " is the base of linked clone(s) " + String.join(", ", clones) + "; delete them first");
                }
                writeCatalog(catalog.put(entry.withState(CatalogEntry.State.DELETING)), true);
                busy.add(volume);
            }
        }
        try {
            recovery.deleteFiles(entry);
            try (Tx tx = tx()) {
                synchronized (lock) {
                    ensureOpen();
                    writeCatalog(catalog.remove(volume), true);
                }
            }
            LOG.info("datastore {}: deleted volume {}", name, volume);
        } catch (RuntimeException e) {
            // The entry stays DELETING: a retry or the next mount finishes the job.
            throw translate(e);
        } finally {
            synchronized (lock) {
                busy.remove(volume);
            }
        }
    }

    VolumeInfo resize(String volume, long newSize) {
        Names.check("volume", volume);
        try (Claim held = hold(volume)) {
            return resizeHeld(volume, newSize);
        }
    }

    private VolumeInfo resizeHeld(String volume, long newSize) {
        CatalogEntry entry;
        DiskFormat format;
        try (Tx tx = tx()) {
            synchronized (lock) {
                ensureOpen();
                entry = ready(volume);
                checkIdle(volume, "resize");
                Chains.checkNoPending(this, entry);
                format = format(entry.format());
                checkSize(volume, newSize);
                if (newSize < entry.virtualSize()) {
                    throw new StorageException(ErrorCode.INVALID_SIZE, "volume " + ref(volume) + " can only grow: "
                            + newSize + " bytes is smaller than its " + entry.virtualSize() + " bytes");
                }
                if (newSize == entry.virtualSize()) {
                    return info(volume);
                }
                if (newSize > format.maxVirtualSize()) {
                    throw new StorageException(ErrorCode.SIZE_TOO_LARGE, "volume " + ref(volume) + ": "
                            + entry.format() + " can address at most " + format.maxVirtualSize() + " bytes");
                }
                if (!format.capabilities().contains(Capability.RESIZE)) {
                    throw new StorageException(ErrorCode.UNSUPPORTED,
                            "format " + entry.format() + " cannot resize volumes");
                }
                long need = entry.provisioning() == Provisioning.THIN ? 0
                        : newSize - entry.virtualSize() + METADATA_MARGIN;
                reserve(volume, need);
                try {
                    writeCatalog(catalog.put(entry.withResizeTo(newSize)));
                } catch (RuntimeException e) {
                    reserved.remove(volume);
                    throw e;
                }
                busy.add(volume);
            }
        }
        try {
            SharedDisk.Chain chain = openChain(format, entry.file(), false);
            try {
                chain.disk().resize(newSize);
                chain.disk().flush();
            } finally {
                chain.close();
            }
            try (Tx tx = tx()) {
                synchronized (lock) {
                    ensureOpen();
                    writeCatalog(catalog.put(ready(volume).withVirtualSize(newSize)));
                }
            }
            LOG.info("datastore {}: resized volume {} to {} bytes", name, volume, newSize);
        } catch (RuntimeException e) {
            settleAfterFailedResize(volume);
            throw translate(e);
        } finally {
            synchronized (lock) {
                busy.remove(volume);
                reserved.remove(volume);
            }
        }
        return info(volume);
    }

    private void settleAfterFailedResize(String volume) {
        boolean interrupted = Thread.interrupted();
        try {
            try (Tx tx = tx()) {
                synchronized (lock) {
                    if (closed) {
                        return;
                    }
                    Optional<CatalogEntry> e = catalog.find(volume);
                    if (e.isPresent() && e.get().resizeTo() > 0) {
                        writeCatalog(catalog.put(recovery.settleSize(e.get())));
                    }
                }
            }
        } catch (RuntimeException ex) {
            LOG.warn("datastore {}: volume {} keeps a pending resize for the next mount: {}", name, volume,
                    ex.getMessage());
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    VolumeInfo importImage(String volume, Path source, String formatType) {
        return importImage(volume, source, formatType, null, Integer.MAX_VALUE);
    }

    /**
     * Import is a trust boundary: the image is probed and checked as fully as volume-check does
     * before anything is written, an image that names a parent is accepted only over a parent
     * the user names (and is rewritten to point at it), and nothing of the stored image may
     * point outside the datastore.
     *
     * @param parent {@code volume@snapshot}, {@code volume} (a snapshot named after the new volume
     *        is taken to freeze it), or null
     */
    VolumeInfo importImage(String volume, Path source, String formatType, String parent, int chainMax) {
        Names.check("volume", volume);
        requireNonNull(source, "source");
        Path src = source.toAbsolutePath().normalize();
        String inPlace = inDatastoreDirectory(src) ? src.getFileName().toString() : null;
        if (inPlace != null) {
            checkAdoptable(src, inPlace);
        }
        if (!Files.isRegularFile(src)) {
            throw new StorageException(ErrorCode.FILE_NOT_FOUND, "image " + src + " does not exist");
        }
        String parentVolume = null;
        String parentSnap = null;
        if (parent != null && !parent.isBlank()) {
            String[] b = Chains.splitBase(parent.trim());
            parentVolume = Names.check("volume", b[0]);
            parentSnap = b[1].isEmpty() ? null : Names.check("snapshot", b[1]);
        }
        DiskFormat format;
        ImageInfo image;
        // Validate before anything is written; the source is opened read-only.
        try (DatastoreFile probe = inPlace != null ? datastore.open(inPlace, false) : PathFile.open(src)) {
            Detected d = detect(probe, formatType, src);
            format = d.format;
            image = d.info;
            checkImportedSize(format, image, src);
            Optional<String> backing = format.backingFile(probe);
            if (parentVolume == null && backing.isPresent()) {
                throw new StorageException(ErrorCode.INVALID_ARGUMENT, "image " + src + " names a backing file or parent ('"
                        + Names.printable(backing.get()) + "'), which Strata never follows on import; import its parent "
                        + "as a volume first and name it with --parent <volume>[@<snapshot>]");
            }
            if (parentVolume != null && backing.isEmpty()) {
                throw new StorageException(ErrorCode.INVALID_ARGUMENT, "image " + src
                        + " has no backing file or parent; import it without --parent");
            }
            if (parentVolume == null) {
                checkImage(format, probe, src, refuseBacking(src));
            }
        }
        String file = volume + "." + format.fileExtension();
        boolean froze = false;
        if (parentVolume != null) {
            synchronized (lock) {
                ensureOpen();
                // Refused before a snapshot is taken for it; the file is checked when stored.
                if (catalog.find(volume).isPresent()) {
                    throw new StorageException(ErrorCode.ALREADY_EXISTS, "volume " + ref(volume) + " already exists");
                }
                CatalogEntry p = ready(parentVolume);
                if (!p.format().equals(format.type())) {
                    throw new StorageException(ErrorCode.INVALID_ARGUMENT, "image " + src + " is " + format.type()
                            + " but its parent volume " + ref(parentVolume) + " is " + p.format());
                }
                if (parentSnap != null) {
                    String want = parentSnap;
                    CatalogEntry.Snap ps = p.snapshot(want).orElseThrow(() -> new StorageException(
                            ErrorCode.SNAPSHOT_NOT_FOUND, "volume " + ref(p.name()) + " has no snapshot '" + want + "'"));
                    int length = Chains.ancestry(catalog, p, ps.name()).size() + 1;
                    if (length > chainMax) {
                        throw new StorageException(ErrorCode.CHAIN_TOO_LONG, "volume " + ref(volume) + " would have "
                                + length + " images in its chain; the limit is " + chainMax);
                    }
                }
            }
            if (parentSnap == null) {
                // Freeze the parent's current state: its image becomes a read-only snapshot the
                // child can safely sit on while the parent volume goes on being written.
                try (Claim held = hold(parentVolume)) {
                    new Chains(this).createSnapshot(parentVolume, volume, chainMax);
                }
                parentSnap = volume;
                froze = true;
                LOG.info("datastore {}: snapshot {}@{} taken as the parent of imported volume {}", name,
                        parentVolume, volume, volume);
            }
        }
        try {
            return store(volume, src, inPlace, format, image, file, parentVolume, parentSnap);
        } catch (RuntimeException e) {
            if (froze) {
                unfreeze(parentVolume, volume, e);
            }
            throw e;
        }
    }

    private VolumeInfo store(String volume, Path src, String inPlace, DiskFormat format, ImageInfo image,
            String file, String parentVolume, String parentSnap) {
        CatalogEntry entry;
        String parentFile = null;
        Set<String> parentChain = Set.of();
        Claim claim;
        try (Tx tx = tx()) {
            claim = claimNew(volume);
            try {
                synchronized (lock) {
                    ensureOpen();
                    if (catalog.find(volume).isPresent()) {
                        throw new StorageException(ErrorCode.ALREADY_EXISTS, "volume " + ref(volume) + " already exists");
                    }
                    if (parentVolume != null) {
                        CatalogEntry p = ready(parentVolume);
                        List<String> anc = Chains.ancestry(catalog, p, parentSnap);
                        if (anc.isEmpty()) {
                            String ps = parentSnap;
                            throw new StorageException(ErrorCode.SNAPSHOT_NOT_FOUND,
                                    "volume " + ref(parentVolume) + " has no snapshot '" + ps + "'");
                        }
                        parentFile = anc.get(0);
                        parentChain = Set.copyOf(anc);
                    }
                    if (inPlace != null) {
                        Optional<CatalogEntry> owner = catalog.findByFile(inPlace);
                        if (owner.isPresent()) {
                            throw new StorageException(ErrorCode.ALREADY_EXISTS,
                                    "image " + src + " already belongs to volume " + ref(owner.get().name()));
                        }
                        if (!inPlace.equals(file)) {
                            checkNew(volume, file);
                        }
                        entry = new CatalogEntry(volume, file, format.type(), image.provisioning(), image.virtualSize(),
                                now(), CatalogEntry.State.CREATING, inPlace, null, 0);
                    } else {
                        checkNew(volume, file);
                        long need = image.provisioning() == Provisioning.THIN ? 0 : sizeOf(src) + METADATA_MARGIN;
                        reserve(volume, need);
                        entry = new CatalogEntry(volume, file, format.type(), image.provisioning(), image.virtualSize(),
                                now(), CatalogEntry.State.CREATING, null, IMPORT_PREFIX + file, 0);
                    }
                    if (parentVolume != null) {
                        entry = entry.withBase(parentVolume + "@" + parentSnap);
                    }
                    try {
                        writeCatalog(placed(catalog.put(entry), volume));
                    } catch (RuntimeException e) {
                        reserved.remove(volume);
                        throw e;
                    }
                }
            } catch (RuntimeException e) {
                closeQuietly(claim);
                throw e;
            }
        }
        try (Claim held = claim) {
            String work = inPlace != null ? inPlace : entry.tempFile();
            if (inPlace == null) {
                try (DatastoreFile tmp = datastore.create(entry.tempFile())) {
                    SparseCopy.copy(src, tmp);
                }
            }
            long size = image.virtualSize();
            if (parentFile != null) {
                size = relink(format, work, src, parentFile, parentChain);
            } else {
                // A volume is for writing: an image the format opens read-only only (qcow2 internal
                // snapshots, features it does not maintain) is refused now, not at the first write.
                openChain(format, work, false, refuseBacking(src)).close();
            }
            if (inPlace == null || !inPlace.equals(file)) {
                datastore.rename(work, file);
            }
            try (Tx tx = tx()) {
                synchronized (lock) {
                    ensureOpen();
                    writeCatalog(catalog.put(entry.ready().withVirtualSize(size)));
                }
            }
            LOG.info("datastore {}: imported volume {} from {} ({}, {} bytes, {}{})", name, volume, src,
                    format.type(), size, inPlace != null ? "adopted in place" : "copied",
                    parentFile != null ? ", over " + parentVolume + "@" + parentSnap : "");
        } catch (RuntimeException e) {
            undo(entry, e);
            throw translate(e);
        } finally {
            synchronized (lock) {
                reserved.remove(volume);
            }
        }
        return info(volume);
    }

    /** Best effort: removes the snapshot an import took of its parent when the import failed. */
    private void unfreeze(String parentVolume, String snap, RuntimeException cause) {
        try {
            Chains chains = new Chains(this);
            try (Claim held = hold(parentVolume)) {
                chains.beginDelete(parentVolume, snap);
                chains.merge(parentVolume, snap, null);
            }
        } catch (RuntimeException e) {
            cause.addSuppressed(e);
            LOG.warn("datastore {}: the snapshot {}@{} taken for a failed import stays: {}", name, parentVolume, snap,
                    e.getMessage());
        }
    }

    /** Symbolic and hard links would let a volume's writes land outside the datastore. */
    private void checkAdoptable(Path src, String inPlace) {
        if (inPlace.startsWith(".") || inPlace.contains("/")) {
            throw new StorageException(ErrorCode.INVALID_NAME, "image " + src + " is a datastore metadata file");
        }
        if (Files.isSymbolicLink(src)) {
            throw new StorageException(ErrorCode.INVALID_ARGUMENT, "image " + src + " is a symbolic link; Strata adopts"
                    + " only regular files in place (import the link's target from where it is, to copy it in)");
        }
        try {
            Object links = Files.getAttribute(src, "unix:nlink", java.nio.file.LinkOption.NOFOLLOW_LINKS);
            if (links instanceof Integer n && n > 1) {
                throw new StorageException(ErrorCode.INVALID_ARGUMENT, "image " + src + " has " + n
                        + " hard links; a file adopted in place must have no other names");
            }
        } catch (IOException | UnsupportedOperationException e) {
            // no such attribute on this filesystem: nothing to refuse
        }
    }

    private static void checkImportedSize(DiskFormat format, ImageInfo image, Path src) {
        long size = image.virtualSize();
        if (size <= 0 || size % Sizes.SECTOR != 0) {
            throw new StorageException(ErrorCode.CORRUPT_IMAGE, "image " + src + " has a virtual size of "
                    + Bounds.unsigned(size) + " bytes, which is not a positive whole number of " + Sizes.SECTOR
                    + "-byte sectors");
        }
        if (size > format.maxVirtualSize()) {
            throw new StorageException(ErrorCode.SIZE_TOO_LARGE, "image " + src + " has a virtual size of "
                    + Sizes.human(size) + "; the " + format.type() + " format is limited to "
                    + Sizes.human(format.maxVirtualSize()));
        }
    }

    /** Runs the format's checker; an import is refused on any error it reports (leaks are harmless). */
    private static void checkImage(DiskFormat format, DatastoreFile file, Path src, BackingResolver backing) {
        if (!format.capabilities().contains(Capability.CHECK)) {
            return;
        }
        CheckReport r = format.check(file, backing, false);
        if (!r.errors().isEmpty()) {
            List<String> shown = r.errors().subList(0, Math.min(3, r.errors().size()));
            throw new StorageException(ErrorCode.CORRUPT_IMAGE, "image " + src + " fails its check with "
                    + r.errors().size() + " error(s): " + String.join("; ", shown)
                    + (r.errors().size() > shown.size() ? "; ..." : "") + "; nothing was imported");
        }
    }

    private static BackingResolver refuseBacking(Path src) {
        return name -> {
            throw new StorageException(ErrorCode.CHAIN_BROKEN, "image " + src + " names a parent ('"
                    + Names.printable(String.valueOf(name)) + "') that Strata does not follow");
        };
    }

    /**
     * Checks an imported child against the parent the user named (whatever name the image
     * itself records), then rewrites its stored parent reference to that parent's file.
     *
     * @return the child's virtual size
     */
    private long relink(DiskFormat format, String work, Path src, String parentFile, Set<String> parentChain) {
        BackingResolver chain = n -> {
            if (!parentChain.contains(n)) {
                throw new StorageException(ErrorCode.CHAIN_BROKEN, "image " + src + " reaches '"
                        + Names.printable(String.valueOf(n)) + "', which is not in its parent's chain");
            }
            return openBacking(n);
        };
        // Opening first: a child made from another image fails here as CHAIN_BROKEN. A disk
        // closes its file, so each step opens the image anew.
        openChain(format, work, true, childOf(parentFile, chain)).close();
        try (DatastoreFile f = datastore.open(work, false)) {
            checkImage(format, f, src, childOf(parentFile, chain));
        }
        SharedDisk.Chain child = openChain(format, work, false, childOf(parentFile, chain));
        try {
            child.disk().rebase(parentFile, chain);
            child.disk().flush();
            return child.disk().virtualSize();
        } finally {
            child.close();
        }
    }

    /** Hands the named parent for the child's own reference, and the parent's chain after that. */
    private BackingResolver childOf(String parentFile, BackingResolver chain) {
        boolean[] first = {true};
        return n -> {
            if (first[0]) {
                first[0] = false;
                return openBacking(parentFile);
            }
            return chain.openBacking(n);
        };
    }

    private record Detected(DiskFormat format, ImageInfo info) {
    }

    private Detected detect(DatastoreFile file, String formatType, Path src) {
        if (formatType != null && !formatType.isBlank()) {
            DiskFormat f = format(formatType);
            return new Detected(f, f.probe(file));
        }
        StorageException damaged = null;
        for (PluginSet.Bound<DiskFormat> b : formats.all()) {
            boolean recognized;
            try {
                recognized = b.service().recognizes(file);
            } catch (RuntimeException e) {
                recognized = false;
            }
            if (recognized) {
                try {
                    return new Detected(b.service(), b.service().probe(file));
                } catch (StorageException e) {
                    // Looks like this format but is damaged: never fall back to raw for it.
                    if (damaged == null) {
                        damaged = e;
                    }
                }
            }
        }
        if (damaged != null) {
            throw damaged;
        }
        DiskFormat raw = formats.get("raw");
        if (raw == null) {
            throw new StorageException(ErrorCode.FORMAT_NOT_FOUND,
                    "no installed format recognizes image " + src + " and the raw format is not installed");
        }
        return new Detected(raw, raw.probe(file));
    }

    VolumeHandle open(String volume, boolean readOnly) {
        Names.check("volume", volume);
        Claim held = hold(volume);
        try {
            VolumeHandle h = openHeld(volume, readOnly, held);
            return h;
        } catch (RuntimeException e) {
            held.close();
            throw e;
        }
    }

    /** @param held the volume's lease on a shared datastore, handed to the handle's lease on success */
    private VolumeHandle openHeld(String volume, boolean readOnly, Claim held) {
        CatalogEntry entry;
        DiskFormat format;
        Lease lease;
        SharedDisk sd;
        synchronized (lock) {
            ensureOpen();
            entry = ready(volume);
            if (busy.contains(volume)) {
                throw new StorageException(ErrorCode.VOLUME_IN_USE,
                        "volume " + ref(volume) + " is being resized or deleted");
            }
            format = format(entry.format());
            List<Lease> list = leases.computeIfAbsent(volume, k -> new ArrayList<>());
            if (!readOnly && list.stream().anyMatch(l -> l.writer)) {
                if (list.isEmpty()) {
                    leases.remove(volume);
                }
                throw new StorageException(ErrorCode.VOLUME_IN_USE,
                        "volume " + ref(volume) + " is already open for writing");
            }
            lease = new Lease(volume, entry.format(), !readOnly);
            lease.claim = held;
            list.add(lease);
            sd = shared.computeIfAbsent(volume, k -> new SharedDisk(volume, entry.format()));
            sd.refs++;
            lease.disk = sd;
        }
        try {
            // The first handle opens the chain (writable: later writers and snapshots share it).
            sd.ensureOpen(() -> openVolumeChain(format, entry));
            IoRegistry reg = io;
            VolumeHandle h = new VolumeHandle(ref(volume), sd, readOnly, x -> release(lease),
                    reg == null ? null : reg.of(new VolumeRef(name, volume)));
            String gone = null;
            synchronized (lock) {
                if (closed || lease.invalid) {
                    gone = closed ? closedReason : "format " + entry.format() + " was removed";
                } else {
                    lease.handle = h;
                }
            }
            if (gone != null) {
                h.invalidate(gone);
                sd.close();
                throw new StorageException(ErrorCode.DEVICE_UNAVAILABLE,
                        "volume " + ref(volume) + " is unavailable: " + gone);
            }
            return h;
        } catch (RuntimeException e) {
            lease.claim = Claim.NONE; // the caller gives the claim back
            release(lease);
            throw translate(e);
        }
    }

    private void release(Lease lease) {
        SharedDisk last = null;
        Claim claim;
        synchronized (lock) {
            List<Lease> list = leases.get(lease.volume);
            if (list != null) {
                list.remove(lease);
                if (list.isEmpty()) {
                    leases.remove(lease.volume);
                }
            }
            claim = lease.claim;
            lease.claim = Claim.NONE;
            SharedDisk sd = lease.disk;
            lease.disk = null;
            if (sd != null && --sd.refs == 0) {
                if (shared.get(lease.volume) == sd) {
                    shared.remove(lease.volume);
                }
                last = sd;
            }
        }
        if (last != null) {
            last.close();
        }
        claim.close();
    }

    /** A snapshot opened read-only with its chain, for a full clone; the caller closes the chain. */
    SharedDisk.Chain openSnapshot(String volume, String snapshot) {
        CatalogEntry e;
        DiskFormat f;
        CatalogEntry.Snap s;
        synchronized (lock) {
            ensureOpen();
            e = ready(volume);
            f = format(e.format());
            s = e.snapshot(snapshot).orElseThrow(() -> new StorageException(ErrorCode.SNAPSHOT_NOT_FOUND,
                    "volume " + ref(volume) + " has no snapshot '" + snapshot + "'"));
        }
        return openChain(f, s.file(), true);
    }

    /** Opens an image with its backing chain; the file is closed when opening fails. */
    SharedDisk.Chain openChain(DiskFormat format, String file, boolean readOnly) {
        return openChain(format, file, readOnly, resolver);
    }

    /**
     * Opens a volume's current image with the chain the catalog records for it: the image may
     * name as parents only the files of that chain, so an image whose stored backing reference
     * was changed behind Strata's back cannot read another volume's data.
     * Must not hold the lock (the chain is computed under it).
     */
    SharedDisk.Chain openVolumeChain(DiskFormat format, CatalogEntry entry) {
        Set<String> parents;
        synchronized (lock) {
            List<String> files = Chains.chainFiles(catalog, entry);
            parents = Set.copyOf(files.subList(1, files.size()));
        }
        BackingResolver restricted = fileName -> {
            if (!parents.contains(fileName)) {
                throw new StorageException(ErrorCode.CHAIN_BROKEN, "image " + entry.file() + " of volume "
                        + ref(entry.name()) + " names parent '" + Names.printable(fileName)
                        + "', which is not in the chain the catalog records for it"
                        + (parents.isEmpty() ? " (none)" : " (" + String.join(", ", new TreeSet<>(parents)) + ")"));
            }
            return openBacking(fileName);
        };
        return openChain(format, entry.file(), false, restricted);
    }

    private SharedDisk.Chain openChain(DiskFormat format, String file, boolean readOnly, BackingResolver backing) {
        DatastoreFile df = datastore.open(file, !readOnly);
        try {
            return new SharedDisk.Chain(format.open(df, readOnly, backing), df);
        } catch (RuntimeException e) {
            df.close();
            throw e;
        }
    }

    /** The backing resolver: plain file names of this datastore only, opened read-only. */
    private DatastoreFile openBacking(String fileName) {
        if (fileName == null || fileName.isEmpty() || fileName.contains("/") || fileName.contains("\\")
                || fileName.startsWith(".")) {
            throw new StorageException(ErrorCode.INVALID_NAME, "backing file name '" + Names.printable(String.valueOf(fileName))
                    + "' is not a plain file name of datastore '" + name + "'");
        }
        if (!datastore.exists(fileName)) {
            throw new StorageException(ErrorCode.CHAIN_BROKEN,
                    "backing image " + fileName + " is missing from datastore '" + name + "'");
        }
        return datastore.open(fileName, false);
    }

    // ---------------------------------------------------------------- helpers

    /** Sums of sizes read from a catalog never wrap to negative figures in reports. */
    static long saturatedAdd(long a, long b) {
        long r = a + Math.max(b, 0);
        return r < a ? Long.MAX_VALUE : r;
    }

    /** Best-effort undo of a failed create or import; what it cannot do, the next mount does. */
    void undo(CatalogEntry entry, RuntimeException cause) {
        // A shell command interrupted by Ctrl-C or a closed session: NIO channels refuse to work
        // while the flag is set, so clear it for the clean-up and set it again afterwards.
        boolean interrupted = Thread.interrupted();
        try {
            synchronized (lock) {
                if (closed) {
                    return;
                }
            }
            recovery.rollBackFiles(entry);
            try (Tx tx = tx()) {
                synchronized (lock) {
                    if (!closed && catalog.find(entry.name()).isPresent()) {
                        writeCatalog(catalog.remove(entry.name()), true);
                    }
                }
            }
        } catch (RuntimeException e) {
            LOG.warn("datastore {}: could not roll back volume {} after '{}'; the next mount will: {}", name,
                    entry.name(), cause.getMessage(), e.getMessage());
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** Must hold {@link #lock}. Replaces the catalog file, then the in-memory copy. */
    void writeCatalog(Catalog next) {
        writeCatalog(next, false);
    }

    /**
     * Must hold {@link #lock}. Replaces the catalog file, then the in-memory copy.
     *
     * @param freeing the update belongs to an operation that frees space (a delete, the undo of
     *        a failed create): on a full datastore it may use the room kept in {@link #RESERVE},
     *        so that a full datastore can always be freed through Strata
     */
    void writeCatalog(Catalog next, boolean freeing) {
        if (!catalogLock.isHeldByCurrentThread()) {
            throw new IllegalStateException("catalog of datastore " + name + " written outside a catalog change");
        }
        SharedAccess s = sharedAccess;
        if (s != null) {
            // The generation check: under the catalog lease nobody else writes, so the file must be
            // the copy this change started from; anything else means the lease was not respected.
            io.strata.lease.ResourceLease lease = catalogLease;
            if (lease == null || !lease.valid()) {
                throw new StorageException(ErrorCode.DEVICE_UNAVAILABLE, "datastore '" + name
                        + "': this host lost the catalog lease (it could not renew its lease in time)");
            }
            long onDisk = CatalogCodec.decode(name, datastore.readAll(Catalog.FILE)).generation();
            if (onDisk != catalog.generation()) {
                throw new StorageException(ErrorCode.LOCKED, "datastore '" + name + "': the catalog changed under "
                        + "this host's lease (generation " + onDisk + ", expected " + catalog.generation()
                        + "); nothing was written");
            }
        }
        byte[] bytes = CatalogCodec.encode(next);
        try {
            datastore.writeAtomically(Catalog.FILE, bytes);
        } catch (StorageException e) {
            if (e.code() != ErrorCode.DATASTORE_FULL || !freeing || !datastore.exists(RESERVE)) {
                throw e;
            }
            LOG.warn("datastore {} is full: releasing the room kept for catalog updates so that a delete can go on",
                    name);
            datastore.delete(RESERVE);
            reserveBytes = 0;
            datastore.writeAtomically(Catalog.FILE, bytes);
        }
        catalog = next;
        keepReserve(bytes.length);
    }

    /**
     * Must hold {@link #lock}. Keeps {@link #RESERVE} at least twice the catalog's size (the
     * atomic replace needs a whole new copy beside the old), best effort: on a full datastore it
     * stays as it is and is grown by a later update.
     */
    private void keepReserve(int catalogBytes) {
        long want = Math.max(RESERVE_MIN, ((2L * catalogBytes + RESERVE_CHUNK) / RESERVE_CHUNK + 1) * RESERVE_CHUNK);
        if (reserveBytes >= want) {
            return;
        }
        try {
            DatastoreFile f = datastore.exists(RESERVE) ? datastore.open(RESERVE, true) : datastore.create(RESERVE);
            try {
                long have = f.size();
                // Written, not sparse: the blocks must really be held for the reserve to free them.
                ByteBuffer zeros = ByteBuffer.allocate(RESERVE_CHUNK);
                for (long off = have - have % RESERVE_CHUNK; off < want; off += RESERVE_CHUNK) {
                    f.write(zeros.clear(), off);
                }
                f.flush();
                reserveBytes = Math.max(want, have);
            } finally {
                f.close();
            }
        } catch (StorageException e) {
            LOG.debug("datastore {}: cannot grow the room kept for catalog updates: {}", name, e.getMessage());
        }
    }

    /** Must hold {@link #lock}. Refuses a thick request that does not fit, before anything is written. */
    private void reserve(String volume, long need) {
        if (need <= 0) {
            return;
        }
        long inFlight = reserved.values().stream().mapToLong(Long::longValue).sum();
        long free = datastore.space().free() - inFlight;
        if (need > free) {
            throw new StorageException(ErrorCode.DATASTORE_FULL, "datastore '" + name + "' has "
                    + Sizes.human(Math.max(free, 0)) + " free; volume " + volume + " needs " + Sizes.human(need)
                    + " (" + need + " bytes)");
        }
        reserved.put(volume, need);
    }

    /** Must hold {@link #lock}. */
    void checkNew(String volume, String file) {
        if (catalog.find(volume).isPresent()) {
            throw new StorageException(ErrorCode.ALREADY_EXISTS, "volume " + ref(volume) + " already exists");
        }
        if (catalog.findByFile(file).isPresent() || datastore.exists(file)) {
            throw new StorageException(ErrorCode.ALREADY_EXISTS,
                    "file " + file + " already exists in datastore '" + name + "'");
        }
    }

    /** Must hold {@link #lock}. */
    void checkIdle(String volume, String what) {
        if (leases.containsKey(volume)) {
            throw new StorageException(ErrorCode.VOLUME_IN_USE,
                    "volume " + ref(volume) + " is open; close it before you " + what + " it");
        }
        if (busy.contains(volume)) {
            throw new StorageException(ErrorCode.VOLUME_IN_USE,
                    "volume " + ref(volume) + " is being resized or deleted");
        }
    }

    /** Must hold {@link #lock}. */
    CatalogEntry ready(String volume) {
        CatalogEntry e = catalog.find(volume).orElseThrow(() -> notFound(volume));
        return switch (e.state()) {
            case READY -> e;
            case CREATING -> throw new StorageException(ErrorCode.VOLUME_IN_USE,
                    "volume " + ref(volume) + " is being created");
            case DELETING -> throw new StorageException(ErrorCode.VOLUME_NOT_FOUND,
                    "volume " + ref(volume) + " is being deleted");
        };
    }

    DiskFormat format(String type) {
        if (type == null || type.isBlank()) {
            throw new StorageException(ErrorCode.INVALID_ARGUMENT, "no disk format given");
        }
        DiskFormat f = formats.get(type);
        if (f == null) {
            throw new StorageException(ErrorCode.FORMAT_NOT_FOUND, "disk format '" + type + "' is not installed");
        }
        return f;
    }

    void ensureOpen() {
        if (closed) {
            throw new StorageException(ErrorCode.DEVICE_UNAVAILABLE,
                    "datastore '" + name + "' is unavailable: " + closedReason);
        }
    }

    RuntimeException translate(RuntimeException e) {
        boolean gone;
        synchronized (lock) {
            gone = closed;
        }
        if (gone && !(e instanceof StorageException se && se.code() == ErrorCode.DEVICE_UNAVAILABLE)) {
            return new StorageException(ErrorCode.DEVICE_UNAVAILABLE,
                    "datastore '" + name + "' became unavailable: " + closedReason, e);
        }
        if (e instanceof StorageException) {
            return e;
        }
        return new StorageException(ErrorCode.INTERNAL,
                "datastore '" + name + "': unexpected failure: " + e, e);
    }

    private static void checkSize(String volume, long size) {
        if (size <= 0 || size % Sizes.SECTOR != 0) {
            throw new StorageException(ErrorCode.INVALID_SIZE, "volume " + volume + ": size " + size
                    + " bytes is not a positive multiple of " + Sizes.SECTOR);
        }
    }

    long allocatedOf(String file) {
        try {
            return datastore.stat(file).allocated();
        } catch (RuntimeException e) {
            return 0;
        }
    }

    void deleteIfExists(String file) {
        if (datastore.exists(file)) {
            datastore.delete(file);
        }
    }

    private Optional<Path> localPath() {
        try {
            return datastore.localPath();
        } catch (RuntimeException e) {
            return Optional.empty();
        }
    }

    private boolean inDatastoreDirectory(Path src) {
        Optional<Path> dir = localPath();
        if (dir.isEmpty() || src.getParent() == null) {
            return false;
        }
        Path d = dir.get().toAbsolutePath().normalize();
        if (d.equals(src.getParent())) {
            return true;
        }
        try {
            return d.toRealPath().equals(src.getParent().toRealPath());
        } catch (IOException e) {
            return false;
        }
    }

    private static long sizeOf(Path p) {
        try {
            return Files.size(p);
        } catch (IOException e) {
            throw new StorageException(ErrorCode.IO_ERROR, "cannot read image " + p + ": " + e.getMessage(), e);
        }
    }

    StorageException notFound(String volume) {
        return new StorageException(ErrorCode.VOLUME_NOT_FOUND, "volume " + ref(volume) + " does not exist");
    }

    String ref(String volume) {
        return name + "/" + volume;
    }

    static Instant now() {
        return Instant.now().truncatedTo(ChronoUnit.SECONDS);
    }

    static void closeQuietly(AutoCloseable c) {
        try {
            c.close();
        } catch (Exception e) {
            LOG.debug("close failed: {}", e.toString());
        }
    }
}

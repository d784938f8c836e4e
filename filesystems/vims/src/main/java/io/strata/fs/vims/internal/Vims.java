package io.strata.fs.vims.internal;

import io.strata.api.Capability;
import io.strata.api.ErrorCode;
import io.strata.api.Names;
import io.strata.api.StorageException;
import io.strata.api.device.BlockDevice;
import io.strata.api.format.CheckReport;
import io.strata.api.fs.Datastore;
import io.strata.api.fs.DatastoreFile;
import io.strata.api.fs.FileStat;
import io.strata.api.fs.SpaceInfo;
import io.strata.lease.HostStatus;
import io.strata.lease.LeaseHeldException;
import io.strata.lease.LeaseParticipant;
import io.strata.lease.Lockspace;
import io.strata.lease.LockspaceProvider;
import io.strata.lease.Lockspaces;
import io.strata.lease.ResourceLease;
import io.strata.lease.SectorStore;
import java.nio.ByteBuffer;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A mounted VIMS: this host's view of a filesystem that other hosts may have mounted at the
 * same moment. What it changes, it changes under a lease of the shared lockspace and through
 * this host's journal:
 * <ul>
 * <li>the namespace (directory, descriptors being made or freed) under the namespace lease;</li>
 * <li>a file's descriptor and pointer pages under the file's lease, held while the file is open
 * for writing here (its on-disk lock record names this host);</li>
 * <li>a resource cluster's bitmap under the lease of its cluster group; each host allocates
 * first from the clusters of its own group, so hosts allocating at once do not wait on each
 * other.</li>
 * </ul>
 * Data written into allocated blocks goes straight to the device, with no metadata I/O.
 */
final class Vims implements Datastore, LockspaceProvider {
    private static final Logger LOG = LoggerFactory.getLogger(Vims.class);
    static final String TEMP_PREFIX = ".vims-tmp-";
    private static final SecureRandom RANDOM = new SecureRandom();
    /** How long a namespace change waits for another host's. */
    static final Duration NAMESPACE_WAIT = Duration.ofSeconds(120);
    /** How long an allocation waits for a cluster group another host holds. */
    static final Duration CLUSTER_WAIT = Duration.ofSeconds(120);
    /** How long a cluster lease is kept after its last use (allocations come in bursts). */
    static final long LINGER_MS = 300;
    /** Free descriptor slots a create tries, in order, when the first ones are still held. */
    static final int FREE_SLOTS_TRIED = 16;

    final String name;
    final Disk disk;
    private final SectorStore store;
    final Lockspace ls;
    private final LeaseParticipant participant;
    volatile Superblock sb;
    final int tag;
    private Journal journal;
    private ResourceLease journalLease;
    private final ReentrantLock nsLock = new ReentrantLock();
    /** Guarded by nsLock or the directory monitor: the cached directory and the namespace page version it reflects. */
    private Entry[] entries;
    private long nsVersion = -1;
    private final Map<String, Integer> byName = new HashMap<>();
    private final Map<Integer, Node> nodes = new HashMap<>();
    /**
     * Deletes (and replacing renames) this host is doing now, by descriptor index and
     * generation: the sweep for interrupted deletes leaves them to the thread doing them.
     */
    private final Set<String> deletesUnderWay = ConcurrentHashMap.newKeySet();
    private final Map<Integer, ClusterHold> clusterHolds = new ConcurrentHashMap<>();
    /** slot:uuid:generation of dead hosts whose journals this host has seen replayed. */
    private final Set<String> replayed = ConcurrentHashMap.newKeySet();
    private final ReentrantLock replayLock = new ReentrantLock();
    private volatile boolean closed;
    private volatile boolean fenced;
    private Thread maintenance;
    private final ByteBuffer zeros;
    /**
     * Threads for the parts of files' asynchronous requests that must wait (a first write into a
     * block, a read of a hole another host may have filled, a piece not sector aligned), so the
     * caller keeps dispatching. Idle threads end after a few seconds; the unmount stops them.
     */
    final java.util.concurrent.ThreadPoolExecutor slowIo;
    /** A block's worth of memory per thread for first writes into blocks (data and zeros). */
    private final ThreadLocal<ByteBuffer> blockBuffer;

    /** A file this host has open, shared by its handles. */
    final class Node {
        final int index;
        final long generation;
        final ReentrantLock meta = new ReentrantLock();
        /** Guarded by meta (reads of a volatile copy outside). */
        volatile Descriptor desc;
        final Map<Long, ByteBuffer> pointerPages = new ConcurrentHashMap<>();
        /** Written under meta; read elsewhere too (the node is not dropped while it is set). */
        volatile ResourceLease lease;
        int writers;
        int readers;
        /**
         * Guarded by {@code nodes}: opens between finding this node in {@code nodes} and counting
         * themselves as a writer or reader. A pinned node stays in {@code nodes}, so that one file
         * never has two nodes on this host (the second could not take the file's lease).
         */
        int pins;

        Node(int index, long generation, Descriptor desc) {
            this.index = index;
            this.generation = generation;
            this.desc = desc;
        }

        boolean owned() {
            return lease != null;
        }
    }

    private static final class ClusterHold {
        final ReentrantLock lock = new ReentrantLock();
        ResourceLease lease;
        long lastUse;
    }

    private Vims(String name, Disk disk, SectorStore store, Lockspace ls, LeaseParticipant participant, Superblock sb) {
        this.name = name;
        this.disk = disk;
        this.store = store;
        this.ls = ls;
        this.participant = participant;
        this.sb = sb;
        this.tag = sb.tag();
        this.zeros = ByteBuffer.allocateDirect(sb.blockSize()).asReadOnlyBuffer();
        this.blockBuffer = ThreadLocal.withInitial(() -> ByteBuffer.allocateDirect(sb.blockSize()));
        java.util.concurrent.atomic.AtomicInteger threads = new java.util.concurrent.atomic.AtomicInteger();
        this.slowIo = new java.util.concurrent.ThreadPoolExecutor(SLOW_IO_THREADS, SLOW_IO_THREADS, 5,
                java.util.concurrent.TimeUnit.SECONDS, new java.util.concurrent.LinkedBlockingQueue<>(), r -> {
                    Thread t = new Thread(r, "strata-vims-io-" + name + "-" + threads.incrementAndGet());
                    t.setDaemon(true);
                    return t;
                });
        slowIo.allowCoreThreadTimeOut(true);
    }

    /** As many requests as an NBD connection keeps under way. */
    private static final int SLOW_IO_THREADS = 32;

    // ---------------------------------------------------------------- mount

    /** Reads the superblock: the primary, else the backup; writes nothing. */
    static Superblock readSuperblock(Disk disk) {
        Superblock primary = Superblock.decode(disk.readPage(Superblock.PRIMARY_PAGE), Superblock.PRIMARY_PAGE);
        if (primary != null) {
            return primary;
        }
        Superblock backup = Superblock.decode(disk.readPage(Superblock.BACKUP_PAGE), Superblock.BACKUP_PAGE);
        if (backup != null) {
            LOG.warn("the primary VIMS superblock on {} is damaged; using the backup copy (run datastore-check --repair)",
                    disk.device.info().ref());
            return backup;
        }
        throw new StorageException(ErrorCode.CORRUPT_IMAGE, "device " + disk.device.info().ref()
                + " holds no VIMS filesystem (no sound superblock, primary or backup)");
    }

    /**
     * The pages some journal holds a sound image of (the latest by version): a metadata page
     * found damaged that one of them covers was torn by a crash while it was written in place,
     * and replaying that journal rewrites it.
     */
    static Map<Long, Long> journalled(Disk disk, Superblock sb) {
        Map<Long, Long> covered = new HashMap<>();
        for (int s = 0; s < sb.maxHosts(); s++) {
            Journal j;
            try {
                j = Journal.open(disk, sb, s);
            } catch (StorageException e) {
                continue;
            }
            for (Journal.Record r : j.records()) {
                for (int k = 0; k < r.targets().size(); k++) {
                    covered.merge(r.targets().get(k), Pages.version(r.images().get(k)), Math::max);
                }
            }
        }
        return covered;
    }

    /** @throws StorageException the damage, unless a journal covers the page (see {@link #journalled}) */
    private static void damagedUnlessJournalled(Map<Long, Long>[] covered, Disk disk, Superblock sb, long page,
            String what, String problem) {
        if (covered[0] == null) {
            covered[0] = journalled(disk, sb);
        }
        if (!covered[0].containsKey(page)) {
            throw damaged(what, problem);
        }
        LOG.warn("VIMS on {}: {} is {}, torn by a crash: a journal holds it and replay rewrites it",
                disk.device.info().ref(), what, problem);
    }

    /** The read-only checks a mount makes before it writes anything. */
    static void validate(Disk disk, Superblock sb) {
        String ref = disk.device.info().ref();
        Optional<String> id = disk.device.identity();
        if (!sb.deviceIdentity().isEmpty() && id.isPresent() && !id.get().equals(sb.deviceIdentity())) {
            throw new StorageException(ErrorCode.DEVICE_UNAVAILABLE, "device " + ref + " has identity " + id.get()
                    + " but this VIMS was made on " + sb.deviceIdentity() + "; not mounting a copy or another device");
        }
        if (disk.device.sectorSize() > Pages.SIZE || Pages.SIZE % disk.device.sectorSize() != 0) {
            throw new StorageException(ErrorCode.UNSUPPORTED, "device " + ref + " has " + disk.device.sectorSize()
                    + "-byte sectors; VIMS needs sectors that divide 4096");
        }
        long end = sb.dataStart() + sb.blocks() * sb.blockSize();
        if (disk.size() < end) {
            throw new StorageException(ErrorCode.CORRUPT_IMAGE, "device " + ref + " has " + disk.size()
                    + " bytes but the VIMS on it needs " + end + " (a truncated or shrunk LUN?)");
        }
        int tag = sb.tag();
        @SuppressWarnings("unchecked")
        Map<Long, Long>[] covered = new Map[1];
        ByteBuffer ns = disk.readPage(sb.namespacePage());
        if (Pages.state(ns, Pages.NAMESPACE, sb.namespacePage(), tag) != Pages.State.VALID) {
            damagedUnlessJournalled(covered, disk, sb, sb.namespacePage(), "the namespace header",
                    Pages.problem(ns, Pages.NAMESPACE, sb.namespacePage(), tag));
        }
        ByteBuffer dir = disk.readPages(sb.directoryStart(), sb.directoryPages());
        for (int p = 0; p < sb.directoryPages(); p++) {
            ByteBuffer page = Disk.page(dir, p);
            if (Pages.state(page, Pages.DIRECTORY, sb.directoryStart() + p, tag) != Pages.State.VALID) {
                damagedUnlessJournalled(covered, disk, sb, sb.directoryStart() + p, "directory page " + p,
                        Pages.problem(page, Pages.DIRECTORY, sb.directoryStart() + p, tag));
            }
        }
        long clusters = sb.clusters();
        ByteBuffer bm = disk.readPages(sb.bitmapStart(), (int) clusters);
        for (int c = 0; c < clusters; c++) {
            ByteBuffer page = Disk.page(bm, c);
            if (Pages.state(page, Pages.BITMAP, sb.bitmapPage(c), tag) != Pages.State.VALID) {
                damagedUnlessJournalled(covered, disk, sb, sb.bitmapPage(c), "the bitmap of cluster " + c,
                        Pages.problem(page, Pages.BITMAP, sb.bitmapPage(c), tag));
            }
        }
        for (int s = 0; s < sb.maxHosts(); s++) {
            Journal.open(disk, sb, s);
        }
    }

    private static StorageException damaged(String what, String problem) {
        return new StorageException(ErrorCode.CORRUPT_IMAGE, "the VIMS is damaged: " + what + " is " + problem
                + "; nothing was written; run storage:datastore-check --repair");
    }

    static Vims mount(String name, BlockDevice device, LeaseParticipant p) {
        Disk disk = new Disk(device);
        Superblock sb = readSuperblock(disk);
        validate(disk, sb);
        SectorStore store = Lockspaces.blockStore(device, sb.lockspaceOffset(), sb.lockspaceSectors());
        Lockspace ls = null;
        Vims v = null;
        try {
            Vims[] self = new Vims[1];
            ls = Lockspaces.join(store, p.me(), p.settings(), p.clock(), () -> {
                if (self[0] != null) {
                    self[0].fenced = true;
                }
                LOG.error("VIMS {}: this host could not renew its heartbeat in time and stopped writing", name);
                p.onFence().run();
            });
            v = new Vims(name, disk, store, ls, p, sb);
            self[0] = v;
            Lockspace joined = ls;
            disk.guard(() -> joined.valid() && !self[0].fenced, "datastore '" + name
                    + "': this host lost its heartbeat on the VIMS and stopped writing to it");
            v.start();
            return v;
        } catch (RuntimeException e) {
            if (v != null) {
                v.close();
            } else {
                if (ls != null) {
                    ls.close();
                }
                store.close();
            }
            throw e;
        }
    }

    private void start() {
        int slot = ls.slot();
        try {
            journalLease = ls.acquire(sb.journalArea(slot), "journal of slot " + slot, ls.areas() > 0
                    ? participantExpiry().multipliedBy(3) : Duration.ZERO);
        } catch (LeaseHeldException e) {
            throw new StorageException(ErrorCode.RESOURCE_IN_USE, "the journal of slot " + slot + " is held by host "
                    + e.holder());
        }
        journal = Journal.open(disk, sb, slot);
        int n = journal.replay();
        if (n > 0) {
            LOG.info("VIMS {}: replayed {} page(s) from this slot's journal (left by an earlier run)", name, n);
        }
        replayDead();
        readDirectoryAfterCrash();
        finishInterrupted();
        maintenance = new Thread(this::maintain, "strata-vims-" + name);
        maintenance.setDaemon(true);
        maintenance.start();
        LOG.info("VIMS {} mounted: slot {}, {} blocks of {} bytes", name, slot, sb.blocks(), sb.blockSize());
    }

    /**
     * Reads the directory at mount. A page torn by a crash that a journal record of another host
     * covers (see {@link #validate}) reads damaged until that host is judged dead and its journal
     * replayed: waits for that, up to twice the expiry.
     */
    private void readDirectoryAfterCrash() {
        long end = System.nanoTime() + participantExpiry().multipliedBy(2).plus(participant.settings().renewal()
                .multipliedBy(2)).toNanos();
        while (true) {
            try {
                refreshDirectory(true);
                return;
            } catch (StorageException e) {
                if (e.code() != ErrorCode.CORRUPT_IMAGE || System.nanoTime() > end) {
                    throw e;
                }
                LOG.info("VIMS {}: {}; waiting for the hosts that may hold it in their journals to be replayed",
                        name, e.getMessage());
                try {
                    Thread.sleep(participant.settings().renewal().toMillis());
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    throw e;
                }
                replayDead();
            }
        }
    }

    private Duration participantExpiry() {
        return participant.settings().expiry();
    }

    private void maintain() {
        long every = Math.max(50, participant.settings().renewal().toMillis() / 2);
        long lastSweep = System.nanoTime();
        while (!closed) {
            try {
                // parked, not sleeping: unmount wakes it with unpark, never an interrupt, which
                // would close a FileChannel-backed device under the I/O it may be doing
                java.util.concurrent.locks.LockSupport.parkNanos(Math.min(every, LINGER_MS) * 1_000_000);
                if (closed) {
                    return;
                }
                releaseIdleClusters(false);
                long now = System.nanoTime();
                if (now - lastSweep > every * 1_000_000) {
                    lastSweep = now;
                    replayDead();
                    finishInterrupted();
                }
            } catch (RuntimeException e) {
                if (!closed) {
                    LOG.debug("VIMS {}: maintenance: {}", name, e.toString());
                }
            }
        }
    }

    // ---------------------------------------------------------------- leases and journals of dead hosts

    /**
     * Replays the journals of the hosts this host now counts dead and has not replayed yet.
     * Runs after every lease this host takes (a lease taken over from a dead host is used only
     * after the dead host's journal is replayed) and in the background.
     */
    void replayDead() {
        List<HostStatus> dead = new ArrayList<>();
        for (HostStatus h : ls.hosts()) {
            // DEAD only: a slot is FREE when never used or released by a clean unmount, which
            // checkpoints its journal first; a new host in a dead host's slot replays it at mount
            if (h.slot() != ls.slot() && h.state() == HostStatus.State.DEAD && !replayed.contains(key(h))) {
                dead.add(h);
            }
        }
        if (dead.isEmpty()) {
            return;
        }
        replayLock.lock();
        try {
            for (HostStatus h : dead) {
                if (replayed.contains(key(h))) {
                    continue;
                }
                ResourceLease l;
                try {
                    l = ls.acquire(sb.journalArea(h.slot()), "journal of slot " + h.slot(), Duration.ZERO);
                } catch (LeaseHeldException e) {
                    continue; // a live host replays it, or a new host owns the slot now
                }
                try {
                    Journal j = Journal.open(disk, sb, h.slot());
                    int n = j.replay();
                    if (n > 0 || h.state() == HostStatus.State.DEAD) {
                        LOG.info("VIMS {}: replayed the journal of dead host {} (slot {}): {} page(s)", name,
                                h.host(), h.slot(), n);
                    }
                    replayed.add(key(h));
                } catch (StorageException e) {
                    if (e.code() == ErrorCode.CORRUPT_IMAGE) {
                        LOG.error("VIMS {}: cannot replay the journal of host {} (slot {}): {}", name, h.host(), h.slot(),
                                e.getMessage());
                        replayed.add(key(h));
                    } else {
                        throw e;
                    }
                } finally {
                    l.close();
                }
            }
        } finally {
            replayLock.unlock();
        }
    }

    /** @return whether another host is dead with its journal not replayed here yet, or not judged yet */
    boolean awaitingReplay() {
        for (HostStatus h : ls.hosts()) {
            if (h.slot() != ls.slot() && (h.state() == HostStatus.State.UNKNOWN
                    || (h.state() == HostStatus.State.DEAD && !replayed.contains(key(h))))) {
                return true;
            }
        }
        return false;
    }

    private static String key(HostStatus h) {
        return h.slot() + ":" + h.host().id() + ":" + h.generation();
    }

    /** Takes a lease of the filesystem's own areas, then makes sure dead hosts' journals are replayed. */
    ResourceLease acquire(int area, String what, Duration wait) {
        checkOpen();
        ResourceLease l = ls.acquire(area, what, wait);
        try {
            replayDead();
        } catch (RuntimeException e) {
            l.close();
            throw e;
        }
        return l;
    }

    private ResourceLease namespaceLease() {
        try {
            return acquire(Superblock.NAMESPACE_AREA, "namespace", NAMESPACE_WAIT);
        } catch (LeaseHeldException e) {
            throw new StorageException(ErrorCode.LOCKED, "the namespace of VIMS '" + name + "' has been held by host "
                    + e.holder() + " for more than " + NAMESPACE_WAIT.toSeconds() + " s");
        }
    }

    void checkOpen() {
        if (closed) {
            throw new StorageException(ErrorCode.DEVICE_UNAVAILABLE, "datastore '" + name + "' is unmounted");
        }
        if (fenced || !ls.valid()) {
            throw new StorageException(ErrorCode.DEVICE_UNAVAILABLE, "datastore '" + name
                    + "': this host lost its heartbeat on the VIMS and stopped writing to it");
        }
    }

    void commit(Txn t) {
        checkOpen();
        journal.commit(t.pages);
    }

    // ---------------------------------------------------------------- directory

    /** Reads the directory again when another host changed it since (one page read when it did not). */
    void refreshDirectory(boolean force) {
        retryTorn(() -> refreshDirectoryOnce(force));
    }

    /** Pages another host rewrites in place may be read half old, half new: a few reads again before calling them damaged. */
    static final int TORN_RETRIES = 10;

    /**
     * Reads metadata that another host may be rewriting in place, or that a crash tore and a
     * journal still holds: a few quick reads again; then, while a host is dead (or not judged
     * yet) and its journal not replayed, reads again after each replay of dead hosts' journals,
     * for up to twice the expiry. A page still damaged then, or at once when every other host is
     * alive, is reported.
     */
    private void retryTorn(Runnable read) {
        long end = 0;
        for (int attempt = 0; ; attempt++) {
            try {
                read.run();
                return;
            } catch (StorageException e) {
                if (e.code() != ErrorCode.CORRUPT_IMAGE || closed) {
                    throw e;
                }
                if (attempt >= TORN_RETRIES) {
                    if (end == 0) {
                        end = System.nanoTime() + participantExpiry().multipliedBy(2)
                                .plus(participant.settings().renewal().multipliedBy(2)).toNanos();
                    }
                    if (!awaitingReplay() || System.nanoTime() > end) {
                        throw e;
                    }
                    try {
                        Thread.sleep(Math.max(10, participant.settings().renewal().toMillis() / 2));
                    } catch (InterruptedException ie) {
                        Thread.currentThread().interrupt();
                        throw e;
                    }
                    replayDead();
                    continue;
                }
                try {
                    Thread.sleep(5L + attempt * 5L);
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    throw e;
                }
            }
        }
    }

    private void refreshDirectoryOnce(boolean force) {
        ByteBuffer ns = disk.readPage(sb.namespacePage());
        if (Pages.state(ns, Pages.NAMESPACE, sb.namespacePage(), tag) != Pages.State.VALID) {
            throw damaged("the namespace header", Pages.problem(ns, Pages.NAMESPACE, sb.namespacePage(), tag));
        }
        long v = Pages.version(ns);
        synchronized (byName) {
            if (!force && v == nsVersion) {
                return;
            }
        }
        ByteBuffer dir = disk.readPages(sb.directoryStart(), sb.directoryPages());
        Entry[] es = new Entry[sb.maxFiles()];
        Map<String, Integer> names = new HashMap<>();
        for (int i = 0; i < sb.maxFiles(); i++) {
            int p = i / Superblock.ENTRIES_PER_PAGE;
            ByteBuffer page = Disk.page(dir, p);
            if (i % Superblock.ENTRIES_PER_PAGE == 0
                    && Pages.state(page, Pages.DIRECTORY, sb.directoryStart() + p, tag) != Pages.State.VALID) {
                throw damaged("directory page " + p, Pages.problem(page, Pages.DIRECTORY, sb.directoryStart() + p, tag));
            }
            Entry e = Entry.read(page, i);
            if (e == null) {
                throw damaged("directory entry " + i, "malformed");
            }
            es[i] = e;
            if (e.state() == Entry.USED) {
                names.put(e.name(), i);
            }
        }
        synchronized (byName) {
            entries = es;
            byName.clear();
            byName.putAll(names);
            nsVersion = v;
        }
    }

    private Entry lookup(String file) {
        refreshDirectory(false);
        synchronized (byName) {
            Integer i = byName.get(file);
            return i == null ? null : entries[i];
        }
    }

    private Entry entry(int index) {
        synchronized (byName) {
            return entries[index];
        }
    }

    /** Under the namespace lease: a txn adding the directory pages of {@code changed} and the namespace header. */
    private Txn namespaceTxn(Entry... changed) {
        Txn t = new Txn(tag);
        Map<Long, ByteBuffer> pages = new HashMap<>();
        for (Entry e : changed) {
            long p = sb.directoryPageOf(e.index());
            ByteBuffer page = pages.computeIfAbsent(p, disk::readPage);
            e.write(page);
        }
        for (Map.Entry<Long, ByteBuffer> e : pages.entrySet()) {
            t.put(e.getKey(), Pages.DIRECTORY, e.getValue());
        }
        t.put(sb.namespacePage(), Pages.NAMESPACE, disk.readPage(sb.namespacePage()));
        return t;
    }

    static String checkName(String file) {
        if (file != null && file.startsWith(".strata")) {
            if (file.length() > Names.MAX_LENGTH || file.indexOf('/') >= 0 || file.indexOf('\\') >= 0
                    || file.contains("..") || file.chars().anyMatch(Character::isISOControl)) {
                throw new StorageException(ErrorCode.INVALID_NAME, "file name '" + Names.printable(file)
                        + "' is not valid (no path separators, '..' or control characters)");
            }
            return file;
        }
        if (file != null && file.startsWith(TEMP_PREFIX)) {
            return file;
        }
        return Names.check("file", file);
    }

    // ---------------------------------------------------------------- Datastore

    @Override
    public String name() {
        return name;
    }

    @Override
    public String filesystemType() {
        return VimsFilesystem.TYPE;
    }

    @Override
    public Set<Capability> capabilities() {
        return Collections.unmodifiableSet(EnumSet.of(Capability.SHARED, Capability.SPARSE_FILES,
                Capability.PREALLOCATE, Capability.PUNCH_HOLE, Capability.FILE_LOCKS));
    }

    @Override
    public SpaceInfo space() {
        checkOpen();
        refreshSuperblock();
        Superblock s = sb;
        long clusters = s.clusters();
        long free = 0;
        ByteBuffer bm = disk.readPages(s.bitmapStart(), (int) clusters);
        for (int c = 0; c < clusters; c++) {
            ByteBuffer page = Disk.page(bm, c);
            if (Pages.state(page, Pages.BITMAP, s.bitmapPage(c), tag) == Pages.State.VALID) {
                free += Bitmaps.free(page);
            }
        }
        return new SpaceInfo(s.capacity(), free * s.blockSize());
    }

    /** Reads the superblock again (another host may have grown the filesystem). */
    void refreshSuperblock() {
        Superblock now = Superblock.decode(disk.readPage(Superblock.PRIMARY_PAGE), Superblock.PRIMARY_PAGE);
        if (now != null && now.uuid().equals(sb.uuid()) && now.blocks() > sb.blocks()) {
            sb = now;
        }
    }

    @Override
    public Optional<java.nio.file.Path> localPath() {
        return Optional.empty();
    }

    @Override
    public List<String> list() {
        checkOpen();
        refreshDirectory(false);
        List<String> out = new ArrayList<>();
        synchronized (byName) {
            for (String n : byName.keySet()) {
                if (!n.startsWith(TEMP_PREFIX)) {
                    out.add(n);
                }
            }
        }
        Collections.sort(out);
        return out;
    }

    @Override
    public boolean exists(String file) {
        checkName(file);
        checkOpen();
        return lookup(file) != null;
    }

    @Override
    public FileStat stat(String file) {
        checkName(file);
        checkOpen();
        Entry e = lookup(file);
        if (e == null) {
            throw notFound(file);
        }
        Descriptor d;
        synchronized (nodes) {
            Node n = nodes.get(e.index());
            d = n != null && n.owned() ? n.desc : null;
        }
        if (d == null) {
            d = readDescriptor(e.index(), e.generation(), file);
        }
        return new FileStat(file, d.size(), d.allocated() * sb.blockSize());
    }

    private StorageException notFound(String file) {
        return new StorageException(ErrorCode.FILE_NOT_FOUND, "no file '" + Names.printable(file)
                + "' in datastore '" + name + "'");
    }

    Descriptor readDescriptor(int index, long generation, String file) {
        Descriptor[] out = new Descriptor[1];
        retryTorn(() -> out[0] = readDescriptorOnce(index, generation, file));
        return out[0];
    }

    private Descriptor readDescriptorOnce(int index, long generation, String file) {
        long page = sb.descriptorPage(index);
        ByteBuffer b = disk.readPage(page);
        if (Pages.state(b, Pages.DESCRIPTOR, page, tag) != Pages.State.VALID) {
            throw new StorageException(ErrorCode.CORRUPT_IMAGE, "the descriptor of file '" + file + "' in VIMS '" + name
                    + "' is " + Pages.problem(b, Pages.DESCRIPTOR, page, tag) + "; run storage:datastore-check");
        }
        Descriptor d = new Descriptor(index, b);
        if (d.generation() < generation) {
            // the directory entry of a file being created landed before its descriptor did: the
            // creating host is between its two in-place writes, or died there and its journal
            // (which holds both) is not replayed yet; retryTorn reads again, after replays
            throw new StorageException(ErrorCode.CORRUPT_IMAGE, "the descriptor of file '" + file + "' in VIMS '"
                    + name + "' is older (generation " + d.generation() + ") than its directory entry (" + generation
                    + "); run storage:datastore-check");
        }
        if (d.generation() != generation) {
            throw new StorageException(ErrorCode.FILE_NOT_FOUND, "file '" + file + "' in datastore '" + name
                    + "' was deleted meanwhile");
        }
        return d;
    }

    @Override
    public DatastoreFile create(String file) {
        checkName(file);
        checkOpen();
        Node node;
        nsLock.lock();
        try (ResourceLease ns = namespaceLease()) {
            refreshDirectory(false);
            List<Entry> frees = new ArrayList<>();
            synchronized (byName) {
                if (byName.containsKey(file)) {
                    throw new StorageException(ErrorCode.ALREADY_EXISTS, "file '" + Names.printable(file)
                            + "' already exists in datastore '" + name + "'");
                }
                for (Entry e : entries) {
                    if (e.state() == Entry.FREE) {
                        frees.add(e);
                        if (frees.size() == FREE_SLOTS_TRIED) {
                            break;
                        }
                    }
                }
            }
            if (frees.isEmpty()) {
                throw new StorageException(ErrorCode.DATASTORE_FULL, "datastore '" + name + "' has no free file "
                        + "descriptor left (it was formatted for " + sb.maxFiles() + " files)");
            }
            // A free slot's lease may still be held by the host that just deleted the file there
            // (it lets the lease go after the namespace's): that slot is in passing, another is
            // taken. The namespace lease keeps other creators out meanwhile.
            Entry free = null;
            ResourceLease fl = null;
            LeaseHeldException held = null;
            StorageException heldHere = null;
            for (Entry candidate : frees) {
                try {
                    fl = acquire(sb.fileArea(candidate.index()), "file " + file, Duration.ZERO);
                    free = candidate;
                    break;
                } catch (LeaseHeldException e) {
                    held = e;
                } catch (StorageException e) {
                    if (e.code() != ErrorCode.LOCKED) {
                        throw e;
                    }
                    heldHere = e; // another thread of this host holds it a moment (a sweep)
                }
            }
            if (fl == null) {
                throw new StorageException(ErrorCode.LOCKED, "the " + frees.size() + " free descriptor slot(s) of "
                        + "datastore '" + name + "' tried are all still held (the last "
                        + (held != null ? "by host " + held.holder() : "by this host") + ", which is letting it go "
                        + "after a delete); try again", held != null ? held : heldHere);
            }
            try {
                long gen = free.generation() + 1;
                Entry made = new Entry(free.index(), Entry.USED, gen, file, 0);
                Txn t = namespaceTxn(made);
                long descPage = sb.descriptorPage(free.index());
                ByteBuffer old = disk.readPage(descPage);
                Descriptor d = Descriptor.fresh(free.index(), gen, System.currentTimeMillis());
                d.lock(Descriptor.LOCK_EXCLUSIVE, ls.slot(), ls.me().id(), ls.generation());
                long oldVersion = Pages.state(old, Pages.DESCRIPTOR, descPage, tag) == Pages.State.VALID
                        ? Pages.version(old) : Math.max(0, Pages.version(old));
                d.page.putLong(16, oldVersion);
                t.put(descPage, Pages.DESCRIPTOR, d.page);
                commit(t);
                node = new Node(free.index(), gen, d);
                node.lease = fl;
                node.writers = 1;
                synchronized (nodes) {
                    nodes.put(free.index(), node);
                }
            } catch (RuntimeException e) {
                fl.close();
                refreshQuietly();
                throw e;
            }
            // made: the caller gets its file (every lookup reads the directory again anyway);
            // throwing here would leave the file's lease held with no handle to let it go
            refreshQuietly();
        } finally {
            nsLock.unlock();
        }
        return new VimsFile(this, node, file, true);
    }

    private void refreshQuietly() {
        try {
            refreshDirectory(true);
        } catch (RuntimeException e) {
            LOG.debug("VIMS {}: directory refresh failed: {}", name, e.toString());
        }
    }

    @Override
    public DatastoreFile open(String file, boolean writable) {
        checkName(file);
        checkOpen();
        Entry e = lookup(file);
        if (e == null) {
            throw notFound(file);
        }
        Runnable hook = openLookedUp;
        if (hook != null) {
            hook.run();
        }
        return new VimsFile(this, openNode(e, file, writable), file, writable);
    }

    /** Test hook: runs in {@link #open} between the directory lookup and the node (where a delete can fall). */
    volatile Runnable openLookedUp;

    private Node openNode(Entry e, String file, boolean writable) {
        Node n;
        synchronized (nodes) {
            n = nodes.get(e.index());
            if (n != null && n.generation != e.generation()) {
                n = null;
            }
            if (n != null) {
                n.pins++;
            }
        }
        if (n == null) {
            Node fresh = new Node(e.index(), e.generation(), readDescriptor(e.index(), e.generation(), file));
            synchronized (nodes) {
                n = nodes.get(e.index());
                if (n == null || n.generation != e.generation()) {
                    nodes.put(e.index(), fresh);
                    n = fresh;
                }
                n.pins++;
            }
        }
        try {
            return countOpen(n, file, writable);
        } finally {
            synchronized (nodes) {
                n.pins--;
            }
            dropIfUnused(n);
        }
    }

    /** Counts an open of a pinned node, taking the file's lease for the first writer. */
    private Node countOpen(Node n, String file, boolean writable) {
        n.meta.lock();
        try {
            if (writable && !n.owned()) {
                ResourceLease fl;
                try {
                    fl = acquire(sb.fileArea(n.index), "file " + file, Duration.ZERO);
                } catch (LeaseHeldException ex) {
                    throw new StorageException(ErrorCode.LOCKED, "file '" + Names.printable(file) + "' of datastore '"
                            + name + "' is open for writing on host " + ex.holder());
                } catch (StorageException ex) {
                    if (ex.code() != ErrorCode.LOCKED) {
                        throw ex;
                    }
                    // this host holds the file's lease outside any open handle: a delete or a
                    // rename over it has it (a closing handle lets it go before it unlocks meta)
                    throw new StorageException(ErrorCode.LOCKED, "file '" + Names.printable(file) + "' of datastore '"
                            + name + "' is being removed on this host", ex);
                }
                try {
                    // The entry was looked up before the lease was taken: a delete (on any host) may
                    // have finished in between and left the descriptor of a free entry with the same
                    // generation. Held now, the lease keeps any delete out, so one look settles it.
                    checkStillExists(n, file);
                    Descriptor d = readDescriptor(n.index, n.generation, file);
                    d.lock(Descriptor.LOCK_EXCLUSIVE, ls.slot(), ls.me().id(), ls.generation());
                    Txn t = new Txn(tag).put(sb.descriptorPage(n.index), Pages.DESCRIPTOR, d.page);
                    commit(t);
                    n.desc = d;
                    n.pointerPages.clear();
                    n.lease = fl;
                } catch (RuntimeException ex) {
                    fl.close();
                    throw ex;
                }
            } else if (!n.owned()) {
                if (n.writers == 0 && n.readers > 0) {
                    // a reader here: see what other hosts wrote since
                    reload(n, file);
                }
                // A reader takes no lease, so a delete (on any host) may have marked the entry
                // between the lookup and the descriptor read: that descriptor may be a freed
                // file's. A delete marks the entry before it changes the descriptor, so an entry
                // found still in use now means the descriptor read was of the live file.
                checkStillExists(n, file);
            }
            if (writable) {
                n.writers++;
            } else {
                n.readers++;
            }
            return n;
        } finally {
            n.meta.unlock();
        }
    }

    private void dropIfUnused(Node n) {
        synchronized (nodes) {
            if (n.writers == 0 && n.readers == 0 && n.pins == 0 && n.lease == null && nodes.get(n.index) == n) {
                nodes.remove(n.index);
            }
        }
    }

    /** Re-reads a file's descriptor (a reader on this host, another host may write it). */
    void reload(Node n, String file) {
        n.desc = readDescriptor(n.index, n.generation, file);
        n.pointerPages.clear();
    }

    /**
     * A handle closed: the last writer's close clears the lock record and releases the file's
     * lease. The release is done before meta is unlocked, and the node stays in {@code nodes}
     * until it is done: an open for writing that finds the file unheld, on this node or on a
     * new one, then finds its lease free too (released after, it failed LOCKED now and then).
     */
    void closed(Node n, boolean writable) {
        n.meta.lock();
        try {
            if (writable) {
                n.writers--;
            } else {
                n.readers--;
            }
            if (n.writers == 0 && n.owned()) {
                ResourceLease release = n.lease;
                if (!closed && !fenced && ls.valid() && n.desc.generation() == n.generation && stillExists(n)) {
                    try {
                        Descriptor d = n.desc.copy();
                        d.lock(Descriptor.LOCK_NONE, 0, null, 0);
                        commit(new Txn(tag).put(sb.descriptorPage(n.index), Pages.DESCRIPTOR, d.page));
                        n.desc = d;
                        // Every record of this file's pages is in place: retire them before the lease
                        // goes, so none can be replayed over a pointer block that another host frees
                        // and reuses for data once it holds the file.
                        journal.checkpoint();
                    } catch (RuntimeException e) {
                        LOG.warn("VIMS {}: could not clear the lock record of file {}: {}", name, n.index, e.getMessage());
                    }
                }
                // released before it is cleared: until then the node stays this file's node on
                // this host, and another thread's close cannot drop it (an open would then make a
                // new node and find the lease still held)
                try {
                    release.close();
                } finally {
                    n.lease = null;
                }
            }
        } finally {
            n.meta.unlock();
        }
        dropIfUnused(n);
    }

    /**
     * Fails {@code FILE_NOT_FOUND} when the directory entry of {@code n} no longer holds that
     * file in use: a delete (on any host) marked or freed it, or a create reused it.
     */
    void checkStillExists(Node n, String file) {
        refreshDirectory(false);
        if (!stillExists(n)) {
            throw new StorageException(ErrorCode.FILE_NOT_FOUND, "file '" + Names.printable(file)
                    + "' in datastore '" + name + "' was deleted meanwhile");
        }
    }

    private boolean stillExists(Node n) {
        Entry e = entry(n.index);
        return e != null && e.generation() == n.generation && e.state() == Entry.USED;
    }

    @Override
    public void delete(String file) {
        checkName(file);
        checkOpen();
        Entry e;
        ResourceLease fl;
        nsLock.lock();
        try (ResourceLease ns = namespaceLease()) {
            refreshDirectory(false);
            e = lookup(file);
            if (e == null) {
                throw notFound(file);
            }
            fl = fileLeaseForRemoval(e, file);
            deletesUnderWay.add(underWay(e.index(), e.generation()));
            try {
                commit(namespaceTxn(e.with(Entry.DELETING, e.name(), ls.slot())));
            } catch (RuntimeException ex) {
                deletesUnderWay.remove(underWay(e.index(), e.generation()));
                fl.close();
                refreshQuietly();
                throw ex;
            }
            try {
                refreshDirectory(false);
            } catch (RuntimeException ex) {
                // marked: this host's maintenance finishes it
                deletesUnderWay.remove(underWay(e.index(), e.generation()));
                fl.close();
                throw ex;
            }
        } finally {
            nsLock.unlock();
        }
        finishDelete(e.index(), e.generation(), file, fl);
    }

    /** Takes the lease of a file about to be removed (refused while another host has it open for writing). */
    private ResourceLease fileLeaseForRemoval(Entry e, String file) {
        // Readers (here or on other hosts) take no lock and do not stop a removal, as on POSIX;
        // whoever must not see a file go away holds a lease above it (the core: the volume's),
        // and readAll checks what it read. A writer holds the file's lease, here as anywhere.
        synchronized (nodes) {
            Node n = nodes.get(e.index());
            if (n != null && n.generation == e.generation() && n.writers > 0) {
                throw new StorageException(ErrorCode.LOCKED, "file '" + Names.printable(file) + "' of datastore '"
                        + name + "' is open for writing on this host");
            }
        }
        try {
            return acquire(sb.fileArea(e.index()), "file " + file, Duration.ZERO);
        } catch (LeaseHeldException ex) {
            throw new StorageException(ErrorCode.LOCKED, "file '" + Names.printable(file) + "' of datastore '" + name
                    + "' is open for writing on host " + ex.holder());
        }
    }

    /** Frees the blocks of a file marked DELETING, then its entry; releases its lease. */
    private void finishDelete(int index, long generation, String file, ResourceLease fl) {
        try {
            Descriptor d = readDescriptor(index, generation, file);
            Node n = new Node(index, generation, d);
            n.meta.lock();
            try {
                freeRange(n, 0, Long.MAX_VALUE, true);
            } finally {
                n.meta.unlock();
            }
            nsLock.lock();
            try (ResourceLease ns = namespaceLease()) {
                refreshDirectory(false);
                Entry now = entry(index);
                if (now.generation() == generation && now.state() == Entry.DELETING) {
                    Txn t = namespaceTxn(now.with(Entry.FREE, "", 0));
                    Descriptor cleared = n.desc.copy();
                    cleared.lock(Descriptor.LOCK_NONE, 0, null, 0);
                    cleared.size(0);
                    t.put(sb.descriptorPage(index), Pages.DESCRIPTOR, cleared.page);
                    commit(t);
                }
                refreshDirectory(false);
                // before the namespace: a create (here or on another host) that finds the entry free
                // must find its file lease free too
                fl.close();
            } finally {
                nsLock.unlock();
            }
        } finally {
            fl.close();
            deletesUnderWay.remove(underWay(index, generation));
        }
    }

    private static String underWay(int index, long generation) {
        return index + ":" + generation;
    }

    /**
     * Whether the host in {@code slot} may still be deleting a file itself: it is live, or not
     * yet watched long enough to tell. A dead host's deletes, and those of a host that left,
     * are finished by the others; a live host finishes its own, a failed one included.
     */
    private boolean mayBeDeleting(int slot) {
        for (HostStatus h : ls.hosts()) {
            if (h.slot() == slot) {
                return h.state() == HostStatus.State.LIVE || h.state() == HostStatus.State.UNKNOWN;
            }
        }
        return false;
    }

    /** Tests only: run by a sweep between listing the DELETING entries and taking them on, to widen that window. */
    volatile Runnable sweepListed;

    /** Finishes deletes a dead host (or a failed call) left half done, and removes stale temporary files. */
    void finishInterrupted() {
        if (closed || fenced) {
            return;
        }
        refreshDirectory(false);
        List<Entry> todo = new ArrayList<>();
        synchronized (byName) {
            for (Entry e : entries) {
                if (e.state() == Entry.DELETING) {
                    todo.add(e);
                }
            }
        }
        Runnable listed = sweepListed;
        if (listed != null && !todo.isEmpty()) {
            listed.run();
        }
        for (Entry e : todo) {
            ResourceLease fl = takeInterruptedDelete(e);
            if (fl == null) {
                continue;
            }
            LOG.info("VIMS {}: finishing the interrupted delete of file {}", name, e.name());
            finishDelete(e.index(), e.generation(), e.name(), fl);
        }
    }

    /**
     * Takes the file lease of an entry the sweep found DELETING, when the delete is one this host
     * is to finish. Another thread's delete (this host's or a live host's) is left to it: taking
     * the file's lease the moment that thread lets it go would make a create reusing the entry on
     * this host fail LOCKED, or this host's own delete. This host finishes its own deletes that
     * failed, and those of an earlier incarnation in its slot.
     *
     * <p>The entry is looked at again, and the lease taken, under the namespace lock: the sweep's
     * list can be older than a delete that has since finished and an entry reused by a new file
     * (create and delete change the namespace under that lock), and a lease taken under the old
     * name would then make an open or delete of the new file on this host fail LOCKED.
     *
     * @return the file's lease, or null when the entry is not to be finished now
     */
    private ResourceLease takeInterruptedDelete(Entry seen) {
        nsLock.lock();
        try {
            Entry e = lookupIndex(seen.index());
            if (e.state() != Entry.DELETING || e.generation() != seen.generation()) {
                return null;
            }
            if (e.deleter() == ls.slot() ? deletesUnderWay.contains(underWay(e.index(), e.generation()))
                    : mayBeDeleting(e.deleter())) {
                return null;
            }
            ResourceLease fl;
            try {
                fl = acquire(sb.fileArea(e.index()), "file " + e.name(), Duration.ZERO);
            } catch (LeaseHeldException ex) {
                return null; // its deleter is alive and at it
            }
            try {
                Entry now = lookupIndex(e.index()); // another host may have finished it meanwhile
                if (now.state() != Entry.DELETING || now.generation() != e.generation()) {
                    fl.close();
                    return null;
                }
            } catch (RuntimeException ex) {
                fl.close();
                throw ex;
            }
            return fl;
        } finally {
            nsLock.unlock();
        }
    }

    private Entry lookupIndex(int index) {
        refreshDirectory(false);
        return entry(index);
    }

    @Override
    public void rename(String from, String to) {
        checkName(from);
        checkName(to);
        checkOpen();
        if (from.equals(to)) {
            if (!exists(from)) {
                throw notFound(from);
            }
            return;
        }
        Entry replaced = null;
        ResourceLease fl = null;
        nsLock.lock();
        try (ResourceLease ns = namespaceLease()) {
            refreshDirectory(false);
            Entry src = lookup(from);
            if (src == null) {
                throw notFound(from);
            }
            Entry dst = lookup(to);
            try {
                if (dst != null) {
                    fl = fileLeaseForRemoval(dst, to);
                    deletesUnderWay.add(underWay(dst.index(), dst.generation()));
                    replaced = dst;
                    commit(namespaceTxn(src.with(Entry.USED, to, 0), dst.with(Entry.DELETING, dst.name(), ls.slot())));
                } else {
                    commit(namespaceTxn(src.with(Entry.USED, to, 0)));
                }
            } catch (RuntimeException ex) {
                if (fl != null) {
                    deletesUnderWay.remove(underWay(dst.index(), dst.generation()));
                    fl.close();
                }
                refreshQuietly();
                throw ex;
            }
            try {
                refreshDirectory(false);
            } catch (RuntimeException ex) {
                if (fl != null) {
                    // renamed, the old file marked: this host's maintenance finishes its delete
                    deletesUnderWay.remove(underWay(dst.index(), dst.generation()));
                    fl.close();
                }
                throw ex;
            }
        } finally {
            nsLock.unlock();
        }
        if (replaced != null) {
            finishDelete(replaced.index(), replaced.generation(), to, fl);
        }
    }

    @Override
    public void writeAtomically(String file, byte[] content) {
        checkName(file);
        checkOpen();
        byte[] r = new byte[6];
        RANDOM.nextBytes(r);
        String tmp = TEMP_PREFIX + java.util.HexFormat.of().formatHex(r);
        try {
            try (DatastoreFile f = create(tmp)) {
                f.write(ByteBuffer.wrap(content), 0);
                f.flush();
            }
            rename(tmp, file);
        } catch (RuntimeException e) {
            try {
                if (exists(tmp)) {
                    delete(tmp);
                }
            } catch (RuntimeException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
    }

    @Override
    public byte[] readAll(String file) {
        checkName(file);
        checkOpen();
        for (int attempt = 0; ; attempt++) {
            Entry e = lookup(file);
            if (e == null) {
                throw notFound(file);
            }
            byte[] out;
            long version;
            try (VimsFile f = new VimsFile(this, openNode(e, file, false), file, false)) {
                Descriptor d = f.node.desc;
                version = Pages.version(d.page);
                long size = d.size();
                if (size > Integer.MAX_VALUE - 16) {
                    throw new StorageException(ErrorCode.SIZE_TOO_LARGE, "file '" + file + "' is too large to read whole");
                }
                out = new byte[(int) size];
                f.read(ByteBuffer.wrap(out), 0);
            } catch (StorageException ex) {
                if (ex.code() == ErrorCode.FILE_NOT_FOUND && attempt < 20) {
                    continue;
                }
                throw ex;
            }
            // Optimistic read: another host may have replaced the file meanwhile, and its blocks been reused.
            refreshDirectory(false);
            Entry now = entry(e.index());
            ByteBuffer dp = disk.readPage(sb.descriptorPage(e.index()));
            if (now.state() == Entry.USED && now.generation() == e.generation() && now.name().equals(file)
                    && Pages.version(dp) == version) {
                return out;
            }
            if (attempt >= 50) {
                throw new StorageException(ErrorCode.LOCKED, "file '" + file + "' keeps changing while it is read");
            }
        }
    }

    // ---------------------------------------------------------------- block mapping

    /** @return the pointer of logical block {@code lb} of a file (0: a hole) */
    long pointer(Node n, long lb) {
        Descriptor d = n.desc;
        if (lb < Descriptor.DIRECT) {
            return d.direct((int) lb);
        }
        long per = perIndirect();
        long idx = lb - Descriptor.DIRECT;
        int ind = (int) (idx / per);
        if (ind >= Descriptor.INDIRECT) {
            return 0;
        }
        long ip = d.indirect(ind);
        if (ip == 0) {
            return 0;
        }
        long within = idx % per;
        ByteBuffer page = pointerPage(n, Descriptor.block(ip), within / Descriptor.PER_PAGE);
        return page.getLong(Pages.PAYLOAD + (int) (within % Descriptor.PER_PAGE) * 8);
    }

    long perIndirect() {
        return (long) Descriptor.PER_PAGE * sb.pagesPerBlock();
    }

    long maxFileBlocks() {
        return Descriptor.DIRECT + Descriptor.INDIRECT * perIndirect();
    }

    ByteBuffer pointerPage(Node n, long block, long k) {
        long pageNo = sb.blockPage(block, k);
        ByteBuffer b = n.pointerPages.get(pageNo);
        if (b != null) {
            return b;
        }
        ByteBuffer[] out = new ByteBuffer[1];
        retryTorn(() -> {
            ByteBuffer r = disk.readPage(pageNo);
            if (Pages.state(r, Pages.POINTERS, pageNo, tag) == Pages.State.DAMAGED) {
                throw new StorageException(ErrorCode.CORRUPT_IMAGE, "pointer page " + pageNo + " of a file in VIMS '"
                        + name + "' is " + Pages.problem(r, Pages.POINTERS, pageNo, tag) + "; run storage:datastore-check");
            }
            out[0] = r;
        });
        n.pointerPages.put(pageNo, out[0]);
        return out[0];
    }

    /**
     * Under {@code n.meta}: sets the pointer of logical block {@code lb} in {@code t}, making a
     * pointer block first when it needs one (which {@code alloc} provides).
     */
    private void setPointer(Node n, Descriptor d, Txn t, long lb, long ptr, Map<Long, ByteBuffer> touched,
            java.util.function.LongSupplier newPointerBlock) {
        if (lb < Descriptor.DIRECT) {
            d.direct((int) lb, ptr);
            return;
        }
        long per = perIndirect();
        long idx = lb - Descriptor.DIRECT;
        int ind = (int) (idx / per);
        long ip = d.indirect(ind);
        if (ip == 0) {
            if (newPointerBlock == null) {
                return; // clearing a pointer that is not there
            }
            long pb = newPointerBlock.getAsLong();
            ip = Descriptor.pointer(pb, false);
            d.indirect(ind, ip);
            d.allocated(d.allocated() + 1);
        }
        long within = idx % per;
        long k = within / Descriptor.PER_PAGE;
        long pageNo = sb.blockPage(Descriptor.block(ip), k);
        ByteBuffer page = touched.get(pageNo);
        if (page == null) {
            ByteBuffer cached = pointerPage(n, Descriptor.block(ip), k);
            page = Pages.allocate();
            page.put(0, cached, 0, Pages.SIZE);
            touched.put(pageNo, page);
        }
        page.putLong(Pages.PAYLOAD + (int) (within % Descriptor.PER_PAGE) * 8, ptr);
        t.put(pageNo, Pages.POINTERS, page);
    }

    /** After a commit: the node's caches take the committed pages. */
    private void publish(Node n, Descriptor d, Map<Long, ByteBuffer> touched) {
        n.pointerPages.putAll(touched);
        n.desc = d;
    }

    // ---------------------------------------------------------------- allocation

    /** @return whether a cluster is one this host allocates from first */
    boolean ownCluster(long cluster) {
        return cluster % sb.maxHosts() == ls.slot() % sb.maxHosts();
    }

    /** Clusters in the order this host tries them: its own group's first. */
    private List<Long> clusterOrder() {
        long clusters = sb.clusters();
        int hosts = sb.maxHosts();
        int mine = ls.slot() % hosts;
        List<Long> own = new ArrayList<>();
        List<Long> others = new ArrayList<>();
        for (long c = 0; c < clusters; c++) {
            (c % hosts == mine ? own : others).add(c);
        }
        // others: start past this host's position so that hosts spill over in different places
        if (!others.isEmpty()) {
            Collections.rotate(others, -(int) ((long) mine * others.size() / hosts));
        }
        own.addAll(others);
        return own;
    }

    /** A cluster locked for allocation or freeing, with its bitmap read fresh. */
    final class Locked implements AutoCloseable {
        final long cluster;
        final ClusterHold hold;
        final ByteBuffer bitmap;

        Locked(long cluster, ClusterHold hold, ByteBuffer bitmap) {
            this.cluster = cluster;
            this.hold = hold;
            this.bitmap = bitmap;
        }

        @Override
        public void close() {
            hold.lastUse = System.nanoTime();
            if (hold.lock.getHoldCount() == 1 && hold.lease != null && !ownCluster(cluster)) {
                // another host's group (a free, or a spill-over): its owner will want it back soon
                hold.lease.close();
                hold.lease = null;
            }
            hold.lock.unlock();
        }
    }

    Locked lockCluster(long cluster) {
        return lockCluster(cluster, true);
    }

    /**
     * @param wait whether to wait for another thread or host using the cluster's group; without
     *        waiting a busy group gives null (a caller that already holds other groups must not
     *        wait: two hosts each holding one group and waiting for the other's would deadlock)
     * @return the locked cluster, or null when busy and not waiting
     */
    Locked lockCluster(long cluster, boolean wait) {
        int area = Superblock.clusterArea(cluster);
        ClusterHold h = clusterHolds.computeIfAbsent(area, a -> new ClusterHold());
        if (wait) {
            h.lock.lock();
        } else if (!h.lock.tryLock()) {
            return null;
        }
        try {
            if (h.lease == null || !h.lease.valid()) {
                if (h.lease != null) {
                    h.lease.close();
                    h.lease = null;
                }
                try {
                    h.lease = acquire(area, "cluster group " + (area - Superblock.FIRST_CLUSTER_AREA),
                            wait ? CLUSTER_WAIT : Duration.ZERO);
                } catch (LeaseHeldException e) {
                    if (!wait) {
                        h.lock.unlock();
                        return null;
                    }
                    throw new StorageException(ErrorCode.LOCKED, "cluster group " + (area - 1) + " of VIMS '" + name
                            + "' has been held by host " + e.holder() + " for more than " + CLUSTER_WAIT.toSeconds() + " s");
                }
            }
            long pageNo = sb.bitmapPage(cluster);
            ByteBuffer[] out = new ByteBuffer[1];
            retryTorn(() -> {
                ByteBuffer b = disk.readPage(pageNo);
                if (Pages.state(b, Pages.BITMAP, pageNo, tag) != Pages.State.VALID) {
                    throw new StorageException(ErrorCode.CORRUPT_IMAGE, "the bitmap of cluster " + cluster + " of VIMS '"
                            + name + "' is " + Pages.problem(b, Pages.BITMAP, pageNo, tag) + "; run storage:datastore-check");
                }
                out[0] = b;
            });
            return new Locked(cluster, h, out[0]);
        } catch (RuntimeException e) {
            h.lock.unlock();
            throw e;
        }
    }

    /** Releases cluster leases not used for {@link #LINGER_MS} (all of them with {@code all}). */
    void releaseIdleClusters(boolean all) {
        long now = System.nanoTime();
        for (ClusterHold h : clusterHolds.values()) {
            if (h.lease == null) {
                continue;
            }
            if (!h.lock.tryLock()) {
                continue;
            }
            try {
                if (h.lease != null && (all || now - h.lastUse > LINGER_MS * 1_000_000)) {
                    h.lease.close();
                    h.lease = null;
                }
            } finally {
                h.lock.unlock();
            }
        }
    }

    /**
     * Finds {@code count} free blocks and locks their clusters; the caller commits the bitmaps
     * (marked in the returned clusters) with its pointer changes, then closes them.
     */
    List<Locked> allocate(int count, List<Long> blocksOut) {
        long deadline = System.nanoTime() + CLUSTER_WAIT.toNanos();
        boolean grewChecked = false;
        while (true) {
            List<Locked> locked = new ArrayList<>();
            boolean skipped = false;
            try {
                for (long c : clusterOrder()) {
                    if (blocksOut.size() >= count) {
                        break;
                    }
                    Locked l = lockCluster(c, locked.isEmpty());
                    if (l == null) {
                        skipped = true; // busy, and this thread holds other groups: never wait holding some
                        continue;
                    }
                    int from = 0;
                    boolean used = false;
                    while (blocksOut.size() < count && Bitmaps.free(l.bitmap) > 0) {
                        int i = Bitmaps.findFree(l.bitmap, from);
                        if (i < 0) {
                            break;
                        }
                        Bitmaps.set(l.bitmap, i, true);
                        blocksOut.add(c * sb.clusterBlocks() + i);
                        from = i + 1;
                        used = true;
                    }
                    if (used) {
                        locked.add(l);
                    } else {
                        l.close();
                    }
                }
            } catch (RuntimeException e) {
                closeAll(locked);
                blocksOut.clear();
                throw e;
            }
            if (blocksOut.size() >= count) {
                return locked;
            }
            closeAll(locked);
            blocksOut.clear();
            if (skipped && System.nanoTime() < deadline) {
                try {
                    Thread.sleep(20 + RANDOM.nextInt(180)); // others hold groups this needs: let them finish
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new StorageException(ErrorCode.IO_ERROR, "interrupted while allocating in '" + name + "'");
                }
                continue;
            }
            if (!grewChecked) {
                grewChecked = true;
                long before = sb.blocks();
                refreshSuperblock(); // another host may have grown the filesystem
                if (sb.blocks() != before) {
                    continue;
                }
            }
            throw new StorageException(ErrorCode.DATASTORE_FULL, "datastore '" + name + "' is full ("
                    + sb.capacity() / (1024 * 1024) + " MiB)");
        }
    }

    private static void closeAll(List<Locked> locked) {
        for (Locked l : locked) {
            l.close();
        }
    }

    /** Adds the bitmaps of locked clusters to a transaction. */
    void addBitmaps(Txn t, List<Locked> locked) {
        for (Locked l : locked) {
            t.put(sb.bitmapPage(l.cluster), Pages.BITMAP, l.bitmap);
        }
    }

    /** Writes zeros over a whole block (a pointer block before its first use). */
    void zeroBlock(long block) {
        disk.write(zeros.duplicate().clear(), sb.blockOffset(block));
    }

    /**
     * Under {@code n.meta}, the file's lease held: gives logical blocks {@code from..to-1} that
     * are holes a block each, writing {@code data} (may be null) at {@code dataOffset} of the
     * file and zeros elsewhere in each new block before the metadata says it is there; or, with
     * {@code reserveOnly}, reserves them unwritten (lazy zeroing: they read as zeros).
     *
     * @param newSize the file size to record (not below the current one)
     */
    void fill(Node n, long from, long to, ByteBuffer data, long dataOffset, boolean reserveOnly, long newSize) {
        Descriptor d = n.desc.copy();
        List<Long> holes = new ArrayList<>();
        List<Long> unwritten = new ArrayList<>();
        for (long lb = from; lb < to; lb++) {
            long p = pointer(n, lb);
            if (p == 0) {
                holes.add(lb);
            } else if (Descriptor.unwritten(p) && !reserveOnly) {
                unwritten.add(lb);
            }
        }
        // blocks reserved but never written: write them whole (data and zeros), then mark them written
        if (!unwritten.isEmpty()) {
            for (long lb : unwritten) {
                writeWhole(Descriptor.block(pointer(n, lb)), lb, data, dataOffset);
            }
            disk.flush();
            Txn t = new Txn(tag);
            Map<Long, ByteBuffer> touched = new HashMap<>();
            for (long lb : unwritten) {
                setPointer(n, d, t, lb, Descriptor.pointer(Descriptor.block(pointer(n, lb)), false), touched, null);
            }
            if (holes.isEmpty()) {
                d.size(Math.max(d.size(), newSize));
                d.modified(System.currentTimeMillis());
            }
            t.put(sb.descriptorPage(n.index), Pages.DESCRIPTOR, d.page);
            commit(t);
            publish(n, d, touched);
            d = n.desc.copy();
        }
        for (int i = 0; i < holes.size(); ) {
            // one transaction per batch of blocks: bounded by the journal record
            int batch = Math.min(holes.size() - i, 32);
            List<Long> lbs = holes.subList(i, i + batch);
            int pointerBlocks = pointerBlocksNeeded(d, lbs);
            List<Long> blocks = new ArrayList<>();
            List<Locked> locked = allocate(batch + pointerBlocks, blocks);
            try {
                Txn t = new Txn(tag);
                Map<Long, ByteBuffer> touched = new HashMap<>();
                java.util.Iterator<Long> spare = blocks.subList(batch, blocks.size()).iterator();
                java.util.function.LongSupplier pointerBlock = () -> {
                    long pb = spare.next();
                    zeroBlock(pb);
                    return pb;
                };
                for (int k = 0; k < batch; k++) {
                    long lb = lbs.get(k);
                    long block = blocks.get(k);
                    if (!reserveOnly) {
                        writeWhole(block, lb, data, dataOffset);
                    }
                    setPointer(n, d, t, lb, Descriptor.pointer(block, reserveOnly), touched, pointerBlock);
                }
                disk.flush(); // the data and zeros are on the device before the metadata points at them
                d.allocated(d.allocated() + batch);
                i += batch;
                if (i >= holes.size()) {
                    d.size(Math.max(d.size(), newSize));
                }
                d.modified(System.currentTimeMillis());
                t.put(sb.descriptorPage(n.index), Pages.DESCRIPTOR, d.page);
                addBitmaps(t, locked);
                commit(t);
                publish(n, d, touched);
                d = n.desc.copy();
            } finally {
                for (Locked l : locked) {
                    l.close();
                }
            }
        }
        if (newSize > n.desc.size()) {
            Descriptor s = n.desc.copy();
            s.size(newSize);
            s.modified(System.currentTimeMillis());
            commit(new Txn(tag).put(sb.descriptorPage(n.index), Pages.DESCRIPTOR, s.page));
            n.desc = s;
        }
    }

    private int pointerBlocksNeeded(Descriptor d, List<Long> lbs) {
        Set<Integer> need = new HashSet<>();
        long per = perIndirect();
        for (long lb : lbs) {
            if (lb >= Descriptor.DIRECT) {
                int ind = (int) ((lb - Descriptor.DIRECT) / per);
                if (d.indirect(ind) == 0) {
                    need.add(ind);
                }
            }
        }
        return need.size();
    }

    /** Writes block {@code block} (logical {@code lb} of the file) whole: the part of {@code data} that falls in it, zeros elsewhere. */
    private void writeWhole(long block, long lb, ByteBuffer data, long dataOffset) {
        int bs = sb.blockSize();
        long blockStart = lb * bs;
        ByteBuffer buf = blockBuffer.get();
        buf.clear();
        buf.put(zeros.duplicate().clear());
        buf.clear();
        if (data != null) {
            long s = Math.max(blockStart, dataOffset);
            long e = Math.min(blockStart + bs, dataOffset + data.remaining());
            if (s < e) {
                ByteBuffer part = data.duplicate();
                part.position(data.position() + (int) (s - dataOffset)).limit(data.position() + (int) (e - dataOffset));
                buf.position((int) (s - blockStart));
                buf.put(part);
            }
        }
        buf.clear();
        disk.write(buf, sb.blockOffset(block));
    }

    /**
     * Under {@code n.meta}, the file's lease held: frees the whole blocks inside
     * {@code [from, to)} of logical blocks, cluster by cluster, each cluster's bitmap committed
     * with the pointers it loses; then tells the device (UNMAP) where it can. With
     * {@code pointerBlocks}, pointer blocks left empty are freed too (a delete).
     */
    void freeRange(Node n, long fromBlock, long toBlock, boolean pointerBlocks) {
        long end = Math.min(toBlock, maxFileBlocks());
        // collect the allocated blocks in range, by cluster
        TreeMap<Long, List<long[]>> byCluster = new TreeMap<>();
        for (long lb = fromBlock; lb < end; lb++) {
            if (lb >= Descriptor.DIRECT) {
                long per = perIndirect();
                int ind = (int) ((lb - Descriptor.DIRECT) / per);
                if (n.desc.indirect(ind) == 0) {
                    lb = Descriptor.DIRECT + (ind + 1) * per - 1; // skip the whole missing pointer block
                    continue;
                }
            }
            long p = pointer(n, lb);
            if (p != 0) {
                long block = Descriptor.block(p);
                byCluster.computeIfAbsent(block / sb.clusterBlocks(), c -> new ArrayList<>()).add(new long[] {lb, block});
            }
        }
        List<long[]> unmap = new ArrayList<>();
        for (Map.Entry<Long, List<long[]>> e : byCluster.entrySet()) {
            List<long[]> all = e.getValue();
            for (int start = 0; start < all.size(); start += 60) {
                List<long[]> part = all.subList(start, Math.min(all.size(), start + 60));
                try (Locked l = lockCluster(e.getKey())) {
                    Descriptor d = n.desc.copy();
                    Txn t = new Txn(tag);
                    Map<Long, ByteBuffer> touched = new HashMap<>();
                    for (long[] lbBlock : part) {
                        int bit = (int) (lbBlock[1] % sb.clusterBlocks());
                        if (Bitmaps.get(l.bitmap, bit)) {
                            Bitmaps.set(l.bitmap, bit, false);
                            unmap.add(lbBlock);
                        } else {
                            LOG.warn("VIMS {}: block {} of file {} was already free", name, lbBlock[1], n.index);
                        }
                        setPointer(n, d, t, lbBlock[0], 0, touched, null);
                    }
                    d.allocated(Math.max(0, d.allocated() - part.size()));
                    d.modified(System.currentTimeMillis());
                    t.put(sb.descriptorPage(n.index), Pages.DESCRIPTOR, d.page);
                    addBitmaps(t, List.of(l));
                    commit(t);
                    publish(n, d, touched);
                }
            }
        }
        if (pointerBlocks) {
            freePointerBlocks(n);
        }
        unmapQuietly(unmap);
    }

    private void freePointerBlocks(Node n) {
        for (int ind = 0; ind < Descriptor.INDIRECT; ind++) {
            long ip = n.desc.indirect(ind);
            if (ip == 0) {
                continue;
            }
            long block = Descriptor.block(ip);
            try (Locked l = lockCluster(block / sb.clusterBlocks())) {
                Descriptor d = n.desc.copy();
                int bit = (int) (block % sb.clusterBlocks());
                if (Bitmaps.get(l.bitmap, bit)) {
                    Bitmaps.set(l.bitmap, bit, false);
                }
                d.indirect(ind, 0);
                d.allocated(Math.max(0, d.allocated() - 1));
                Txn t = new Txn(tag).put(sb.descriptorPage(n.index), Pages.DESCRIPTOR, d.page);
                addBitmaps(t, List.of(l));
                commit(t);
                n.desc = d;
                // no record of this host may rewrite a pointer page over the block once it is reused
                journal.checkpoint();
            }
            for (long k = 0; k < sb.pagesPerBlock(); k++) {
                n.pointerPages.remove(sb.blockPage(block, k));
            }
        }
    }

    private void unmapQuietly(List<long[]> freed) {
        for (long[] lbBlock : freed) {
            try {
                disk.device.unmap(sb.blockOffset(lbBlock[1]), sb.blockSize());
            } catch (StorageException e) {
                if (e.code() == ErrorCode.UNSUPPORTED) {
                    return;
                }
                LOG.debug("VIMS {}: unmap of block {} failed: {}", name, lbBlock[1], e.getMessage());
            }
        }
    }

    /** Under {@code n.meta}: sets the file size, freeing whole blocks past a smaller one. */
    void truncate(Node n, long size) {
        long bs = sb.blockSize();
        long old = n.desc.size();
        if (size < old) {
            long firstFree = (size + bs - 1) / bs;
            freeRange(n, firstFree, (old + bs - 1) / bs, false);
            // the tail of the last block must read as zeros if the file grows again
            if (size % bs != 0) {
                long p = pointer(n, size / bs);
                if (p != 0 && !Descriptor.unwritten(p)) {
                    int len = (int) (bs - size % bs);
                    disk.write(zeros.duplicate().clear().limit(len), sb.blockOffset(Descriptor.block(p)) + size % bs);
                    disk.flush();
                }
            }
        }
        Descriptor d = n.desc.copy();
        d.size(size);
        d.modified(System.currentTimeMillis());
        commit(new Txn(tag).put(sb.descriptorPage(n.index), Pages.DESCRIPTOR, d.page));
        n.desc = d;
    }

    // ---------------------------------------------------------------- grow, check, details

    @Override
    public SpaceInfo grow() {
        checkOpen();
        nsLock.lock();
        try (ResourceLease ns = namespaceLease()) {
            refreshSuperblock();
            Superblock old = sb;
            long want = Math.min((disk.size() - old.dataStart()) / old.blockSize(), old.maxBlocks());
            if (want <= old.blocks()) {
                LOG.info("VIMS {}: the device has no room beyond the filesystem's {} blocks", name, old.blocks());
                return space();
            }
            Superblock grown = old.withBlocks(want);
            long firstNew = old.clusters();
            long lastOld = old.clusters() - 1;
            // new clusters' bitmaps first: nobody looks at them before the superblock says they exist
            for (long c = firstNew; c < grown.clusters(); ) {
                Txn t = new Txn(tag);
                for (int k = 0; k < 64 && c < grown.clusters(); k++, c++) {
                    ByteBuffer b = Bitmaps.empty(grown, c, 0);
                    b.putLong(16, Math.max(0, versionAt(grown.bitmapPage(c))));
                    t.put(grown.bitmapPage(c), Pages.BITMAP, b);
                }
                commit(t);
            }
            try (Locked l = lockCluster(lastOld)) {
                int was = Bitmaps.count(l.bitmap);
                int now = Bitmaps.blocksIn(grown, lastOld, grown.blocks());
                Txn t = new Txn(tag);
                if (now != was) {
                    l.bitmap.putInt(44, now);
                    l.bitmap.putInt(40, Bitmaps.free(l.bitmap) + now - was);
                    t.put(grown.bitmapPage(lastOld), Pages.BITMAP, l.bitmap);
                }
                long v = Math.max(versionAt(Superblock.PRIMARY_PAGE), versionAt(Superblock.BACKUP_PAGE));
                ByteBuffer p = grown.encode(Superblock.PRIMARY_PAGE, v);
                ByteBuffer b = grown.encode(Superblock.BACKUP_PAGE, v);
                t.put(Superblock.PRIMARY_PAGE, Pages.SUPER, p);
                t.put(Superblock.BACKUP_PAGE, Pages.SUPER, b);
                commit(t);
            }
            sb = grown;
            LOG.info("VIMS {} grown from {} to {} blocks", name, old.blocks(), grown.blocks());
        } finally {
            nsLock.unlock();
        }
        return space();
    }

    private long versionAt(long page) {
        ByteBuffer b = disk.readPage(page);
        return Pages.isZero(b) ? 0 : Pages.version(b);
    }

    @Override
    public CheckReport check(boolean repair) {
        checkOpen();
        nsLock.lock();
        List<Locked> clusters = new ArrayList<>();
        try (ResourceLease ns = namespaceLease()) {
            // every cluster group: no block changes hands while the check runs
            Set<Integer> areas = new HashSet<>();
            for (long c = 0; c < sb.clusters() && areas.size() < Superblock.CLUSTER_AREAS; c++) {
                if (areas.add(Superblock.clusterArea(c))) {
                    clusters.add(lockCluster(c));
                }
            }
            CheckReport r = new Checker(disk, sb, this).check(repair);
            refreshDirectory(true);
            return r;
        } finally {
            for (Locked l : clusters) {
                l.close();
            }
            nsLock.unlock();
        }
    }

    /** For the checker: the hosts in the lockspace by slot, as this host sees them. */
    Map<Integer, HostStatus> hostsBySlot() {
        Map<Integer, HostStatus> m = new HashMap<>();
        for (HostStatus h : ls.hosts()) {
            m.put(h.slot(), h);
        }
        return m;
    }

    /** For the checker: whether this host or a live host holds file {@code index}'s lease. */
    boolean fileHeld(int index) {
        synchronized (nodes) {
            Node n = nodes.get(index);
            if (n != null && n.owned()) {
                return true;
            }
        }
        return ls.holder(sb.fileArea(index)).isPresent();
    }

    @Override
    public Map<String, String> details() {
        Map<String, String> m = new LinkedHashMap<>();
        Superblock s = sb;
        m.put("filesystem", "VIMS format " + s.formatVersion() + ", UUID " + s.uuid()
                + (s.label().isEmpty() ? "" : ", label " + s.label()));
        m.put("block size", sizeText(s.blockSize()));
        m.put("resource clusters", s.clusters() + " of " + s.clusterBlocks() + " blocks (up to " + s.maxClusters()
                + " when grown)");
        int used = 0;
        synchronized (byName) {
            if (entries != null) {
                for (Entry e : entries) {
                    if (e.state() != Entry.FREE) {
                        used++;
                    }
                }
            }
        }
        m.put("files", used + " of " + s.maxFiles());
        StringBuilder hosts = new StringBuilder();
        int live = 0;
        for (HostStatus h : ls.hosts()) {
            if (h.state() == HostStatus.State.FREE) {
                continue;
            }
            if (hosts.length() > 0) {
                hosts.append(", ");
            }
            boolean me = h.slot() == ls.slot();
            String state = me ? "this host" : h.state() == HostStatus.State.LIVE ? "alive"
                    : h.state() == HostStatus.State.DEAD ? "dead" : "not judged yet";
            if (me || h.state() == HostStatus.State.LIVE) {
                live++;
            }
            hosts.append(h.host().name()).append(" (slot ").append(h.slot()).append(", ").append(state).append(')');
        }
        m.put("hosts", live + " alive of " + s.maxHosts() + " slots: " + hosts);
        return m;
    }

    static String sizeText(long bytes) {
        if (bytes % (1024 * 1024) == 0) {
            return bytes / (1024 * 1024) + " MiB";
        }
        return bytes / 1024 + " KiB";
    }

    @Override
    public Lockspace sharedLockspace() {
        return new AreaView(ls, sb.firstCoreArea(), sb.coreAreas(), l -> replayDead());
    }

    /** Test hook: the journal of this host. */
    Journal journal() {
        return journal;
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        Thread m = maintenance;
        if (m != null) {
            java.util.concurrent.locks.LockSupport.unpark(m);
        }
        List<Node> open;
        synchronized (nodes) {
            open = new ArrayList<>(nodes.values());
        }
        for (Node n : open) {
            ResourceLease l = n.lease;
            if (l != null && !fenced && ls.valid()) {
                try {
                    n.meta.lock();
                    try {
                        if (stillExists(n)) {
                            Descriptor d = n.desc.copy();
                            d.lock(Descriptor.LOCK_NONE, 0, null, 0);
                            journal.commit(new Txn(tag).put(sb.descriptorPage(n.index), Pages.DESCRIPTOR, d.page).pages);
                        }
                    } finally {
                        n.meta.unlock();
                    }
                } catch (RuntimeException e) {
                    LOG.debug("VIMS {}: lock record of file {} left: {}", name, n.index, e.toString());
                }
            }
        }
        closed = true;
        try {
            if (m != null) {
                m.join(5000);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        releaseIdleClusters(true);
        try {
            if (journal != null && !fenced && ls.valid()) {
                journal.checkpoint();
            }
        } catch (RuntimeException e) {
            LOG.debug("VIMS {}: journal checkpoint at unmount failed: {}", name, e.toString());
        }
        try {
            ls.close();
        } catch (RuntimeException e) {
            LOG.debug("VIMS {}: leaving the lockspace: {}", name, e.toString());
        }
        store.close();
        slowIo.shutdown();
        LOG.info("VIMS {} unmounted", name);
    }

    boolean isClosed() {
        return closed;
    }
}

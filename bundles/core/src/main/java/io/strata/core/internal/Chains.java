package io.strata.core.internal;

import io.strata.api.Capability;
import io.strata.api.ErrorCode;
import io.strata.api.Names;
import io.strata.api.StorageException;
import io.strata.api.format.CheckReport;
import io.strata.api.format.DiskFormat;
import io.strata.api.format.Extent;
import io.strata.api.format.VirtualDisk;
import io.strata.api.fs.DatastoreFile;
import io.strata.api.service.SnapshotInfo;
import io.strata.api.service.VolumeRef;
import io.strata.api.service.VolumeUsage;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Snapshots, linked clones, merges, reclaim and check on one mounted datastore. Stateless:
 * everything lives in the mount's catalog and shared disks, guarded by the mount's lock.
 *
 * <p>Every operation records its intent in the catalog entry ({@code pending}) before it
 * touches a file and clears it with the final catalog write, so a crash at any point is
 * settled by {@link #recoverPending} at the next mount:
 * <ul>
 * <li>snapshot-create: pending(new leaf) -> child image written -> one catalog write
 * (snapshot record, new leaf, pending cleared). Recovery deletes the new file.</li>
 * <li>revert: pending(new leaf) -> child of the snapshot written -> catalog (new leaf,
 * pending cleanup of the old leaf) -> old leaf deleted -> pending cleared.</li>
 * <li>snapshot-delete: pending(phase stream) -> every child populated from the snapshot's
 * layer -> pending(phase rebase) -> children rebased onto the snapshot's parent -> its
 * image deleted -> catalog without it. Recovery repeats the whole (populate and rebase are
 * idempotent; a populated child holds every range the snapshot held).</li>
 * </ul>
 */
final class Chains {
    private static final Logger LOG = LoggerFactory.getLogger(Chains.class);
    /** Populate granularity: progress and cancellation are checked between chunks. */
    private static final long CHUNK = 64L << 20;

    private final MountedDatastore m;

    Chains(MountedDatastore m) {
        this.m = m;
    }

    // ---------------------------------------------------------------- catalog queries

    /** Must hold the lock. */
    static void checkNoPending(MountedDatastore m, CatalogEntry e) {
        if (e.pending() != null) {
            throw new StorageException(ErrorCode.VOLUME_IN_USE, "volume " + m.ref(e.name()) + " has a "
                    + e.pending().op() + " in progress" + (e.pending().snapshot().isEmpty() ? ""
                            : " (snapshot " + e.pending().snapshot() + ")"));
        }
    }

    /**
     * @param snapshot a snapshot name, or null for any snapshot of the volume
     * @return the linked clones whose base is the volume (at that snapshot), as datastore/name
     */
    static List<String> dependents(Catalog c, String volume, String snapshot) {
        List<String> list = new ArrayList<>();
        for (CatalogEntry e : c.volumes()) {
            if (e.base().isEmpty()) {
                continue;
            }
            String[] b = splitBase(e.base());
            if (b[0].equals(volume) && (snapshot == null || b[1].equals(snapshot))) {
                list.add(e.name());
            }
        }
        return list;
    }

    static String[] splitBase(String base) {
        int at = base.indexOf('@');
        return at < 0 ? new String[] {base, ""} : new String[] {base.substring(0, at), base.substring(at + 1)};
    }

    /** @return the image files from a snapshot up to the root of its chain, base volumes included */
    static List<String> ancestry(Catalog c, CatalogEntry e, String snapshot) {
        List<String> files = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        CatalogEntry vol = e;
        String snap = snapshot;
        while (vol != null) {
            while (!snap.isEmpty()) {
                Optional<CatalogEntry.Snap> s = vol.snapshot(snap);
                if (s.isEmpty() || !seen.add(vol.name() + "@" + snap)) {
                    break;
                }
                files.add(s.get().file());
                snap = s.get().parent();
            }
            if (vol.base().isEmpty()) {
                break;
            }
            String[] b = splitBase(vol.base());
            vol = c.find(b[0]).orElse(null);
            snap = b[1];
        }
        return files;
    }

    /** @return the volume's chain, current image first */
    static List<String> chainFiles(Catalog c, CatalogEntry e) {
        List<String> files = new ArrayList<>();
        files.add(e.file());
        if (!e.leafParent().isEmpty()) {
            files.addAll(ancestry(c, e, e.leafParent()));
        } else if (!e.base().isEmpty()) {
            String[] b = splitBase(e.base());
            c.find(b[0]).ifPresent(src -> files.addAll(ancestry(c, src, b[1])));
        }
        return files;
    }

    private String newLeafName(String volume, DiskFormat f) {
        return volume + "-" + UUID.randomUUID().toString().substring(0, 8) + "." + f.fileExtension();
    }

    private DiskFormat chainFormat(CatalogEntry e) {
        DiskFormat f = m.format(e.format());
        if (!f.capabilities().contains(Capability.BACKING_CHAIN)) {
            throw new StorageException(ErrorCode.UNSUPPORTED, "volume " + m.ref(e.name()) + " is " + e.format()
                    + ", which has no backing chains; snapshots and linked clones need vhd or qcow2");
        }
        return f;
    }

    /** Takes a reference on the volume's shared disk (opening its chain when nobody has it open). */
    private SharedDisk acquire(CatalogEntry e, DiskFormat f) {
        SharedDisk sd;
        synchronized (m.lock) {
            sd = m.shared.computeIfAbsent(e.name(), k -> new SharedDisk(e.name(), e.format()));
            sd.refs++;
        }
        try {
            sd.ensureOpen(() -> m.openVolumeChain(f, e));
            return sd;
        } catch (RuntimeException ex) {
            release(sd);
            throw ex;
        }
    }

    private void release(SharedDisk sd) {
        boolean last = false;
        synchronized (m.lock) {
            if (--sd.refs == 0) {
                if (m.shared.get(sd.volume) == sd) {
                    m.shared.remove(sd.volume);
                }
                last = true;
            }
        }
        if (last) {
            sd.close();
        }
    }

    // ---------------------------------------------------------------- snapshots

    SnapshotInfo createSnapshot(String volume, String snap, int chainMax) {
        Names.check("snapshot", snap);
        CatalogEntry e;
        DiskFormat f;
        String newFile;
        try (MountedDatastore.Tx tx = m.tx()) {
            synchronized (m.lock) {
                m.ensureOpen();
                e = m.ready(volume);
                if (m.busy.contains(volume)) {
                    throw new StorageException(ErrorCode.VOLUME_IN_USE,
                            "volume " + m.ref(volume) + " is being resized or deleted");
                }
                f = chainFormat(e);
                if (e.snapshot(snap).isPresent()) {
                    throw new StorageException(ErrorCode.ALREADY_EXISTS,
                            "snapshot " + snap + " of volume " + m.ref(volume) + " already exists");
                }
                checkNoPending(m, e);
                int length = chainFiles(m.catalog, e).size() + 1;
                if (length > chainMax) {
                    throw new StorageException(ErrorCode.CHAIN_TOO_LONG, "volume " + m.ref(volume) + " has "
                            + (length - 1) + " images in its chain; the limit is " + chainMax
                            + " (delete a snapshot first)");
                }
                newFile = newLeafName(volume, f);
                e = e.withPending(new CatalogEntry.Pending("snapshot-create", snap, newFile, ""));
                m.writeCatalog(m.catalog.put(e));
            }
        }
        CatalogEntry.Snap record = new CatalogEntry.Snap(snap, e.file(), e.leafParent(), MountedDatastore.now());
        SharedDisk sd = null;
        boolean published = false;
        try {
            sd = acquire(e, f);
            long stamp = sd.gate.writeLock();
            try {
                SharedDisk.Chain old = sd.chain;
                old.disk().flush();
                DatastoreFile nf = m.datastore.create(newFile);
                VirtualDisk child;
                try {
                    // Stacked on the open chain: nothing is opened again, so the time does not grow
                    // with the chain. From here the child owns the old leaf (and closes it).
                    child = f.createChild(nf, e.file(), old.disk(), m.resolver);
                } catch (RuntimeException ex) {
                    nf.close();
                    throw ex;
                }
                SharedDisk.Chain next = new SharedDisk.Chain(child, nf);
                try {
                    try (MountedDatastore.Tx tx = m.tx()) {
                        synchronized (m.lock) {
                            m.ensureOpen();
                            CatalogEntry cur = m.ready(volume);
                            List<CatalogEntry.Snap> snaps = new ArrayList<>(cur.snapshots());
                            snaps.add(record);
                            m.writeCatalog(m.catalog.put(cur.withChain(newFile, snaps, snap).withPending(null)));
                        }
                    }
                } catch (RuntimeException ex) {
                    // The catalog still names the old leaf, which now lives inside the child: close
                    // both and go on with the old leaf alone (no I/O passed the gate meanwhile).
                    next.close();
                    try {
                        sd.chain = m.openChain(f, e.file(), false);
                    } catch (RuntimeException reopen) {
                        ex.addSuppressed(reopen);
                    }
                    throw ex;
                }
                published = true;
                sd.chain = next;
            } finally {
                sd.gate.unlockWrite(stamp);
            }
            LOG.info("datastore {}: snapshot {} of volume {} taken; new image {}", m.name, snap, volume, newFile);
        } catch (RuntimeException ex) {
            if (!published) {
                undoPending(volume, ex);
            }
            throw m.translate(ex);
        } finally {
            if (sd != null) {
                release(sd);
            }
        }
        return list(volume).stream().filter(s -> s.name().equals(snap)).findFirst().orElseThrow();
    }

    /** Best effort: removes the new file of a failed snapshot-create or revert and clears pending. */
    private void undoPending(String volume, RuntimeException cause) {
        boolean interrupted = Thread.interrupted();
        try {
            try (MountedDatastore.Tx tx = m.tx()) {
                synchronized (m.lock) {
                    if (m.closed) {
                        return;
                    }
                    Optional<CatalogEntry> e = m.catalog.find(volume);
                    if (e.isPresent() && e.get().pending() != null) {
                        CatalogEntry settled = recoverPending(m, e.get());
                        m.writeCatalog(m.catalog.put(settled));
                    }
                }
            }
        } catch (RuntimeException ex) {
            LOG.warn("datastore {}: volume {}: could not undo after '{}'; the next mount will: {}", m.name, volume,
                    cause.getMessage(), ex.getMessage());
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    List<SnapshotInfo> list(String volume) {
        Catalog c = m.catalog;
        CatalogEntry e = c.find(volume).orElseThrow(() -> m.notFound(volume));
        Set<String> current = new HashSet<>();
        for (String s = e.leafParent(); !s.isEmpty() && current.add(s);) {
            s = e.snapshot(s).map(CatalogEntry.Snap::parent).orElse("");
        }
        List<SnapshotInfo> out = new ArrayList<>();
        VolumeRef ref = new VolumeRef(m.name, volume);
        Set<String> visited = new HashSet<>();
        walk(e, "", ref, current, out, visited);
        // Orphans (a parent name that is missing): listed last rather than hidden.
        for (CatalogEntry.Snap s : e.snapshots()) {
            if (!visited.contains(s.name())) {
                walk(e, s.parent(), ref, current, out, visited);
            }
        }
        return out;
    }

    private void walk(CatalogEntry e, String parent, VolumeRef ref, Set<String> current, List<SnapshotInfo> out,
            Set<String> visited) {
        List<CatalogEntry.Snap> kids = e.snapshots().stream().filter(s -> s.parent().equals(parent))
                .sorted(Comparator.comparing(CatalogEntry.Snap::created).thenComparing(CatalogEntry.Snap::name))
                .toList();
        for (CatalogEntry.Snap s : kids) {
            if (!visited.add(s.name())) {
                continue;
            }
            out.add(new SnapshotInfo(ref, s.name(), s.parent(), s.file(), s.created(), m.allocatedOf(s.file()),
                    current.contains(s.name())));
            walk(e, s.name(), ref, current, out, visited);
        }
    }

    void revert(String volume, String snap) {
        CatalogEntry e;
        DiskFormat f;
        CatalogEntry.Snap target;
        String newFile;
        try (MountedDatastore.Tx tx = m.tx()) {
            synchronized (m.lock) {
                m.ensureOpen();
                e = m.ready(volume);
                m.checkIdle(volume, "revert");
                checkNoPending(m, e);
                f = chainFormat(e);
                target = e.snapshot(snap).orElseThrow(() -> snapshotNotFound(volume, snap));
                newFile = newLeafName(volume, f);
                e = e.withPending(new CatalogEntry.Pending("revert", snap, newFile, ""));
                m.writeCatalog(m.catalog.put(e));
                m.busy.add(volume);
            }
        }
        String oldFile = e.file();
        boolean switched = false;
        try {
            writeChild(f, newFile, target.file());
            try (MountedDatastore.Tx tx = m.tx()) {
                synchronized (m.lock) {
                    m.ensureOpen();
                    CatalogEntry cur = m.ready(volume);
                    m.writeCatalog(m.catalog.put(cur.withChain(newFile, cur.snapshots(), snap)
                            .withPending(cleanup("", oldFile))));
                }
            }
            switched = true;
            // The discarded current image: only this volume used it (clones are based on snapshots).
            deleteNoted(volume, oldFile);
            LOG.info("datastore {}: volume {} reverted to snapshot {}", m.name, volume, snap);
        } catch (RuntimeException ex) {
            if (!switched) {
                undoPending(volume, ex);
            }
            throw m.translate(ex);
        } finally {
            synchronized (m.lock) {
                m.busy.remove(volume);
            }
        }
    }

    /** The checks of a snapshot delete and its intent record; the merge runs as a task. */
    CatalogEntry.Snap beginDelete(String volume, String snap) {
        try (MountedDatastore.Tx tx = m.tx()) {
            synchronized (m.lock) {
                m.ensureOpen();
                CatalogEntry e = m.ready(volume);
                if (m.busy.contains(volume)) {
                    throw new StorageException(ErrorCode.VOLUME_IN_USE,
                            "volume " + m.ref(volume) + " is being resized, reverted or deleted");
                }
                CatalogEntry.Snap s = e.snapshot(snap).orElseThrow(() -> snapshotNotFound(volume, snap));
                checkNoPending(m, e);
                chainFormat(e);
                List<String> clones = dependents(m.catalog, volume, snap);
                if (!clones.isEmpty()) {
                    throw new StorageException(ErrorCode.VOLUME_IN_USE, "snapshot " + snap + " of volume "
                            + m.ref(volume) + " is the base of linked clone(s) " + String.join(", ", clones)
                            + "; delete them first");
                }
                m.writeCatalog(m.catalog.put(e.withPending(new CatalogEntry.Pending("snapshot-delete", snap, "",
                        "stream"))));
                return s;
            }
        }
    }

    /** The merge of a snapshot delete (a task body). */
    String merge(String volume, String snap, TaskManager.Task task) {
        CatalogEntry e;
        DiskFormat f;
        synchronized (m.lock) {
            m.ensureOpen();
            e = m.ready(volume);
            f = m.format(e.format());
        }
        SharedDisk sd = null;
        try {
            String commitInto = commitCandidate(e, snap, f);
            if (commitInto != null) {
                // The snapshot's only child holds less: its data goes up into the snapshot's image,
                // which then serves as the child. Past this catalog write there is no way back.
                try (MountedDatastore.Tx tx = m.tx()) {
                    synchronized (m.lock) {
                        m.ensureOpen();
                        CatalogEntry cur = m.ready(volume);
                        e = cur.withPending(new CatalogEntry.Pending("snapshot-delete", snap, commitInto, "commit"));
                        m.writeCatalog(m.catalog.put(e));
                    }
                }
                if (e.leafParent().equals(commitInto)) {
                    sd = acquire(e, f);
                }
                CatalogEntry done = commitFiles(e, snap, f, sd, task);
                String oldChildFile = e.snapshot(commitInto).orElseThrow().file();
                try (MountedDatastore.Tx tx = m.tx()) {
                    synchronized (m.lock) {
                        m.ensureOpen();
                        m.writeCatalog(m.catalog.put(done.withPending(cleanup(snap, oldChildFile))));
                    }
                }
                deleteNoted(volume, oldChildFile);
                LOG.info("datastore {}: snapshot {} of volume {} deleted (its child {} committed into it)", m.name,
                        snap, volume, commitInto);
                return "snapshot " + snap + " of volume " + m.ref(volume) + " deleted";
            }
            boolean leafIsChild = e.leafParent().equals(snap);
            if (leafIsChild) {
                sd = acquire(e, f);
            }
            CatalogEntry done = mergeFiles(e, snap, f, sd, task);
            try (MountedDatastore.Tx tx = m.tx()) {
                synchronized (m.lock) {
                    m.ensureOpen();
                    m.writeCatalog(m.catalog.put(done));
                }
            }
            LOG.info("datastore {}: snapshot {} of volume {} deleted", m.name, snap, volume);
            return "snapshot " + snap + " of volume " + m.ref(volume) + " deleted";
        } catch (StorageException ex) {
            if (ex.code() == ErrorCode.CANCELLED) {
                // Cancelled while streaming: nothing irreversible happened; forget the intent.
                try (MountedDatastore.Tx tx = m.tx()) {
                    synchronized (m.lock) {
                        Optional<CatalogEntry> cur = m.catalog.find(volume);
                        if (!m.closed && cur.isPresent() && cur.get().pending() != null
                                && "stream".equals(cur.get().pending().phase())) {
                            m.writeCatalog(m.catalog.put(cur.get().withPending(null)));
                        }
                    }
                }
            }
            throw m.translate(ex);
        } catch (RuntimeException ex) {
            throw m.translate(ex);
        } finally {
            if (sd != null) {
                release(sd);
            }
        }
    }

    /**
     * Streams the snapshot's layer into each child, rebases the children onto the snapshot's
     * parent, deletes the snapshot's image. Idempotent, so recovery simply runs it again.
     *
     * @param sd the volume's shared disk when the current image is a child (merging while in use), else null
     * @param task the task for progress and cancellation, or null (recovery)
     * @return the entry without the snapshot and without pending
     */
    CatalogEntry mergeFiles(CatalogEntry e, String snap, DiskFormat f, SharedDisk sd, TaskManager.Task task) {
        CatalogEntry.Snap s = e.snapshot(snap).orElseThrow(() -> snapshotNotFound(e.name(), snap));
        String parentFile;
        if (!s.parent().isEmpty()) {
            parentFile = e.snapshot(s.parent()).map(CatalogEntry.Snap::file).orElse(null);
        } else if (!e.base().isEmpty()) {
            List<String> files = chainFiles(m.catalog, e.withChain(e.file(), e.snapshots(), ""));
            parentFile = files.size() > 1 ? files.get(1) : null;
        } else {
            parentFile = null;
        }
        List<String> childFiles = new ArrayList<>();
        for (CatalogEntry.Snap c : e.snapshots()) {
            if (c.parent().equals(snap)) {
                childFiles.add(c.file());
            }
        }
        boolean leafIsChild = e.leafParent().equals(snap);
        if (m.datastore.exists(s.file())) {
            boolean streaming = e.pending() == null || !"rebase".equals(e.pending().phase());
            List<Extent> ranges;
            SharedDisk.Chain snapChain = m.openChain(f, s.file(), true);
            try {
                VirtualDisk sdisk = snapChain.disk();
                ranges = sdisk.layerStatus(0, sdisk.virtualSize()).stream().filter(Extent::allocated).toList();
                if (parentFile == null) {
                    // The children become standalone: every block they hold partly must be
                    // completed too (VHD bitmaps), so the whole disk is populated; populate
                    // skips what the chain does not allocate, so this costs what S holds.
                    ranges = List.of(new Extent(0, sdisk.virtualSize(), true, false));
                }
            } finally {
                snapChain.close();
            }
            long perChild = ranges.stream().mapToLong(Extent::length).sum();
            int children = childFiles.size() + (leafIsChild ? 1 : 0);
            long total = Math.max(1, perChild * children);
            long[] done = {0};
            List<SharedDisk.Chain> opened = new ArrayList<>();
            try {
                List<VirtualDisk> disks = new ArrayList<>();
                for (String cf : childFiles) {
                    SharedDisk.Chain ch = m.openChain(f, cf, false);
                    opened.add(ch);
                    disks.add(ch.disk());
                }
                if (leafIsChild && sd == null) {
                    SharedDisk.Chain ch = m.openChain(f, e.file(), false);
                    opened.add(ch);
                    disks.add(ch.disk());
                }
                // 1. stream: each child gets every range the snapshot holds (skipped by the format
                // where the child already holds it, so a repeat after a crash copies nothing twice).
                for (VirtualDisk d : disks) {
                    populate(d, null, ranges, task, done, total);
                }
                if (leafIsChild && sd != null) {
                    populate(null, sd, ranges, task, done, total);
                }
                if (task != null) {
                    task.checkCancel();
                }
                if (streaming && task != null) {
                    try (MountedDatastore.Tx tx = m.tx()) {
                        synchronized (m.lock) {
                            m.ensureOpen();
                            CatalogEntry cur = m.catalog.find(e.name()).orElseThrow();
                            m.writeCatalog(m.catalog.put(cur.withPending(
                                    new CatalogEntry.Pending("snapshot-delete", snap, "", "rebase"))));
                        }
                    }
                }
                // 2. rebase: from here on the delete is completed, never rolled back.
                for (VirtualDisk d : disks) {
                    d.rebase(parentFile, m.resolver);
                }
                if (leafIsChild && sd != null) {
                    long stamp = sd.gate.readLock();
                    try {
                        sd.chain.disk().rebase(parentFile, m.resolver);
                    } finally {
                        sd.gate.unlockRead(stamp);
                    }
                }
            } finally {
                opened.forEach(SharedDisk.Chain::close);
            }
            // 3. the snapshot's image is no longer anyone's parent.
            m.deleteIfExists(s.file());
        }
        List<CatalogEntry.Snap> snaps = new ArrayList<>();
        for (CatalogEntry.Snap c : e.snapshots()) {
            if (c.name().equals(snap)) {
                continue;
            }
            snaps.add(c.parent().equals(snap) ? new CatalogEntry.Snap(c.name(), c.file(), s.parent(), c.created())
                    : c);
        }
        CatalogEntry cur = m.catalog.find(e.name()).orElse(e);
        return cur.withChain(cur.file(), snaps, leafIsChild ? s.parent() : cur.leafParent()).withPending(null);
    }

    /**
     * Whether deleting {@code snap} is cheaper by committing its child up into it than by
     * streaming it down: when its only child is another snapshot (not the image a client may
     * be writing) holding fewer bytes than it does.
     *
     * @return the child's name, or null to stream
     */
    private String commitCandidate(CatalogEntry e, String snap, DiskFormat f) {
        if (e.leafParent().equals(snap)) {
            return null;
        }
        List<CatalogEntry.Snap> children = new ArrayList<>();
        for (CatalogEntry.Snap c : e.snapshots()) {
            if (c.parent().equals(snap)) {
                children.add(c);
            }
        }
        if (children.size() != 1) {
            return null;
        }
        CatalogEntry.Snap s = e.snapshot(snap).orElseThrow();
        CatalogEntry.Snap c = children.get(0);
        return layerBytes(f, c.file()) < layerBytes(f, s.file()) ? c.name() : null;
    }

    private long layerBytes(DiskFormat f, String file) {
        SharedDisk.Chain ch = m.openChain(f, file, true);
        try {
            VirtualDisk d = ch.disk();
            return d.layerStatus(0, d.virtualSize()).stream().filter(Extent::allocated).mapToLong(Extent::length)
                    .sum();
        } finally {
            ch.close();
        }
    }

    /**
     * Copies the child's layer into the snapshot's image (the child's view is then what that
     * image reads: the child's data where it has any, the snapshot's elsewhere), rebases the
     * child's own children onto that image, and returns the entry in which the child's record
     * names the snapshot's file. Idempotent; never rolled back (the snapshot's own view is
     * overwritten from the first copied byte), so recovery runs it again.
     *
     * <p>Readers through the child stay right meanwhile: they read the child where it holds
     * data, and elsewhere the snapshot's image, which only changes where the child holds data.
     *
     * @param sd the volume's shared disk when the current image is a child of the committed one
     */
    CatalogEntry commitFiles(CatalogEntry e, String snap, DiskFormat f, SharedDisk sd, TaskManager.Task task) {
        CatalogEntry.Snap s = e.snapshot(snap).orElseThrow(() -> snapshotNotFound(e.name(), snap));
        String childName = e.pending().file();
        CatalogEntry.Snap c = e.snapshot(childName).orElseThrow(() -> snapshotNotFound(e.name(), childName));
        if (m.datastore.exists(c.file())) {
            SharedDisk.Chain into = m.openChain(f, s.file(), false);
            try {
                SharedDisk.Chain from = m.openChain(f, c.file(), true);
                try {
                    VirtualDisk src = from.disk();
                    List<Extent> ranges = src.layerStatus(0, src.virtualSize()).stream().filter(Extent::allocated)
                            .toList();
                    long total = Math.max(1, ranges.stream().mapToLong(Extent::length).sum());
                    long done = 0;
                    ByteBuffer buf = ByteBuffer.allocateDirect(1 << 20);
                    for (Extent r : ranges) {
                        for (long off = r.offset(); off < r.offset() + r.length(); off += buf.capacity()) {
                            int n = (int) Math.min(buf.capacity(), r.offset() + r.length() - off);
                            buf.clear().limit(n);
                            src.read(buf, off);
                            buf.flip();
                            into.disk().write(buf, off);
                            done += n;
                            if (task != null) {
                                task.progress(0.9 * done / total);
                            }
                        }
                    }
                    into.disk().flush();
                } finally {
                    from.close();
                }
            } finally {
                into.close();
            }
            // The child's children now hang on the snapshot's image, which reads as the child.
            for (CatalogEntry.Snap g : e.snapshots()) {
                if (g.parent().equals(childName)) {
                    SharedDisk.Chain ch = m.openChain(f, g.file(), false);
                    try {
                        ch.disk().rebase(s.file(), m.resolver);
                    } finally {
                        ch.close();
                    }
                }
            }
            if (e.leafParent().equals(childName)) {
                if (sd != null) {
                    long stamp = sd.gate.readLock();
                    try {
                        sd.chain.disk().rebase(s.file(), m.resolver);
                    } finally {
                        sd.gate.unlockRead(stamp);
                    }
                } else {
                    SharedDisk.Chain ch = m.openChain(f, e.file(), false);
                    try {
                        ch.disk().rebase(s.file(), m.resolver);
                    } finally {
                        ch.close();
                    }
                }
            }
        }
        List<CatalogEntry.Snap> snaps = new ArrayList<>();
        for (CatalogEntry.Snap x : e.snapshots()) {
            if (x.name().equals(snap)) {
                continue;
            }
            snaps.add(x.name().equals(childName) ? new CatalogEntry.Snap(x.name(), s.file(), s.parent(), x.created())
                    : x);
        }
        CatalogEntry cur = m.catalog.find(e.name()).orElse(e);
        // The caller deletes the child's old image once this entry is written.
        return cur.withChain(cur.file(), snaps, cur.leafParent());
    }

    /** The note that an image the entry no longer names is to be deleted (the next mount finishes it). */
    private static CatalogEntry.Pending cleanup(String snapshot, String file) {
        return new CatalogEntry.Pending("cleanup", snapshot, file, "");
    }

    /** Deletes the image a "cleanup" note names, then clears the note. */
    private void deleteNoted(String volume, String file) {
        m.deleteIfExists(file);
        try (MountedDatastore.Tx tx = m.tx()) {
            synchronized (m.lock) {
                m.ensureOpen();
                m.writeCatalog(m.catalog.put(m.ready(volume).withPending(null)));
            }
        }
    }

    /** A new, durable child image over {@code parentFile}; @return its virtual size. */
    private long writeChild(DiskFormat f, String file, String parentFile) {
        DatastoreFile nf = m.datastore.create(file);
        try {
            VirtualDisk child = f.createChild(nf, parentFile, m.resolver);
            try {
                child.flush();
                return child.virtualSize();
            } finally {
                child.close();
            }
        } finally {
            nf.close();
        }
    }

    private static void populate(VirtualDisk d, SharedDisk sd, List<Extent> ranges, TaskManager.Task task,
            long[] done, long total) {
        for (Extent r : ranges) {
            for (long off = r.offset(); off < r.offset() + r.length(); off += CHUNK) {
                if (task != null) {
                    task.checkCancel();
                }
                long len = Math.min(CHUNK, r.offset() + r.length() - off);
                if (sd != null) {
                    long stamp = sd.gate.readLock();
                    try {
                        sd.chain.disk().populate(off, len);
                    } finally {
                        sd.gate.unlockRead(stamp);
                    }
                } else {
                    d.populate(off, len);
                }
                done[0] += len;
                if (task != null) {
                    task.progress(0.95 * done[0] / total);
                }
            }
        }
    }

    /**
     * Settles an interrupted chain operation at mount (nothing is open then). Must hold the
     * lock; the caller writes the returned entry.
     */
    static CatalogEntry recoverPending(MountedDatastore m, CatalogEntry e) {
        CatalogEntry.Pending p = e.pending();
        switch (p.op()) {
            case "snapshot-create", "revert" -> {
                // The catalog still names the old current image: the new one was never used.
                if (!p.file().isEmpty() && !p.file().equals(e.file())) {
                    m.deleteIfExists(p.file());
                }
                LOG.info("datastore {}: rolled back an interrupted {} of volume {}", m.name, p.op(), e.name());
                return e.withPending(null);
            }
            case "cleanup" -> {
                if (!p.file().isEmpty() && !p.file().equals(e.file())) {
                    m.deleteIfExists(p.file());
                }
                return e.withPending(null);
            }
            case "snapshot-delete" -> {
                if (e.snapshot(p.snapshot()).isEmpty()) {
                    return e.withPending(null);
                }
                DiskFormat f = m.formats.get(e.format());
                if (f == null) {
                    LOG.warn("datastore {}: volume {}: the interrupted delete of snapshot {} waits for format {}",
                            m.name, e.name(), p.snapshot(), e.format());
                    return e;
                }
                try {
                    if ("commit".equals(p.phase())) {
                        CatalogEntry done = new Chains(m).commitFiles(e, p.snapshot(), f, null, null);
                        // Written by the caller; the old child image goes now (the entry no longer names it).
                        String old = e.snapshot(p.file()).map(CatalogEntry.Snap::file).orElse("");
                        if (!old.isEmpty() && !old.equals(done.file())) {
                            m.deleteIfExists(old);
                        }
                        LOG.info("datastore {}: completed the interrupted delete of snapshot {} of volume {} (commit)",
                                m.name, p.snapshot(), e.name());
                        return done.withPending(null);
                    }
                    CatalogEntry done = new Chains(m).mergeFiles(e, p.snapshot(), f, null, null);
                    LOG.info("datastore {}: completed the interrupted delete of snapshot {} of volume {}", m.name,
                            p.snapshot(), e.name());
                    return done;
                } catch (RuntimeException ex) {
                    LOG.warn("datastore {}: volume {}: the interrupted delete of snapshot {} stays pending: {}",
                            m.name, e.name(), p.snapshot(), ex.getMessage());
                    return e;
                }
            }
            default -> {
                LOG.warn("datastore {}: volume {}: unknown pending operation '{}' dropped", m.name, e.name(),
                        p.op());
                return e.withPending(null);
            }
        }
    }

    // ---------------------------------------------------------------- clones

    /** A linked clone: a child image over a snapshot of the source, created in constant time. */
    String linkedClone(String source, String snap, String target, int chainMax) {
        Names.check("volume", target);
        CatalogEntry src;
        CatalogEntry entry;
        DiskFormat f;
        String baseFile;
        Claim claim;
        try (MountedDatastore.Tx tx = m.tx()) {
            claim = m.claimNew(target);
            try {
                synchronized (m.lock) {
                    m.ensureOpen();
                    src = m.ready(source);
                    f = chainFormat(src);
                    CatalogEntry.Snap s = src.snapshot(snap).orElseThrow(() -> snapshotNotFound(source, snap));
                    CatalogEntry.Pending p = src.pending();
                    if (p != null && p.op().equals("snapshot-delete") && p.snapshot().equals(snap)) {
                        throw new StorageException(ErrorCode.VOLUME_IN_USE, "snapshot " + snap + " of volume "
                                + m.ref(source) + " is being deleted");
                    }
                    String file = target + "." + f.fileExtension();
                    m.checkNew(target, file);
                    int length = ancestry(m.catalog, src, snap).size() + 1;
                    if (length > chainMax) {
                        throw new StorageException(ErrorCode.CHAIN_TOO_LONG, "a clone of " + m.ref(source) + "@" + snap
                                + " would have " + length + " images in its chain; the limit is " + chainMax);
                    }
                    entry = new CatalogEntry(target, file, src.format(), src.provisioning(), src.virtualSize(),
                            MountedDatastore.now(), CatalogEntry.State.CREATING, null, null, 0).withBase(source + "@" + snap);
                    m.writeCatalog(m.placed(m.catalog.put(entry), target));
                    baseFile = s.file();
                }
            } catch (RuntimeException e) {
                claim.close();
                throw e;
            }
        }
        try (Claim held = claim) {
            long size = writeChild(f, entry.file(), baseFile);
            try (MountedDatastore.Tx tx = m.tx()) {
                synchronized (m.lock) {
                    m.ensureOpen();
                    m.writeCatalog(m.catalog.put(entry.ready().withVirtualSize(size)));
                }
            }
            LOG.info("datastore {}: linked clone {} of {}@{}", m.name, target, source, snap);
            return target;
        } catch (RuntimeException ex) {
            m.undo(entry, ex);
            throw m.translate(ex);
        }
    }

    VolumeUsage usage(String volume) {
        Catalog c = m.catalog;
        CatalogEntry e = c.find(volume).orElseThrow(() -> m.notFound(volume));
        Set<String> sharedOwn = new LinkedHashSet<>();
        for (CatalogEntry other : c.volumes()) {
            if (!other.base().isEmpty() && splitBase(other.base())[0].equals(volume)) {
                sharedOwn.addAll(ancestry(c, e, splitBase(other.base())[1]));
            }
        }
        long unique = m.allocatedOf(e.file());
        long shared = 0;
        for (CatalogEntry.Snap s : e.snapshots()) {
            if (sharedOwn.contains(s.file())) {
                shared += m.allocatedOf(s.file());
            } else {
                unique += m.allocatedOf(s.file());
            }
        }
        if (!e.base().isEmpty()) {
            String[] b = splitBase(e.base());
            CatalogEntry src = c.find(b[0]).orElse(null);
            if (src != null) {
                for (String file : ancestry(c, src, b[1])) {
                    shared += m.allocatedOf(file);
                }
            }
        }
        List<String> deps = new ArrayList<>();
        for (CatalogEntry other : c.volumes()) {
            if (!other.base().isEmpty() && splitBase(other.base())[0].equals(volume)) {
                deps.add(m.name + "/" + other.name() + " (@" + splitBase(other.base())[1] + ")");
            }
        }
        return new VolumeUsage(new VolumeRef(m.name, volume), unique, shared, e.base(), deps);
    }

    // ---------------------------------------------------------------- reclaim and check

    long reclaim(String volume) {
        CatalogEntry e;
        DiskFormat f;
        synchronized (m.lock) {
            m.ensureOpen();
            e = m.ready(volume);
            m.checkIdle(volume, "reclaim");
            checkNoPending(m, e);
            f = m.format(e.format());
            if (!f.capabilities().contains(Capability.RECLAIM)) {
                throw new StorageException(ErrorCode.UNSUPPORTED,
                        "format " + e.format() + " cannot reclaim space (volume " + m.ref(volume) + ")");
            }
            m.busy.add(volume);
        }
        try {
            SharedDisk.Chain ch = m.openChain(f, e.file(), false);
            try {
                long freed = ch.disk().reclaim();
                ch.disk().flush();
                LOG.info("datastore {}: reclaimed {} bytes from volume {}", m.name, freed, volume);
                return freed;
            } finally {
                ch.close();
            }
        } catch (RuntimeException ex) {
            throw m.translate(ex);
        } finally {
            synchronized (m.lock) {
                m.busy.remove(volume);
            }
        }
    }

    List<CheckReport> check(String volume, boolean repair) {
        CatalogEntry e;
        DiskFormat f;
        List<String> files;
        Set<String> own = new HashSet<>();
        synchronized (m.lock) {
            m.ensureOpen();
            e = m.ready(volume);
            f = m.format(e.format());
            if (repair) {
                m.checkIdle(volume, "repair");
                checkNoPending(m, e);
                m.busy.add(volume);
            }
            files = chainFiles(m.catalog, e);
            own.add(e.file());
            for (CatalogEntry.Snap s : e.snapshots()) {
                own.add(s.file());
            }
        }
        try {
            List<CheckReport> reports = new ArrayList<>();
            for (String file : files) {
                // Images shared with other volumes (a clone's base) are checked, never repaired here.
                boolean fix = repair && own.contains(file) && (file.equals(e.file())
                        || dependents(m.catalog, volume, null).isEmpty());
                if (!m.datastore.exists(file)) {
                    reports.add(new CheckReport(file, List.of("image file " + file + " is missing: the catalog records"
                            + " it in the chain of volume " + m.ref(volume)), List.of(), List.of(), 0));
                    continue;
                }
                try (DatastoreFile df = m.datastore.open(file, fix)) {
                    reports.add(f.check(df, m.resolver, fix));
                } catch (StorageException damaged) {
                    // A checker reports what it finds; one that cannot even start (an unreadable
                    // header, a parent it cannot reach) still gives a report, not a bare error.
                    if (damaged.code() == ErrorCode.DEVICE_UNAVAILABLE) {
                        throw damaged;
                    }
                    reports.add(new CheckReport(file, List.of(damaged.code() + ": " + damaged.getMessage()),
                            List.of(), List.of(), 0));
                }
            }
            return reports;
        } catch (RuntimeException ex) {
            throw m.translate(ex);
        } finally {
            if (repair) {
                synchronized (m.lock) {
                    m.busy.remove(volume);
                }
            }
        }
    }

    StorageException snapshotNotFound(String volume, String snap) {
        return new StorageException(ErrorCode.SNAPSHOT_NOT_FOUND,
                "volume " + m.ref(volume) + " has no snapshot '" + snap + "'");
    }
}

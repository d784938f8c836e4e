package io.strata.core.internal;

import static java.util.Objects.requireNonNull;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.format.DiskFormat;
import io.strata.api.fs.DatastoreFile;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Recovery of the work a crash (or, on a shared datastore, another host's death) left
 * unfinished, for one mounted datastore: CREATING entries rolled back, DELETING ones
 * finished, pending snapshot operations and resizes settled. The file operations are
 * idempotent and each outcome is one catalog write, so a crash during recovery is
 * recovered again. On a datastore of one host it all runs at mount; on a shared one only
 * under the volume's lease (so never a live host's work), at mount and every few seconds.
 * A snapshot delete's merge is not run inside the mount: it is listed for the core to
 * resume as a task ({@link #takeResumable}, {@link #resume}).
 */
final class Recovery {
    private static final Logger LOG = LoggerFactory.getLogger(Recovery.class);

    private final MountedDatastore m;
    /**
     * Set by the core before the mount's load: an interrupted snapshot delete is not finished
     * during the mount but listed in {@link #resumable} for the core to resume as a task.
     */
    boolean deferMerges;
    /** Volumes with an interrupted snapshot delete left for {@link #resume}; guarded by the mount's lock. */
    private final List<String> resumable = new ArrayList<>();

    Recovery(MountedDatastore m) {
        this.m = requireNonNull(m, "m");
    }

    /**
     * On a shared m.datastore: finishes or rolls back every intent (a half-made or half-deleted
     * volume, an interrupted snapshot operation or resize) whose volume lease nobody live holds:
     * the host that recorded it died or restarted. A live host's intents are left alone: their
     * volume leases are held. Runs at mount and every few seconds.
     */
    void recoverShared() {
        SharedAccess s = m.sharedAccess;
        if (s == null) {
            return;
        }
        for (CatalogEntry e : m.catalog.volumes()) {
            if (!hasIntent(e) || s.holds(e.name()) || m.closed) {
                continue;
            }
            if (deferMerges && e.state() == CatalogEntry.State.READY && e.pending() != null
                    && "snapshot-delete".equals(e.pending().op())) {
                // A merge: resumed as a task, under the volume's lease only (see resume), once
                // nobody live holds that lease.
                int area = m.catalog.area(e.name());
                if (area < 0 || s.holder(e.name(), area).isPresent()) {
                    continue;
                }
                boolean added;
                synchronized (m.lock) {
                    added = !resumable.contains(e.name()) && !resuming.contains(e.name());
                    if (added) {
                        resumable.add(e.name());
                    }
                }
                Runnable r = onResumable;
                if (added && r != null) {
                    r.run();
                }
                continue;
            }
            try (MountedDatastore.Tx tx = m.tx()) {
                // The view e came from may be stale: the host that recorded the intent may have
                // finished it since. Only an intent still in the catalog read under the catalog lease
                // is worth the volume's lease; holding it needlessly would refuse that host's next
                // operation on its own volume with VOLUME_IN_USE.
                synchronized (m.lock) {
                    Optional<CatalogEntry> now = m.catalog.find(e.name());
                    if (now.isEmpty() || !hasIntent(now.get())) {
                        continue;
                    }
                }
                int area = m.areaFor(e.name());
                Optional<io.strata.lease.HostIdentity> was = s.holder(e.name(), area);
                try (SharedAccess.Hold hold = s.hold(e.name(), area)) {
                    synchronized (m.lock) {
                        Optional<CatalogEntry> cur = m.catalog.find(e.name());
                        if (cur.isPresent() && hasIntent(cur.get())) {
                            Catalog next = recoverEntry(m.catalog, cur.get());
                            if (next != m.catalog) {
                                m.writeCatalog(next, true);
                                LOG.info("datastore {}: recovered the unfinished work on volume {} left by {}", m.name,
                                        e.name(), was.map(h -> "host " + h).orElse("a host no longer alive"));
                            }
                        }
                    }
                }
            } catch (StorageException ex) {
                if (ex.code() != ErrorCode.VOLUME_IN_USE) {
                    LOG.warn("datastore {}: cannot recover volume {} yet: {}", m.name, e.name(), ex.getMessage());
                }
            }
        }
    }

    static boolean hasIntent(CatalogEntry e) {
        return e.state() != CatalogEntry.State.READY || e.pending() != null || e.resizeTo() > 0;
    }


    /**
     * Finishes what a crash interrupted. The file operations are idempotent and the m.catalog is
     * written once at the end, so a crash during recovery is recovered again at the next mount.
     */
    void recover() {
        Catalog c = m.catalog;
        for (CatalogEntry e : c.volumes()) {
            c = recoverEntry(c, e);
        }
        if (c != m.catalog) {
            m.writeCatalog(c, true);
        }
    }

    /** Must hold the mount's lock: the m.catalog with one entry's interrupted work finished or undone. */
    private Catalog recoverEntry(Catalog c, CatalogEntry e) {
        switch (e.state()) {
            case CREATING -> {
                rollBackFiles(e);
                LOG.info("datastore {}: rolled back volume {} left half-created", m.name, e.name());
                return c.remove(e.name());
            }
            case DELETING -> {
                deleteFiles(e);
                LOG.info("datastore {}: finished deleting volume {}", m.name, e.name());
                return c.remove(e.name());
            }
            case READY -> {
                if (e.pending() != null && deferMerges && "snapshot-delete".equals(e.pending().op())) {
                    // A merge can take minutes: it resumes as a task once the m.datastore is online.
                    resumable.add(e.name());
                } else if (e.pending() != null) {
                    CatalogEntry settled = Chains.recoverPending(m, e);
                    if (settled != e) {
                        c = c.put(settled);
                        e = settled;
                    }
                }
                if (e.resizeTo() > 0) {
                    CatalogEntry settled = settleSize(e);
                    if (settled != e) {
                        c = c.put(settled);
                    }
                }
                return c;
            }
            default -> throw new IllegalStateException(e.state().name());
        }
    }

    /** @return and forget the volumes whose interrupted snapshot delete waits to be resumed */
    List<String> takeResumable() {
        synchronized (m.lock) {
            List<String> l = List.copyOf(resumable);
            resumable.clear();
            resuming.addAll(l);
            return l;
        }
    }

    /** Volumes whose resume task was handed out and has not ended; guarded by the mount's lock. */
    private final Set<String> resuming = new HashSet<>();

    /** The end of a resume task: the volume may be looked at again. */
    void resumed(String volume) {
        synchronized (m.lock) {
            resuming.remove(volume);
        }
    }

    /**
     * Finishes (or, when nothing irreversible was done, still finishes: a delete the user asked
     * for) the interrupted snapshot delete of a volume, holding the volume. The body of a
     * resumed task.
     *
     * @return what was done, for the task list
     */
    String resume(String volume) {
        try (Claim held = m.hold(volume)) {
            CatalogEntry e;
            synchronized (m.lock) {
                m.ensureOpen();
                e = m.catalog.find(volume).orElseThrow(() -> m.notFound(volume));
                if (e.pending() == null || !"snapshot-delete".equals(e.pending().op())) {
                    return "nothing left to resume on volume " + m.ref(volume);
                }
                m.checkIdle(volume, "resume the snapshot delete of");
                m.busy.add(volume);
            }
            try {
                // The merge runs under the volume's lease (and m.busy mark), not under the m.catalog
                // lease: other volumes' changes go on meanwhile, and nobody else changes this entry.
                String snap = e.pending().snapshot();
                CatalogEntry settled = Chains.recoverPending(m, e);
                if (settled.pending() != null && settled.pending().equals(e.pending())) {
                    throw new StorageException(ErrorCode.IO_ERROR, "the interrupted delete of snapshot " + snap
                            + " of volume " + m.ref(volume) + " could not be finished; it is tried again at the next mount");
                }
                try (MountedDatastore.Tx tx = m.tx()) {
                    synchronized (m.lock) {
                        m.ensureOpen();
                        m.writeCatalog(m.catalog.put(settled));
                    }
                }
                return "snapshot " + snap + " of volume " + m.ref(volume) + " deleted (resumed)";
            } finally {
                synchronized (m.lock) {
                    m.busy.remove(volume);
                }
            }
        }
    }

    /** Set by the core: told when {@link #resumable} gained volumes after the mount (a dead host's merge). */
    volatile Runnable onResumable;

    /** Deletes every image of a volume: its current image, its snapshots, a pending new image. */
    void deleteFiles(CatalogEntry e) {
        m.deleteIfExists(e.file());
        for (CatalogEntry.Snap s : e.snapshots()) {
            m.deleteIfExists(s.file());
        }
        if (e.pending() != null && !e.pending().file().isEmpty()) {
            m.deleteIfExists(e.pending().file());
        }
    }

    /** Undoes the file side of a CREATING entry: adopted images go back, everything else goes. */
    void rollBackFiles(CatalogEntry e) {
        if (e.adoptedFrom() != null) {
            // The user's own image: never delete it, put it back where it was.
            if (!e.adoptedFrom().equals(e.file()) && m.datastore.exists(e.file())
                    && !m.datastore.exists(e.adoptedFrom())) {
                m.datastore.rename(e.file(), e.adoptedFrom());
            }
            return;
        }
        if (e.tempFile() != null) {
            m.deleteIfExists(e.tempFile());
        }
        m.deleteIfExists(e.file());
    }

    /** A grow that was interrupted: the image knows its size, the m.catalog takes it from there. */
    CatalogEntry settleSize(CatalogEntry e) {
        DiskFormat f = m.formats.get(e.format());
        if (f == null) {
            return e;
        }
        try (DatastoreFile file = m.datastore.open(e.file(), false)) {
            return e.withVirtualSize(f.probe(file).virtualSize());
        } catch (RuntimeException ex) {
            LOG.warn("datastore {}: cannot settle the size of volume {}: {}", m.name, e.name(), ex.getMessage());
            return e;
        }
    }}

package io.strata.core.internal;

import static java.util.Objects.requireNonNull;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.fs.Datastore;
import io.strata.api.fs.DatastoreFile;
import io.strata.lease.HostIdentity;
import io.strata.lease.LeaseClock;
import io.strata.lease.LeaseHeldException;
import io.strata.lease.LeaseSettings;
import io.strata.lease.Lockspace;
import io.strata.lease.LockspaceLayout;
import io.strata.lease.Lockspaces;
import io.strata.lease.ResourceLease;
import io.strata.lease.SectorStore;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What a mount of a shared datastore adds to one used by a single host: this host's slot in
 * the datastore's lockspace (a file of the datastore, {@value #LOCKSPACE_FILE}, or the
 * lockspace a clustered filesystem keeps on its device, {@link #over}), the catalog lease
 * (area {@value #CATALOG_AREA}) and the leases of the volumes this host holds.
 *
 * <p>A volume's lease is held while this host has the volume open (read-only or not: its
 * current image may change under a reader on another host) and while it runs an operation on
 * it (snapshots, merges, resize, delete, clone from it). Holds are counted, so an operation on
 * a volume this host has open reuses the lease it has. Snapshot images and bases of linked
 * clones are never written, so any host reads them without a lease.
 */
final class SharedAccess implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(SharedAccess.class);
    /** The lockspace of a shared datastore kept as a file in it. */
    static final String LOCKSPACE_FILE = ".strata-lockspace";
    /** The lease area of the catalog; volumes use the areas after it. */
    static final int CATALOG_AREA = 0;
    /** Sector size of lockspace files: the smallest any device has, so no space is wasted. */
    static final int FILE_SECTOR = 512;
    /** The name written in a lockspace's header: datastore names are per host, so not one of them. */
    static final String LOCKSPACE_NAME = "strata-datastore";

    private final String datastore;
    private final Lockspace lockspace;
    private final Duration catalogWait;
    /** Closed after the lockspace: the lockspace file's store, or null for a view of the layer's lockspace. */
    private final SectorStore store;
    /** Guarded by this: the volume leases this host holds, with their hold counts. */
    private final Map<String, Held> held = new HashMap<>();

    private static final class Held {
        final ResourceLease lease;
        int refs;

        Held(ResourceLease lease) {
            this.lease = lease;
        }
    }

    SharedAccess(String datastore, Lockspace lockspace, Duration catalogWait) {
        this(datastore, lockspace, catalogWait, null);
    }

    private SharedAccess(String datastore, Lockspace lockspace, Duration catalogWait, SectorStore store) {
        this.datastore = requireNonNull(datastore, "datastore");
        this.lockspace = requireNonNull(lockspace, "lockspace");
        this.catalogWait = requireNonNull(catalogWait, "catalogWait");
        this.store = store;
    }

    /**
     * Uses a view of a lockspace the datastore's layer keeps ({@link io.strata.lease.LockspaceProvider}):
     * this host already holds its slot there, so nothing is joined; closing this access closes
     * the view, which releases the leases taken through it and leaves the slot to the layer.
     *
     * @param view areas 0 to {@code areas() - 1} kept for the core: the catalog, then volumes
     * @param settings the lease timing of the host (the catalog wait derives from its expiry)
     * @throws StorageException {@code UNSUPPORTED} when the view has no area (the view is closed)
     */
    static SharedAccess over(String datastore, Lockspace view, LeaseSettings settings) {
        requireNonNull(view, "view");
        try {
            if (view.areas() <= CATALOG_AREA) {
                throw new StorageException(ErrorCode.UNSUPPORTED, "the lockspace of datastore '" + datastore
                        + "' keeps no lease area for the catalog and volumes");
            }
            LOG.info("datastore {}: host {} uses the datastore's lockspace in slot {} (generation {}, {} lease areas)",
                    datastore, view.me(), view.slot(), view.generation(), view.areas());
            return new SharedAccess(datastore, view, settings.expiry().multipliedBy(4));
        } catch (RuntimeException e) {
            view.close();
            throw e;
        }
    }

    /**
     * Opens (making and formatting it the first time) the lockspace file of a shared datastore
     * and joins it; blocks until this host has its slot.
     */
    static SharedAccess join(String datastore, Datastore ds, HostIdentity me, LeaseSettings settings,
            LeaseClock clock, Runnable onFence) {
        LockspaceLayout layout = LockspaceLayout.DEFAULT;
        long sectors = Lockspaces.sectorsNeeded(layout, FILE_SECTOR);
        DatastoreFile file;
        if (ds.exists(LOCKSPACE_FILE)) {
            file = ds.open(LOCKSPACE_FILE, true);
        } else {
            try {
                file = ds.create(LOCKSPACE_FILE);
            } catch (StorageException e) {
                if (e.code() != ErrorCode.ALREADY_EXISTS) {
                    throw e;
                }
                file = ds.open(LOCKSPACE_FILE, true); // another host made it meanwhile
            }
        }
        SectorStore store = Lockspaces.fileStore(file, FILE_SECTOR, sectors);
        try {
            if (!Lockspaces.formatted(store)) {
                Lockspaces.format(store, LOCKSPACE_NAME, layout);
            }
            Lockspace ls = Lockspaces.join(store, me, settings, clock, onFence);
            LOG.info("datastore {}: host {} joined the lockspace in slot {} (generation {})", datastore, me,
                    ls.slot(), ls.generation());
            return new SharedAccess(datastore, ls, settings.expiry().multipliedBy(4), store);
        } catch (RuntimeException e) {
            store.close();
            throw e;
        }
    }

    Lockspace lockspace() {
        return lockspace;
    }

    /** @throws StorageException {@code DEVICE_UNAVAILABLE} once this host fenced itself */
    void checkValid() {
        lockspace.checkValid();
    }

    /**
     * Takes the catalog lease, waiting while other hosts change the catalog.
     *
     * @throws StorageException {@code LOCKED} naming the host that keeps it too long
     */
    ResourceLease catalogLease() {
        try {
            return lockspace.acquire(CATALOG_AREA, "catalog", catalogWait);
        } catch (LeaseHeldException e) {
            throw new StorageException(ErrorCode.LOCKED, "the catalog of datastore '" + datastore
                    + "' has been held by host " + e.holder() + " for more than " + catalogWait.toSeconds() + " s");
        }
    }

    /** @return whether this host holds the volume's lease now */
    synchronized boolean holds(String volume) {
        return held.containsKey(volume);
    }

    /**
     * Holds a volume's lease for an open handle or an operation: takes it when this host does not
     * hold it yet, without waiting for another host.
     *
     * @param area the volume's lease area (from the catalog)
     * @return the hold; closing it gives it back, and the last one releases the lease
     * @throws StorageException {@code VOLUME_IN_USE} naming the host that holds it
     */
    Hold hold(String volume, int area) {
        // One acquisition per volume at a time on this host: a second thread waits and then
        // counts itself on the lease the first one took.
        synchronized (acquiring.computeIfAbsent(volume, k -> new Object())) {
            return holdOnce(volume, area);
        }
    }

    private final java.util.concurrent.ConcurrentMap<String, Object> acquiring =
            new java.util.concurrent.ConcurrentHashMap<>();

    private Hold holdOnce(String volume, int area) {
        synchronized (this) {
            Held h = held.get(volume);
            if (h != null) {
                if (!h.lease.valid()) {
                    throw new StorageException(ErrorCode.DEVICE_UNAVAILABLE, "the lease of volume " + datastore + "/"
                            + volume + " was lost: this host could not renew its lease on the datastore in time");
                }
                h.refs++;
                return new Hold(volume, h);
            }
        }
        // Taken outside this object's monitor: it is storage I/O.
        ResourceLease lease;
        try {
            lease = lockspace.acquire(area, "volume " + volume, Duration.ZERO);
        } catch (LeaseHeldException e) {
            throw new StorageException(ErrorCode.VOLUME_IN_USE, "volume " + datastore + "/" + volume
                    + " is in use by host " + e.holder());
        }
        synchronized (this) {
            Held h = held.get(volume);
            if (h != null) {
                // Cannot happen: the lease admits one holder; keep the first, drop the second.
                lease.close();
                h.refs++;
                return new Hold(volume, h);
            }
            h = new Held(lease);
            h.refs = 1;
            held.put(volume, h);
            return new Hold(volume, h);
        }
    }

    /** @return the host holding the volume's lease, when another host holds it */
    Optional<HostIdentity> holder(String volume, int area) {
        synchronized (this) {
            if (held.containsKey(volume)) {
                return Optional.of(lockspace.me());
            }
        }
        return area < 0 ? Optional.empty() : lockspace.holder(area);
    }

    /** One hold on a volume's lease. */
    final class Hold implements Claim {
        private final String volume;
        private final Held held;
        private boolean closed;

        Hold(String volume, Held held) {
            this.volume = volume;
            this.held = held;
        }

        boolean valid() {
            return held.lease.valid();
        }

        @Override
        public void close() {
            ResourceLease release = null;
            synchronized (SharedAccess.this) {
                if (closed) {
                    return;
                }
                closed = true;
                if (--held.refs == 0 && SharedAccess.this.held.get(volume) == held) {
                    SharedAccess.this.held.remove(volume);
                    release = held.lease;
                }
            }
            if (release != null) {
                release.close();
            }
        }
    }

    /**
     * Releases every lease this access took and, for the lockspace file, this host's slot and
     * then the file; for a view of the layer's lockspace ({@link #over}) only the view's leases:
     * the slot is the layer's, left when the datastore is unmounted. Never throws.
     */
    @Override
    public void close() {
        synchronized (this) {
            held.clear();
        }
        lockspace.close();
        if (store != null) {
            store.close();
        }
    }
}

package io.strata.core.internal;

import io.strata.api.format.VirtualDisk;
import io.strata.api.fs.DatastoreFile;
import java.util.concurrent.locks.StampedLock;

/**
 * The one open chain of a volume, shared by all its handles, so that a snapshot can be
 * taken and a merge can stream into the leaf while the volume is in use.
 *
 * <p>The chain in use is one volatile reference ({@link Chain}: the format's disk and the
 * leaf file it runs on). I/O takes the {@link #gate} in read mode (one CAS, never blocking
 * unless a switch is waiting); a switch (snapshot-create) takes it in write mode for the
 * few milliseconds it needs to flush the leaf, write the child and publish the new chain.
 * The reference count is guarded by the mount's lock.
 */
final class SharedDisk {
    /** A chain as opened: the format's disk and the leaf file under it (closed after the disk). */
    record Chain(VirtualDisk disk, DatastoreFile file) implements AutoCloseable {
        @Override
        public void close() {
            try {
                disk.close();
            } catch (RuntimeException e) {
                // close never throws by contract; a plugin that does must not stop the release
            } finally {
                MountedDatastore.closeQuietly(file);
            }
        }
    }

    final String volume;
    final String format;
    final StampedLock gate = new StampedLock();
    volatile Chain chain;
    /** Guarded by the mount's lock. */
    int refs;
    /** Guarded by this object's monitor: set once the chain is open or the open failed. */
    private boolean opened;
    private boolean closed;

    SharedDisk(String volume, String format) {
        this.volume = volume;
        this.format = format;
    }

    interface Opener {
        Chain open();
    }

    /** Opens the chain the first time it is needed; later callers get the same chain. */
    synchronized Chain ensureOpen(Opener opener) {
        if (closed) {
            throw new io.strata.api.StorageException(io.strata.api.ErrorCode.DEVICE_UNAVAILABLE,
                    "volume " + volume + " was closed while it was being opened");
        }
        if (!opened) {
            chain = opener.open();
            opened = true;
        }
        return chain;
    }

    VirtualDisk disk() {
        return chain.disk();
    }

    /** Closes the chain. Never throws; idempotent. */
    synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        Chain c = chain;
        if (c != null) {
            c.close();
        }
    }

    synchronized boolean isClosed() {
        return closed;
    }
}

package io.strata.fs.vims.internal;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.lease.HostIdentity;
import io.strata.lease.HostStatus;
import io.strata.lease.Lockspace;
import io.strata.lease.ResourceLease;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.function.Consumer;

/**
 * The areas of a VIMS lockspace kept for the core (catalog and volume leases), numbered from 0.
 * Every lease taken through the view first lets the filesystem replay the journals of hosts
 * found dead, so a dead host's locks are broken only after its journal is replayed. Closing
 * the view releases what was taken through it and leaves the slot to the filesystem.
 */
final class AreaView implements Lockspace {
    private final Lockspace ls;
    private final int first;
    private final int count;
    private final Consumer<ResourceLease> afterAcquire;
    private final List<ResourceLease> taken = new ArrayList<>();
    private boolean closed;

    AreaView(Lockspace ls, int first, int count, Consumer<ResourceLease> afterAcquire) {
        this.ls = ls;
        this.first = first;
        this.count = count;
        this.afterAcquire = afterAcquire;
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
            throw new StorageException(ErrorCode.DEVICE_UNAVAILABLE, "the datastore's lockspace view was closed");
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
        return count;
    }

    private int map(int area) {
        if (area < 0 || area >= count) {
            throw new StorageException(ErrorCode.OUT_OF_RANGE, "lease area " + area + " is not one of the "
                    + count + " areas of this datastore");
        }
        return first + area;
    }

    @Override
    public ResourceLease acquire(int area, String resource, Duration wait) {
        synchronized (this) {
            checkValid();
        }
        ResourceLease lease = ls.acquire(map(area), resource, wait);
        try {
            afterAcquire.accept(lease);
        } catch (RuntimeException e) {
            lease.close();
            throw e;
        }
        ResourceLease view = new ResourceLease() {
            @Override
            public String resource() {
                return lease.resource();
            }

            @Override
            public int area() {
                return area;
            }

            @Override
            public boolean valid() {
                return lease.valid();
            }

            @Override
            public void close() {
                synchronized (AreaView.this) {
                    taken.remove(this);
                }
                lease.close();
            }
        };
        synchronized (this) {
            if (closed) {
                lease.close();
                throw new StorageException(ErrorCode.DEVICE_UNAVAILABLE, "the datastore's lockspace view was closed");
            }
            taken.add(view);
        }
        return view;
    }

    @Override
    public Optional<HostIdentity> holder(int area) {
        return ls.holder(map(area));
    }

    @Override
    public void close() {
        List<ResourceLease> release;
        synchronized (this) {
            closed = true;
            release = new ArrayList<>(taken);
            taken.clear();
        }
        for (ResourceLease l : release) {
            try {
                l.close();
            } catch (RuntimeException e) {
                // never throws
            }
        }
    }
}

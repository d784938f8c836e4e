package io.strata.lease.internal;

import io.strata.lease.ResourceLease;

/** A resource lease held by this host: valid while its lockspace is valid and it is not released. */
public final class LeaseImpl implements ResourceLease {
    private final Engine engine;
    private final int area;
    private final String resource;
    private final long lver;
    private volatile boolean released;

    LeaseImpl(Engine engine, int area, String resource, long lver) {
        this.engine = engine;
        this.area = area;
        this.resource = resource;
        this.lver = lver;
    }

    @Override
    public String resource() {
        return resource;
    }

    @Override
    public int area() {
        return area;
    }

    /** @return the Disk Paxos instance that gave it to this host */
    public long lver() {
        return lver;
    }

    @Override
    public boolean valid() {
        return !released && engine.valid();
    }

    /** @return whether it was released (by {@link #close()} or the lockspace's close) */
    public boolean released() {
        return released;
    }

    /** Marks it released; @return false when it already was */
    boolean markReleased() {
        if (released) {
            return false;
        }
        released = true;
        return true;
    }

    @Override
    public void close() {
        if (!released) {
            engine.releaser().accept(this);
        }
    }

    @Override
    public String toString() {
        return "lease of " + resource + " (area " + area + ", version " + lver + ")";
    }
}

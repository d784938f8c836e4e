package io.strata.lease;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;

/** A resource lease could not be taken because a live host holds it. */
public class LeaseHeldException extends StorageException {
    private static final long serialVersionUID = 1L;

    private final String resource;
    private final HostIdentity holder;

    /**
     * @param resource the resource asked for
     * @param holder the host that holds it
     */
    public LeaseHeldException(String resource, HostIdentity holder) {
        super(ErrorCode.LOCKED, resource + " is held by host " + holder);
        this.resource = resource;
        this.holder = holder;
    }

    /** @return the resource asked for */
    public String resource() {
        return resource;
    }

    /** @return the host holding it */
    public HostIdentity holder() {
        return holder;
    }
}

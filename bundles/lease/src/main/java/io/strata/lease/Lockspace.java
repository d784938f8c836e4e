package io.strata.lease;

import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import org.osgi.annotation.versioning.ProviderType;

/**
 * This host's membership of one lockspace: its slot, renewed in the background, the view of
 * the other hosts' slots, and the resource leases it takes. Made by {@link Lockspaces#join}.
 *
 * <p>Self-fencing: when the slot cannot be renewed in time, {@link #valid()} turns false,
 * every resource lease with it, and the fence listener given at join runs, all before the
 * moment another host may count this one dead. The owner of the lockspace checks
 * {@link #valid()} (a volatile read) before each write to shared storage.
 */
@ProviderType
public interface Lockspace extends AutoCloseable {
    /** @return this host */
    HostIdentity me();

    /** @return this host's slot number */
    int slot();

    /** @return this host's generation in its slot (one more than its previous join) */
    long generation();

    /** @return whether this host's slot is renewed in time, so it may write to shared storage */
    boolean valid();

    /**
     * @throws io.strata.api.StorageException {@code DEVICE_UNAVAILABLE} naming the lockspace when
     *         this host has fenced itself or left
     */
    void checkValid();

    /** @return every used slot as this host sees it now, by slot number */
    List<HostStatus> hosts();

    /**
     * @param host a host identity
     * @return true only when that host's slot was seen unchanged for the whole expiry time or
     *         released (then nothing it held can still be written by it); false when it is live,
     *         unknown yet, or was never seen
     */
    boolean isDead(UUID host);

    /** @return the number of resource lease areas (area numbers run from 0) */
    int areas();

    /**
     * Takes the exclusive lease of area {@code area} for {@code resource}, waiting up to
     * {@code wait} while a live host holds it. A lease held by a dead host (see
     * {@link #isDead}) or by an earlier generation of a host is taken over.
     *
     * @param area the lease area, from 0 to {@link #areas()} - 1, chosen by the caller
     * @param resource the resource's name, recorded in the area for people and checks
     * @param wait how long to wait for a live holder to release it; zero to try once
     * @return the lease
     * @throws LeaseHeldException when a live host still holds it after {@code wait}
     * @throws io.strata.api.StorageException {@code DEVICE_UNAVAILABLE} when this host is
     *         fenced, {@code IO_ERROR}, {@code OUT_OF_RANGE} for a bad area
     */
    ResourceLease acquire(int area, String resource, Duration wait);

    /**
     * @param area a lease area
     * @return the host holding the area's lease now (as last written on the storage), or
     *         empty when nobody holds it
     */
    Optional<HostIdentity> holder(int area);

    /** Releases every lease and the slot (so other hosts need not wait for expiry). Never throws. */
    @Override
    void close();
}

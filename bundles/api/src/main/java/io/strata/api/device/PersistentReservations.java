package io.strata.api.device;

import io.strata.api.StorageException;
import java.util.List;
import java.util.Optional;
import org.osgi.annotation.versioning.ConsumerType;

/**
 * SCSI-3 (and NVMe) persistent reservations on a shared block device, the operations of
 * Linux's block-layer {@code pr_ops} ({@code IOC_PR_*}). Each host registers its own
 * non-zero key; a reservation is held by a registered key; another host can preempt it.
 * Reached through {@link BlockDevice#reservations()}, offered only by devices whose driver
 * declares {@link io.strata.api.Capability#PERSISTENT_RESERVATIONS}.
 *
 * <p>Every method may fail with {@code LOCKED} on a reservation conflict, {@code IO_ERROR},
 * {@code DEVICE_UNAVAILABLE} or {@code UNSUPPORTED} (the device turns out to lack them).
 *
 * @since 1.1
 */
@ConsumerType
public interface PersistentReservations {
    /** Reservation types, as in SPC-3 and Linux's {@code enum pr_type}. */
    enum Type {
        /** Only the holder may write; everyone may read. */
        WRITE_EXCLUSIVE,
        /** Only the holder may read or write. */
        EXCLUSIVE_ACCESS,
        /** Only registered hosts may write. */
        WRITE_EXCLUSIVE_REGISTRANTS_ONLY,
        /** Only registered hosts may read or write. */
        EXCLUSIVE_ACCESS_REGISTRANTS_ONLY,
        /** Only registered hosts may write; every registrant holds the reservation. */
        WRITE_EXCLUSIVE_ALL_REGISTRANTS,
        /** Only registered hosts may read or write; every registrant holds the reservation. */
        EXCLUSIVE_ACCESS_ALL_REGISTRANTS
    }

    /**
     * The reservation a device carries.
     *
     * @param key the key of the holder
     * @param type the type
     */
    record Reservation(long key, Type type) {
    }

    /**
     * Registers this host's key, replacing any key it had registered (REGISTER AND IGNORE
     * EXISTING KEY).
     *
     * @param key a non-zero key
     * @throws StorageException {@code INVALID_ARGUMENT} for key 0
     */
    void register(long key);

    /** Removes this host's registration, and its reservation if it held one. */
    void unregister(long key);

    /** Takes the reservation with a registered key. */
    void reserve(long key, Type type);

    /** Releases a reservation this host holds. */
    void release(long key, Type type);

    /** Removes another host's registration (and reservation), taking the reservation. */
    void preempt(long key, long victimKey, Type type);

    /** Removes every registration and the reservation. */
    void clear(long key);

    /** @return the keys registered on the device (READ KEYS) */
    List<Long> keys();

    /** @return the reservation the device carries, if any (READ RESERVATION) */
    Optional<Reservation> reservation();
}

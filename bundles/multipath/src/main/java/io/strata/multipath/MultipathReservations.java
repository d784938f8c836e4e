package io.strata.multipath;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.device.PersistentReservations;
import java.util.List;
import java.util.Optional;
import java.util.function.Function;

/**
 * Persistent reservations of a multipath device. A SCSI registration belongs to one I_T
 * nexus, so {@link #register} and {@link #unregister} go to every usable path (as Linux
 * dm-multipath does); the other commands go to one path with failover. The registered key
 * is remembered and registered again through a path that comes back, when it is still
 * registered on the device through the others.
 */
final class MultipathReservations implements PersistentReservations {
    private final MultipathDevice handle;
    private final DeviceGroup device;

    MultipathReservations(MultipathDevice handle, DeviceGroup device) {
        this.handle = handle;
        this.device = device;
    }

    private static PersistentReservations of(PathTransport t, MultipathDevice handle) {
        return t.reservations().orElseThrow(() -> new StorageException(ErrorCode.UNSUPPORTED, "device "
                + handle.ref() + " does not support persistent reservations (path " + t.id() + " lacks them)"));
    }

    private <T> T one(String what, Function<PersistentReservations, T> op) {
        return handle.execute(what, t -> op.apply(of(t, handle)));
    }

    @Override
    public void register(long key) {
        if (key == 0) {
            throw new StorageException(ErrorCode.INVALID_ARGUMENT, "reservation key 0 cannot be registered on "
                    + handle.ref());
        }
        handle.checkOpen();
        device.executeOnAll("reservation register", t -> of(t, handle).register(key));
        device.registered(key);
    }

    @Override
    public void unregister(long key) {
        handle.checkOpen();
        device.registered(0);
        device.executeOnAll("reservation unregister", t -> of(t, handle).unregister(key));
    }

    @Override
    public void reserve(long key, Type type) {
        one("reservation reserve", r -> {
            r.reserve(key, type);
            return null;
        });
    }

    @Override
    public void release(long key, Type type) {
        one("reservation release", r -> {
            r.release(key, type);
            return null;
        });
    }

    @Override
    public void preempt(long key, long victimKey, Type type) {
        one("reservation preempt", r -> {
            r.preempt(key, victimKey, type);
            return null;
        });
    }

    @Override
    public void clear(long key) {
        device.registered(0);
        one("reservation clear", r -> {
            r.clear(key);
            return null;
        });
    }

    @Override
    public List<Long> keys() {
        return one("reservation read keys", PersistentReservations::keys);
    }

    @Override
    public Optional<Reservation> reservation() {
        return one("reservation read", PersistentReservations::reservation);
    }
}

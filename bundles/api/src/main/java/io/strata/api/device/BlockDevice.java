package io.strata.api.device;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import java.nio.ByteBuffer;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;
import org.osgi.annotation.versioning.ConsumerType;

/**
 * A block device: a LUN, a local disk or a file-backed LUN. Offsets and
 * lengths are in bytes and must be multiples of {@link #sectorSize()}.
 *
 * <p>Since 1.1 the interface also carries the contract shared storage needs: a stable
 * {@link #identity()}, optional {@link #compareAndWrite atomic compare-and-write} and
 * {@link #reservations() persistent reservations}, and a {@link #state() state} that can
 * be followed. They are all default methods, so a driver built against 1.0 keeps working:
 * it reports no identity, is always {@link DeviceState#ONLINE} and answers
 * {@code UNSUPPORTED} to the optional operations.
 */
@ConsumerType
public interface BlockDevice extends StorageDevice {
    /** @return the size in bytes */
    long size();

    /** @return the logical sector size in bytes (512 or 4096) */
    int sectorSize();

    /**
     * Reads {@code dst.remaining()} bytes at {@code offset}, filling the buffer.
     *
     * @throws StorageException {@code OUT_OF_RANGE}, {@code INVALID_ARGUMENT} for unaligned
     *         requests, {@code IO_ERROR}, {@code DEVICE_UNAVAILABLE} (also when the I/O did not
     *         complete within the time limit the driver was given)
     */
    void read(ByteBuffer dst, long offset);

    /**
     * Writes all of {@code src} at {@code offset}.
     *
     * @throws StorageException as {@link #read}, plus {@code READ_ONLY}
     */
    void write(ByteBuffer src, long offset);

    /**
     * Starts {@link #read} and returns without waiting for the device, so that one thread can
     * keep many requests under way on a device whose requests are round trips (a SAN LUN). The
     * future completes when the bytes are in {@code dst} (its position then at its limit) or
     * with the exception {@code read} would throw. The caller leaves the buffer alone until
     * then. The future may complete on the driver's I/O thread (an iSCSI session's event loop):
     * what the caller chains to it must not block.
     *
     * <p>Errors of the request itself (range, alignment, a closed handle) may also be thrown
     * at once. The default reads in the calling thread and returns a completed future, which
     * is right for a device whose reads are served from local memory or disk.
     *
     * @param dst where the bytes go; a direct buffer spares a driver a copy
     * @param offset where to read, sector aligned
     * @return completes when the read is done
     * @since 1.2
     */
    default CompletableFuture<Void> readAsync(ByteBuffer dst, long offset) {
        try {
            read(dst, offset);
            return CompletableFuture.completedFuture(null);
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    /**
     * Starts {@link #write} and returns without waiting for the device; the future completes
     * when the device has taken the bytes (not durable before a {@link #flush}), with the
     * position of {@code src} at its limit. Threads and errors as {@link #readAsync}.
     *
     * @param src the bytes to write, left alone by the caller until the future completes
     * @param offset where to write, sector aligned
     * @return completes when the write is done
     * @since 1.2
     */
    default CompletableFuture<Void> writeAsync(ByteBuffer src, long offset) {
        try {
            write(src, offset);
            return CompletableFuture.completedFuture(null);
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    /**
     * {@link #write} issued only while {@code fence} passes: the driver runs {@code fence.check()}
     * at the last moment before the bytes leave the host (just before the system call, before
     * each send or resend of the command), so that a write that waited in a queue, or whose
     * thread was stopped, is not issued once the host lost the right to write. A write refused
     * by the fence is not issued at all and throws what the fence threw.
     *
     * <p>The default checks once, then writes: correct for a driver that issues the write in the
     * calling thread at once. A driver that queues writes or retries them overrides it.
     *
     * @param src the bytes to write
     * @param offset where to write, sector aligned
     * @param fence checked before the write is issued (and before each reissue)
     * @throws StorageException as {@link #write}, or what {@code fence} threw
     * @since 1.4
     */
    default void write(ByteBuffer src, long offset, WriteFence fence) {
        fence.check();
        write(src, offset);
    }

    /**
     * {@link #writeAsync} with the {@code fence} of {@link #write(ByteBuffer, long, WriteFence)}:
     * a refusal completes the future with what the fence threw, and the write is not issued.
     *
     * @param src the bytes to write, left alone by the caller until the future completes
     * @param offset where to write, sector aligned
     * @param fence checked before the write is issued (and before each reissue)
     * @return completes when the write is done
     * @since 1.4
     */
    default CompletableFuture<Void> writeAsync(ByteBuffer src, long offset, WriteFence fence) {
        try {
            fence.check();
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
        return writeAsync(src, offset);
    }

    /**
     * Makes every completed write durable.
     *
     * @throws StorageException {@code IO_ERROR}, {@code DEVICE_UNAVAILABLE}
     */
    void flush();

    /**
     * Writes all of {@code src} at {@code offset} and returns once these bytes are durable,
     * without waiting for other writes to become durable: a SCSI WRITE with the FUA bit, a
     * write through an {@code O_DSYNC} descriptor. Small records that must be durable at
     * once while the device carries other traffic (the heartbeats and lease records of a
     * shared datastore) use it, so that their latency does not grow with the amount of data
     * other writers left in a write-back cache. Writes completed earlier are not made durable
     * by it; ordering against them needs {@link #flush()}.
     *
     * <p>The default writes, then {@link #flush() flushes} the whole device: correct, only
     * slower.
     *
     * @param src the bytes to write
     * @param offset where to write, sector aligned
     * @throws StorageException as {@link #write}
     * @since 1.3
     */
    default void writeThrough(ByteBuffer src, long offset) {
        write(src, offset);
        flush();
    }

    /**
     * Tells the device a range is no longer used.
     *
     * @throws StorageException {@code UNSUPPORTED} when the device lacks
     *         {@link io.strata.api.Capability#DEVICE_UNMAP}
     */
    void unmap(long offset, long length);

    /**
     * The identity of the storage behind this device: the same for every path to the
     * same LUN and across reboots, renames of kernel devices and re-plugging, different
     * for every other LUN. Layers above record it (the ext4 layer writes it into the
     * filesystem it makes) and refuse a device whose identity is not the recorded one.
     *
     * <p>It is an opaque string compared for equality only. Drivers prefix it with what
     * it is made of, e.g. {@code wwid:naa.600140512345678} (the SCSI/NVMe world-wide id),
     * {@code serial:S3Z8NB0K123456}, {@code uuid:…} (a file-backed LUN).
     *
     * @return the identity, or empty when the driver cannot tell (drivers built before 1.1)
     * @since 1.1
     */
    default Optional<String> identity() {
        return Optional.empty();
    }

    /**
     * Atomically compares the bytes at {@code offset} with {@code expected} and, only if
     * they are equal, writes {@code src} there (SCSI COMPARE AND WRITE, VMware's ATS).
     * Both buffers have the same number of remaining bytes, a multiple of the sector size.
     *
     * @param expected the bytes the range must hold
     * @param src the bytes to write when it does
     * @param offset where, sector aligned
     * @return true when written, false on a miscompare (nothing written)
     * @throws StorageException {@code UNSUPPORTED} when the device lacks
     *         {@link io.strata.api.Capability#COMPARE_AND_WRITE} (the default), otherwise as
     *         {@link #write}
     * @since 1.1
     */
    default boolean compareAndWrite(ByteBuffer expected, ByteBuffer src, long offset) {
        throw new StorageException(ErrorCode.UNSUPPORTED, "device " + info().ref() + " does not support compare-and-write");
    }

    /**
     * @return the device's persistent reservations
     * @throws StorageException {@code UNSUPPORTED} when the device lacks
     *         {@link io.strata.api.Capability#PERSISTENT_RESERVATIONS} (the default)
     * @since 1.1
     */
    default PersistentReservations reservations() {
        throw new StorageException(ErrorCode.UNSUPPORTED,
                "device " + info().ref() + " does not support persistent reservations");
    }

    /**
     * The device's state as far as the driver can tell now. A driver that watches its
     * devices may check cheaply here (the local driver looks whether the node or file is
     * still there); it never blocks on the device.
     *
     * @return the state; always {@link DeviceState#ONLINE} for drivers built before 1.1
     * @since 1.1
     */
    default DeviceState state() {
        return DeviceState.ONLINE;
    }

    /**
     * Follows the state. The listener is called with the new state on every change the
     * driver notices (during I/O or a {@link #state()} call), on the thread that noticed
     * it or on a notifier thread of the driver (the multipath layer calls listeners in order
     * on one such thread, so that a path's I/O thread never runs them); it must return
     * quickly and not block. It is not called for the state at
     * registration: read {@link #state()} after registering. No call after the
     * subscription or the device is closed.
     *
     * @param listener called with each new state
     * @return closes the registration
     * @since 1.1
     */
    default Subscription addStateListener(Consumer<DeviceState> listener) {
        Objects.requireNonNull(listener, "listener");
        return () -> {
            // the default state never changes
        };
    }
}

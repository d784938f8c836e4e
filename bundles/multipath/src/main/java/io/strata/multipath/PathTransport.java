package io.strata.multipath;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.device.PersistentReservations;
import io.strata.api.device.WriteFence;
import java.nio.ByteBuffer;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import org.osgi.annotation.versioning.ConsumerType;

/**
 * One path to one LUN, as a driver provides it: an iSCSI session through one portal, or one
 * Fibre Channel SCSI disk node. Every method may be called from many threads at once.
 *
 * <p>Failures come in two kinds. {@link PathFailedException}: the path failed (connection
 * lost, command timed out, port down); the multipath layer marks the path failed and retries
 * the command on another path. {@link StorageException}: the device answered with an error
 * (out of range, medium error, reservation conflict, unsupported); it is returned to the
 * caller as it is.
 */
@ConsumerType
public interface PathTransport extends AutoCloseable {
    /** @return the path's id, unique within its resource, e.g. {@code 127.0.0.1:3260/lun1} */
    String id();

    /** @return where it goes, for people: {@code iscsi 127.0.0.1:3260 iqn...} */
    String transport();

    /** @return the identity of the LUN it reaches ({@code wwid:naa.…}); equal for every path to that LUN */
    String identity();

    /** @return the LUN's size in bytes */
    long size();

    /** @return the LUN's logical sector size */
    int sectorSize();

    /** Reads {@code dst.remaining()} bytes at {@code offset} (sector aligned). */
    void read(ByteBuffer dst, long offset);

    /** Writes all of {@code src} at {@code offset} (sector aligned). */
    void write(ByteBuffer src, long offset);

    /**
     * Starts {@link #read} without waiting: the future completes with nothing when the bytes
     * are in {@code dst}, or with the {@link PathFailedException} or {@link StorageException}
     * {@code read} would throw; it may complete on the driver's I/O thread. The default reads
     * at once in the calling thread.
     *
     * @since 1.1
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
     * Starts {@link #write} without waiting, as {@link #readAsync}.
     *
     * @since 1.1
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
     * {@link #write}, issued only while {@code fence} passes, as
     * {@link io.strata.api.device.BlockDevice#write(ByteBuffer, long, WriteFence)}: a path that
     * sends the write later than the call (a queue, its own retries) checks the fence right
     * before each send. The default checks, then writes.
     *
     * @since 1.3
     */
    default void write(ByteBuffer src, long offset, WriteFence fence) {
        fence.check();
        write(src, offset);
    }

    /**
     * {@link #writeAsync} with the {@code fence} of {@link #write(ByteBuffer, long, WriteFence)}.
     * The default checks, then starts the write.
     *
     * @since 1.3
     */
    default CompletableFuture<Void> writeAsync(ByteBuffer src, long offset, WriteFence fence) {
        try {
            fence.check();
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
        return writeAsync(src, offset);
    }

    /** Makes completed writes durable (SYNCHRONIZE CACHE). */
    void flush();

    /**
     * Writes {@code src} and returns once it is durable, as
     * {@link io.strata.api.device.BlockDevice#writeThrough} (a WRITE with FUA where the LUN has
     * it). The default writes, then {@link #flush() flushes}.
     *
     * @since 1.2
     */
    default void writeThrough(ByteBuffer src, long offset) {
        write(src, offset);
        flush();
    }

    /** @return whether {@link #unmap} works on this LUN (probed, not just advertised) */
    default boolean canUnmap() {
        return false;
    }

    /** Deallocates a range (UNMAP or WRITE SAME with the unmap bit). */
    default void unmap(long offset, long length) {
        throw new StorageException(ErrorCode.UNSUPPORTED, "path " + id() + " cannot unmap");
    }

    /** @return whether {@link #compareAndWrite} works on this LUN (probed) */
    default boolean canCompareAndWrite() {
        return false;
    }

    /** SCSI COMPARE AND WRITE: true when written, false on a miscompare. */
    default boolean compareAndWrite(ByteBuffer expected, ByteBuffer src, long offset) {
        throw new StorageException(ErrorCode.UNSUPPORTED, "path " + id() + " has no compare-and-write");
    }

    /** @return persistent reservations through this path, when the LUN has them */
    default Optional<PersistentReservations> reservations() {
        return Optional.empty();
    }

    /**
     * Checks the path without moving data (TEST UNIT READY, or reading a port's state).
     *
     * @throws PathFailedException when the path does not work
     */
    void check();

    /**
     * Re-establishes a failed path (a new login). Called by the multipath layer only, from
     * its checker: drivers do not reconnect behind its back.
     *
     * @throws PathFailedException when it cannot
     */
    default void reconnect() {
        check();
    }

    /** Closes the path's connection. Never throws. */
    @Override
    void close();
}

package io.strata.api.fs;

import io.strata.api.StorageException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Optional;
import org.osgi.annotation.versioning.ConsumerType;

/**
 * An open file in a datastore, with positional I/O. Safe for concurrent use
 * by several threads at distinct ranges.
 *
 * <p>Filesystem layers implement it ({@link ConsumerType}): a later 1.x may add only
 * default methods, so a layer built against 1.x keeps resolving.
 */
@ConsumerType
public interface DatastoreFile extends AutoCloseable {
    /** @return the file name within its datastore */
    String name();

    /** @return whether writes are allowed */
    boolean writable();

    /** @return the size in bytes */
    long size();

    /** @return bytes actually allocated on the device (less than {@link #size()} when sparse) */
    long allocatedBytes();

    /**
     * Reads from {@code position} until {@code dst} is full or the end of the file.
     *
     * @return the number of bytes read; fewer than requested only at end of file
     * @throws StorageException {@code IO_ERROR}, {@code DEVICE_UNAVAILABLE}
     */
    int read(ByteBuffer dst, long position);

    /**
     * Writes all of {@code src} at {@code position}, extending the file if needed.
     *
     * @throws StorageException {@code READ_ONLY}, {@code DATASTORE_FULL}, {@code IO_ERROR},
     *         {@code DEVICE_UNAVAILABLE}
     */
    void write(ByteBuffer src, long position);

    /**
     * Truncates or extends the file; extension leaves a sparse hole where the
     * datastore has {@link io.strata.api.Capability#SPARSE_FILES}.
     *
     * @throws StorageException {@code READ_ONLY}, {@code DATASTORE_FULL}, {@code IO_ERROR}
     */
    void setSize(long size);

    /**
     * Reserves space for a range without writing it; the range reads as zeros.
     *
     * @throws StorageException {@code UNSUPPORTED} without
     *         {@link io.strata.api.Capability#PREALLOCATE}, {@code DATASTORE_FULL}
     */
    void allocate(long position, long length);

    /**
     * Deallocates a range; it reads as zeros afterwards and the file size is unchanged.
     *
     * @throws StorageException {@code UNSUPPORTED} without
     *         {@link io.strata.api.Capability#PUNCH_HOLE}
     */
    void punchHole(long position, long length);

    /**
     * Makes every completed write and size change durable (fsync).
     *
     * @throws StorageException {@code IO_ERROR}, {@code DEVICE_UNAVAILABLE}
     */
    void flush();

    /**
     * Takes a lock on the whole file, without waiting.
     *
     * @param exclusive exclusive (writer) or shared (reader) lock
     * @return the lock; closing it releases it
     * @throws StorageException {@code LOCKED} when another holder conflicts,
     *         {@code UNSUPPORTED} without {@link io.strata.api.Capability#FILE_LOCKS}
     */
    AutoCloseable lock(boolean exclusive);

    /** @return the file's path on the host when the datastore has local paths */
    Optional<Path> localPath();

    /**
     * A range of the file that can be sent without copying it through the Java heap.
     * The slice reads the file's bytes at the time it is sent.
     *
     * @param position where the range starts
     * @param length its length
     * @return the slice, or empty when this file cannot send directly (the default) or the
     *         range is not inside the file; the caller then uses {@link #read}
     * @since 1.1
     */
    default Optional<FileSlice> slice(long position, long length) {
        return Optional.empty();
    }

    /**
     * Whether I/O to this file waits on a round trip to shared storage (a file of a clustered
     * filesystem on a network LUN, of a NAS): each request is slow but many can be under way at
     * once, so a server in front of a disk on this file (the NBD export) gains by serving a
     * client's requests concurrently instead of one after the other. Files on local storage
     * answer false (the default).
     *
     * @return true when concurrent requests are worth their cost
     * @since 1.2
     */
    default boolean concurrentIo() {
        return false;
    }

    /** Closes the file. Never throws. */
    @Override
    void close();
}

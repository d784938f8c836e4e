package io.strata.api.fs;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
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
     * Reads from {@code position} into {@code dsts}, one after the other, until all are full or
     * the end of the file. A local file does it in one scattering system call; the default
     * reads them one by one.
     *
     * @return the number of bytes read; fewer than requested only at end of file
     * @throws StorageException as {@link #read(ByteBuffer, long)}
     * @since 1.4
     */
    default long read(ByteBuffer[] dsts, long position) {
        long total = 0;
        for (ByteBuffer b : dsts) {
            total += read(b, position + total);
            if (b.hasRemaining()) {
                break; // the end of the file
            }
        }
        return total;
    }

    /**
     * Writes all of {@code src} at {@code position}, extending the file if needed.
     *
     * @throws StorageException {@code READ_ONLY}, {@code DATASTORE_FULL}, {@code IO_ERROR},
     *         {@code DEVICE_UNAVAILABLE}
     */
    void write(ByteBuffer src, long position);

    /**
     * Writes all of {@code srcs}, one after the other, from {@code position}, as one write of
     * their concatenation. A local file does it in one gathering system call; the default
     * writes them one by one.
     *
     * @throws StorageException as {@link #write(ByteBuffer, long)}
     * @since 1.4
     */
    default void write(ByteBuffer[] srcs, long position) {
        long pos = position;
        for (ByteBuffer b : srcs) {
            int len = b.remaining();
            write(b, pos);
            pos += len;
        }
    }

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
     * Writes all of {@code src} at {@code position} and returns once these bytes are durable,
     * without making the file's other writes durable: what a lease record written every few
     * seconds into a file that also holds a guest's data needs (a whole-file flush there
     * would write back everything the guest wrote meanwhile). A NAS file sends it as a
     * FILE_SYNC write; the default writes, then {@link #flush() flushes} the whole file.
     *
     * @throws StorageException as {@link #write} and {@link #flush}
     * @since 1.3
     */
    default void writeThrough(ByteBuffer src, long position) {
        write(src, position);
        flush();
    }

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
     * A range of the file to write into in place (see {@link FileWindow}), offered only where
     * writing it cannot fail for want of space: every byte of the range is inside the file and
     * already allocated, so no page of it needs a block when it is written.
     *
     * @param position where the range starts
     * @param length its length, at least 1
     * @return the window, or empty when this file cannot offer one (the default) or not for this
     *         range (past the end, a hole, too long); the caller then uses {@link #write}
     * @throws StorageException {@code READ_ONLY}, {@code DEVICE_UNAVAILABLE} as {@link #write}
     * @since 1.5
     */
    default Optional<FileWindow> window(long position, int length) {
        return Optional.empty();
    }

    /**
     * Whether I/O to this file waits on a round trip to shared storage (a file of a clustered
     * filesystem on a network LUN, of a NAS): each request is slow but many can be under way at
     * once, so a server in front of a disk on this file (the NBD export) gains by serving a
     * client's requests concurrently instead of one after the other. A file that answers true
     * starts {@link #readAsync} and {@link #writeAsync} without waiting (where it can; what it
     * cannot, it runs on threads of its own rather than the caller's). Files on local storage
     * answer false (the default).
     *
     * @return true when concurrent requests are worth their cost
     * @since 1.2
     */
    default boolean concurrentIo() {
        return false;
    }

    /**
     * Starts reading {@code dst.remaining()} bytes at {@code position} and returns without waiting
     * where the file can ({@link #concurrentIo}): the future completes when {@code dst} is full
     * (its position then at its limit) or with the exception {@link #read} would throw; a file
     * that ends before {@code dst} is full fails it with {@code IO_ERROR}. The caller leaves
     * {@code dst} alone until then. The future may complete on a device driver's I/O thread:
     * what the caller chains to it must not block. Errors of the request itself may also be
     * thrown at once. The default reads in the calling thread and returns a completed future.
     *
     * @param dst where the bytes go
     * @param position where to read
     * @return completes when the read is done
     * @since 1.2
     */
    default CompletableFuture<Void> readAsync(ByteBuffer dst, long position) {
        try {
            int want = dst.remaining();
            int got = 0;
            while (dst.hasRemaining()) {
                int n = read(dst, position + got);
                if (n <= 0) {
                    throw new StorageException(ErrorCode.IO_ERROR, "file '" + name() + "' ends at "
                            + (position + got) + ", before the " + want + " bytes read at " + position);
                }
                got += n;
            }
            return CompletableFuture.completedFuture(null);
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    /**
     * Starts {@link #write} as {@link #readAsync} starts a read: the future completes when the
     * file has taken the bytes (durable only after a {@link #flush}), with the position of
     * {@code src} at its limit, or with the exception {@code write} would throw. The default
     * writes in the calling thread and returns a completed future.
     *
     * @param src the bytes to write, left alone by the caller until the future completes
     * @param position where to write
     * @return completes when the write is done
     * @since 1.2
     */
    default CompletableFuture<Void> writeAsync(ByteBuffer src, long position) {
        try {
            write(src, position);
            return CompletableFuture.completedFuture(null);
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    /** Closes the file. Never throws. */
    @Override
    void close();
}

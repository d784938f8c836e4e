package io.strata.api.format;

import io.strata.api.StorageException;
import java.nio.ByteBuffer;
import io.strata.api.ErrorCode;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import org.osgi.annotation.versioning.ConsumerType;

/**
 * An open virtual disk: the guest's view of an image. Offsets are bytes from the
 * start of the disk; any alignment is accepted. Safe for concurrent use by several
 * threads. Every method throws {@code OUT_OF_RANGE} for a range past
 * {@link #virtualSize()}, {@code DEVICE_UNAVAILABLE} when the underlying datastore
 * went away, and {@code IO_ERROR} when storage fails.
 *
 * <p>Disk formats implement it ({@link ConsumerType}): a later 1.x may add only
 * default methods, so a format built against 1.x keeps resolving.
 */
@ConsumerType
public interface VirtualDisk extends AutoCloseable {
    /** @return the format type */
    String format();

    /** @return the size the guest sees, in bytes */
    long virtualSize();

    /** @return how the disk is provisioned */
    Provisioning provisioning();

    /** @return whether writes are refused */
    boolean readOnly();

    /** Reads {@code dst.remaining()} bytes at {@code offset}; never-written ranges read as zeros. */
    void read(ByteBuffer dst, long offset);

    /**
     * Fills {@code dsts}, one after the other, from {@code offset}: one read of their total
     * length, in one call where the format can (a raw image: one scattering system call). The
     * default checks the whole range ({@code OUT_OF_RANGE} before any buffer is filled), then
     * reads them one by one.
     *
     * @throws StorageException as {@link #read(ByteBuffer, long)}
     * @since 1.5
     */
    default void read(ByteBuffer[] dsts, long offset) {
        io.strata.api.Bounds.checkRange(offset, remaining(dsts), virtualSize(), "read");
        long pos = offset;
        for (ByteBuffer b : dsts) {
            int len = b.remaining();
            read(b, pos);
            pos += len;
        }
    }

    /**
     * Writes all of {@code src} at {@code offset}.
     *
     * @throws StorageException also {@code READ_ONLY}, {@code DATASTORE_FULL}
     */
    void write(ByteBuffer src, long offset);

    /**
     * Writes all of {@code srcs}, one after the other, from {@code offset}: one write of their
     * concatenation, so that a payload that arrived in several buffers reaches the image in one
     * call where the format can (a raw image: one gathering system call). The default checks
     * the whole range ({@code OUT_OF_RANGE} before anything is written), then writes them one
     * by one.
     *
     * @throws StorageException as {@link #write(ByteBuffer, long)}
     * @since 1.5
     */
    default void write(ByteBuffer[] srcs, long offset) {
        // the whole range first: a write past the end changes nothing, not its first buffers
        io.strata.api.Bounds.checkRange(offset, remaining(srcs), virtualSize(), "write");
        long pos = offset;
        for (ByteBuffer b : srcs) {
            int len = b.remaining();
            write(b, pos);
            pos += len;
        }
    }

    /**
     * Starts {@link #read} and returns without waiting when the disk can ({@link #concurrentIo}):
     * the future completes when the bytes are in {@code dst} (its position at its limit) or
     * with the exception {@code read} would throw. The caller leaves the buffer alone until
     * then; what it chains to the future may run on a driver's I/O thread and must not block.
     * Errors found before the read starts (range, a closed or unavailable volume) may also be
     * thrown at once. The default reads in the calling thread and returns a completed future.
     *
     * @param dst where the bytes go
     * @param offset the virtual offset
     * @return completes when the read is done
     * @since 1.4
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
     * Starts {@link #write} as {@link #readAsync} starts a read; the future completes when the
     * write is done (durable only after a {@link #flush}).
     *
     * @param src the bytes, left alone by the caller until the future completes
     * @param offset the virtual offset
     * @return completes when the write is done
     * @since 1.4
     */
    default CompletableFuture<Void> writeAsync(ByteBuffer src, long offset) {
        try {
            write(src, offset);
            return CompletableFuture.completedFuture(null);
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    /** Makes every completed write durable, data before the metadata that points at it. */
    void flush();

    /**
     * Writes zeros over a range. Formats that can mark a range as zero without
     * writing it do so; the default writes zero buffers.
     */
    default void writeZeroes(long offset, long length) {
        ByteBuffer zeros = ByteBuffer.allocate((int) Math.min(length, 1 << 20));
        long done = 0;
        while (done < length) {
            zeros.clear();
            zeros.limit((int) Math.min(zeros.capacity(), length - done));
            write(zeros, offset + done);
            done += zeros.limit();
        }
    }

    /**
     * Tells the disk a range is no longer used. The range reads as zeros afterwards.
     *
     * @throws StorageException {@code UNSUPPORTED} when the format does not trim
     */
    void trim(long offset, long length);

    /**
     * @return allocation runs covering {@code [offset, offset+length)} in order
     */
    List<Extent> blockStatus(long offset, long length);

    /**
     * Changes the virtual size. Growing is supported by every format that declares
     * {@link io.strata.api.Capability#RESIZE}; shrinking is refused with {@code INVALID_SIZE}.
     */
    void resize(long newSize);

    /** @return bytes the image occupies on the datastore */
    long allocatedBytes();

    /**
     * Whether this disk's I/O waits on a round trip (a LUN over the network, a NAS): each
     * request is slow but many can be under way at once, so a server in front of it (the NBD
     * export) gains by issuing a client's requests concurrently instead of one after the other.
     * A disk that answers true starts reads and writes in {@link #readAsync} and
     * {@link #writeAsync} without waiting for them, except where it says otherwise (a mapped
     * LUN's requests that are not sector aligned). Disks on local files answer false (the
     * default): their requests are served fastest in order, batched.
     *
     * @return true when concurrent requests are worth their cost
     * @since 1.4
     */
    default boolean concurrentIo() {
        return false;
    }

    /**
     * Where {@code length} bytes at {@code offset} are, when they are stored contiguously in
     * one file of the chain (an allocated block of this image, or of a parent where this one
     * has none of the range), so that a front end can send them without copying them through
     * the heap. What the slice sends is what {@link #read} returns for the range now, as long
     * as nothing writes or trims the range before it is sent (a request racing with a write
     * to the same range sees either, as with {@code read}). Range and state checks are those
     * of {@code read}, and its errors are thrown here, before anything is sent.
     *
     * @param offset the virtual offset
     * @param length the number of bytes, at least 1
     * @return the slice, or empty when the bytes are not in one run of one file (unallocated,
     *         partly in a parent, split across blocks) or the format cannot tell (the default);
     *         the caller then uses {@code read}
     * @throws io.strata.api.StorageException as {@link #read}
     * @since 1.3
     */
    default Optional<io.strata.api.fs.FileSlice> slice(long offset, int length) {
        return Optional.empty();
    }

    /**
     * Where a write of {@code length} bytes at {@code offset} can be put in place: the range is
     * stored contiguously in this image's own file, already allocated there, so the front end
     * may read a client's payload straight into the file's pages ({@link
     * io.strata.api.fs.FileWindow}) instead of into a buffer it then writes. Filling the window
     * and closing it is a {@link #write} of the range; until it is closed, the volume counts
     * the write as under way. Range and state checks are those of {@code write}, and its
     * errors are thrown here, before anything is written.
     *
     * @param offset the virtual offset
     * @param length the number of bytes, at least 1
     * @return the window, or empty when the range is not one allocated run of this image's file
     *         (a hole, a block not yet allocated, a format with metadata to update on a write)
     *         or the format cannot tell (the default); the caller then uses {@code write}
     * @throws io.strata.api.StorageException as {@link #write(ByteBuffer, long)}
     * @since 1.6
     */
    default Optional<io.strata.api.fs.FileWindow> window(long offset, int length) {
        return Optional.empty();
    }

    /** @return the parent's file name as this image records it, or empty for an image without a parent */
    default Optional<String> backingFile() {
        return Optional.empty();
    }

    /** @return the number of images in the chain, this one included (1 without a parent) */
    default int chainLength() {
        return 1;
    }

    /**
     * Like {@link #blockStatus} but for this image alone: a range is allocated when this
     * image holds its data, whatever the backing chain holds. Used to copy or merge layers.
     */
    default List<Extent> layerStatus(long offset, long length) {
        return blockStatus(offset, length);
    }

    /**
     * Copies data from the backing chain into this image for every part of the range this
     * image does not hold yet, so that the range no longer depends on the chain (QEMU calls
     * this streaming). What the disk reads does not change. Safe against concurrent guest
     * writes to the same range: a sector the guest wrote is never overwritten with older data.
     *
     * @throws StorageException {@code UNSUPPORTED} for a format without chains
     */
    default void populate(long offset, long length) {
        throw new StorageException(ErrorCode.UNSUPPORTED, "the " + format() + " format has no backing chains");
    }

    /**
     * Points this image at another parent (or none) without copying data. The caller
     * guarantees the new chain reads the same as the old one for every range this image
     * does not hold (after {@link #populate} or a merge); the format rewrites only its
     * parent link and identity, durably, in one atomic metadata update.
     *
     * @param parentFile the new parent's file name, or null to make the image standalone
     * @param backing resolves the new parent
     * @throws StorageException {@code UNSUPPORTED}, {@code CHAIN_BROKEN}
     */
    default void rebase(String parentFile, BackingResolver backing) {
        throw new StorageException(ErrorCode.UNSUPPORTED, "the " + format() + " format has no backing chains");
    }

    /**
     * Frees every block of this image that reads as zeros (and, in a child, whose parent
     * also reads as zeros there) and compacts the file. The caller holds the disk alone.
     *
     * @return bytes returned to the datastore
     * @throws StorageException {@code UNSUPPORTED} without {@link io.strata.api.Capability#RECLAIM}
     */
    default long reclaim() {
        throw new StorageException(ErrorCode.UNSUPPORTED, "the " + format() + " format cannot reclaim space");
    }

    /** Closes the disk. Never throws; does flush. */
    @Override
    void close();

    /** The bytes left in all of {@code bufs}. */
    private static long remaining(ByteBuffer[] bufs) {
        long n = 0;
        for (ByteBuffer b : bufs) {
            n += b.remaining();
        }
        return n;
    }
}

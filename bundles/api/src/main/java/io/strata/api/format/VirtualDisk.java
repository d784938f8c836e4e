package io.strata.api.format;

import io.strata.api.StorageException;
import java.nio.ByteBuffer;
import java.util.List;
import org.osgi.annotation.versioning.ProviderType;

/**
 * An open virtual disk: the guest's view of an image. Offsets are bytes from the
 * start of the disk; any alignment is accepted. Safe for concurrent use by several
 * threads. Every method throws {@code OUT_OF_RANGE} for a range past
 * {@link #virtualSize()}, {@code DEVICE_UNAVAILABLE} when the underlying datastore
 * went away, and {@code IO_ERROR} when storage fails.
 */
@ProviderType
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
     * Writes all of {@code src} at {@code offset}.
     *
     * @throws StorageException also {@code READ_ONLY}, {@code DATASTORE_FULL}
     */
    void write(ByteBuffer src, long offset);

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

    /** Closes the disk. Never throws; does flush. */
    @Override
    void close();
}

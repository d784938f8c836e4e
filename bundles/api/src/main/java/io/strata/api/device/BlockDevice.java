package io.strata.api.device;

import io.strata.api.StorageException;
import java.nio.ByteBuffer;
import org.osgi.annotation.versioning.ProviderType;

/**
 * A block device: a LUN, a local disk or a file-backed LUN. Offsets and
 * lengths are in bytes and must be multiples of {@link #sectorSize()}.
 */
@ProviderType
public interface BlockDevice extends StorageDevice {
    /** @return the size in bytes */
    long size();

    /** @return the logical sector size in bytes (512 or 4096) */
    int sectorSize();

    /**
     * Reads {@code dst.remaining()} bytes at {@code offset}, filling the buffer.
     *
     * @throws StorageException {@code OUT_OF_RANGE}, {@code INVALID_ARGUMENT} for unaligned
     *         requests, {@code IO_ERROR}, {@code DEVICE_UNAVAILABLE}
     */
    void read(ByteBuffer dst, long offset);

    /**
     * Writes all of {@code src} at {@code offset}.
     *
     * @throws StorageException as {@link #read}, plus {@code READ_ONLY}
     */
    void write(ByteBuffer src, long offset);

    /**
     * Makes every completed write durable.
     *
     * @throws StorageException {@code IO_ERROR}, {@code DEVICE_UNAVAILABLE}
     */
    void flush();

    /**
     * Tells the device a range is no longer used.
     *
     * @throws StorageException {@code UNSUPPORTED} when the device lacks
     *         {@link io.strata.api.Capability#DEVICE_UNMAP}
     */
    void unmap(long offset, long length);
}

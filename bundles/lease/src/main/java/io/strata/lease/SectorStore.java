package io.strata.lease;

import java.nio.ByteBuffer;
import org.osgi.annotation.versioning.ConsumerType;

/**
 * The storage a lockspace lives on: a region of a block device or a file of a shared
 * filesystem, read and written in whole, aligned sectors. Nothing else is asked of it:
 * no compare-and-write, no byte-range locks, no ordering between hosts beyond "a write
 * that returned is seen by every later read, on any host".
 */
@ConsumerType
public interface SectorStore extends AutoCloseable {
    /** @return the sector size in bytes (512 or 4096); every I/O is a whole number of sectors */
    int sectorSize();

    /** @return the number of sectors in the region */
    long sectors();

    /**
     * Reads whole sectors from {@code sector} until {@code dst} is full.
     *
     * @param sector the first sector, counted from the start of the region
     * @param dst a buffer whose remaining length is a multiple of {@link #sectorSize()}
     * @throws io.strata.api.StorageException {@code IO_ERROR}, {@code DEVICE_UNAVAILABLE},
     *         {@code OUT_OF_RANGE}, {@code INVALID_ARGUMENT} for a partial sector
     */
    void read(long sector, ByteBuffer dst);

    /**
     * Writes whole sectors at {@code sector}; durable and visible to every host when it returns.
     *
     * @param sector the first sector, counted from the start of the region
     * @param src a buffer whose remaining length is a multiple of {@link #sectorSize()}
     * @throws io.strata.api.StorageException as {@link #read}
     */
    void write(long sector, ByteBuffer src);

    /** Releases the region. Never throws. */
    @Override
    void close();
}

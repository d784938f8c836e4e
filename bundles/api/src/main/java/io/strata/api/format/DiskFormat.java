package io.strata.api.format;

import io.strata.api.Capability;
import io.strata.api.StorageException;
import io.strata.api.fs.DatastoreFile;
import java.util.Set;
import org.osgi.annotation.versioning.ConsumerType;

/**
 * A disk format (raw, vhd, qcow2). Registered as an OSGi service with the
 * property {@value #TYPE_PROPERTY} set to {@link #type()}.
 */
@ConsumerType
public interface DiskFormat {
    /** The service property naming the format type. */
    String TYPE_PROPERTY = "storage.format";

    /** @return the type key, e.g. {@code vhd}; lower case, stable */
    String type();

    /** @return one line describing the format */
    String description();

    /** @return which provisioning types and features the format supports */
    Set<Capability> capabilities();

    /** @return the file name extension without dot, e.g. {@code vhd} */
    String fileExtension();

    /** @return the largest virtual size the format can address, in bytes */
    long maxVirtualSize();

    /**
     * Cheap check of magic numbers, used to detect the format of an image on import.
     * A format that has no magic (raw) answers false.
     *
     * @return whether the file looks like an image of this format
     */
    boolean recognizes(DatastoreFile file);

    /**
     * Validates an image without changing it.
     *
     * @return what the image is
     * @throws StorageException {@code CORRUPT_IMAGE} naming the problem
     */
    ImageInfo probe(DatastoreFile file);

    /**
     * Writes a new image into an empty file. On failure the caller deletes the file.
     * Does not flush; the caller flushes before publishing the volume.
     *
     * @return the new disk, open for writing
     * @throws StorageException {@code INVALID_SIZE}, {@code SIZE_TOO_LARGE} (message says
     *         which format to use instead), {@code UNSUPPORTED} for a provisioning type the
     *         format or the datastore cannot do, {@code DATASTORE_FULL}, {@code IO_ERROR}
     */
    VirtualDisk create(DatastoreFile file, DiskSpec spec);

    /**
     * Opens an existing image after validating its metadata. Opening never writes.
     *
     * @param readOnly whether writes are refused
     * @throws StorageException {@code CORRUPT_IMAGE} naming the problem
     */
    VirtualDisk open(DatastoreFile file, boolean readOnly);
}

package io.strata.api.format;

import io.strata.api.Capability;
import io.strata.api.StorageException;
import io.strata.api.fs.DatastoreFile;
import java.util.Optional;
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

    /**
     * Opens an image together with its backing chain. Every backing image is opened
     * read-only through {@code backing}; the returned disk reads through the chain and
     * writes only to {@code file}. Formats without chains ignore the resolver.
     *
     * @throws StorageException {@code CORRUPT_IMAGE} naming the problem; {@code CHAIN_BROKEN}
     *         when a parent is missing or is not the image the child was made from;
     *         {@code CHAIN_TOO_LONG} when the chain is longer than the format supports
     */
    default VirtualDisk open(DatastoreFile file, boolean readOnly, BackingResolver backing) {
        return open(file, readOnly);
    }

    /**
     * Writes a new, empty child image into an empty file: a differencing disk (VHD) or an
     * image with a backing file (qcow2) that reads as its parent until written. Constant
     * time whatever the parent's size. Records the parent's identity so that a later open
     * detects a replaced parent.
     *
     * @param parentFile the parent's file name in the same datastore
     * @return the child, open for writing, with its chain
     * @throws StorageException {@code UNSUPPORTED} without {@link io.strata.api.Capability#BACKING_CHAIN},
     *         {@code CHAIN_BROKEN}, {@code CORRUPT_IMAGE} for a damaged parent
     */
    default VirtualDisk createChild(DatastoreFile file, String parentFile, BackingResolver backing) {
        throw new StorageException(io.strata.api.ErrorCode.UNSUPPORTED,
                "the " + type() + " format has no backing chains");
    }

    /**
     * As {@link #createChild(DatastoreFile, String, BackingResolver)}, stacked on a chain the
     * caller already has open (a volume's current chain when a snapshot is taken), so that
     * nothing of the chain is opened again and the time does not grow with the chain's length.
     * The caller must have flushed {@code parent} and must not write to it any more.
     *
     * <p>On success the child owns {@code parent}: closing the child closes it. On failure
     * {@code parent} is left open and still the caller's. The default creates the child
     * through the resolver (opening the chain anew) and then closes {@code parent}.
     *
     * @param parent the open image of {@code parentFile}, with its own chain
     * @return the child, open for writing, over {@code parent}
     * @throws StorageException as {@link #createChild(DatastoreFile, String, BackingResolver)}
     * @since 1.2
     */
    default VirtualDisk createChild(DatastoreFile file, String parentFile, VirtualDisk parent,
            BackingResolver backing) {
        VirtualDisk child = createChild(file, parentFile, backing);
        parent.close();
        return child;
    }

    /**
     * Reads the name of the image's parent without opening the chain.
     *
     * @return the parent's file name as recorded, or empty for an image without a parent
     * @throws StorageException {@code CORRUPT_IMAGE}
     */
    default Optional<String> backingFile(DatastoreFile file) {
        return Optional.empty();
    }

    /**
     * Checks an image's metadata (and its link to its parent) like blktap's vhd-util check
     * or qemu-img check, and repairs what is safely repairable when asked.
     *
     * @param file the image, open writable when {@code repair} is true
     * @param backing resolves the parent for link checks; may be null to skip them
     * @throws StorageException {@code UNSUPPORTED} without {@link io.strata.api.Capability#CHECK}
     */
    default CheckReport check(DatastoreFile file, BackingResolver backing, boolean repair) {
        throw new StorageException(io.strata.api.ErrorCode.UNSUPPORTED,
                "the " + type() + " format has no checker");
    }
}

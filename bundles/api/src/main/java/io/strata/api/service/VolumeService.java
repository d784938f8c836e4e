package io.strata.api.service;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.format.CheckReport;
import io.strata.api.format.Provisioning;
import io.strata.api.format.VirtualDisk;
import java.nio.file.Path;
import java.util.List;
import org.osgi.annotation.versioning.ProviderType;

/**
 * Volumes in datastores. The catalog lives on each datastore, written
 * crash-safely.
 */
@ProviderType
public interface VolumeService {
    /**
     * @param datastore a datastore name, or null for every datastore
     * @return volumes, sorted by datastore then name
     * @throws StorageException {@code DATASTORE_NOT_FOUND}
     */
    List<VolumeInfo> list(String datastore);

    /**
     * @throws StorageException {@code DATASTORE_NOT_FOUND}, {@code VOLUME_NOT_FOUND}
     */
    VolumeInfo info(VolumeRef ref);

    /**
     * Creates a volume. A thick volume that does not fit is refused with
     * {@code DATASTORE_FULL} before anything is written.
     *
     * @param format the format type, e.g. {@code vhd}
     * @throws StorageException {@code ALREADY_EXISTS}, {@code FORMAT_NOT_FOUND},
     *         {@code DATASTORE_FULL}, {@code DEVICE_UNAVAILABLE}, and what the format throws
     */
    VolumeInfo create(VolumeRef ref, long virtualSize, String format, Provisioning provisioning);

    /**
     * Grows a volume.
     *
     * @throws StorageException {@code INVALID_SIZE} for a smaller size, {@code VOLUME_IN_USE},
     *         {@code DATASTORE_FULL} for a thick volume that would not fit
     */
    VolumeInfo resize(VolumeRef ref, long newSize);

    /**
     * Deletes a volume and its image file.
     *
     * @throws StorageException {@code VOLUME_IN_USE} while it is open
     */
    void delete(VolumeRef ref);

    /**
     * Adopts an existing image after validating it. A file already inside the datastore's
     * directory is adopted in place (renamed to the volume's file name); any other file is
     * copied in, keeping holes.
     *
     * @param format the format type, or null to detect it
     * @throws StorageException {@code CORRUPT_IMAGE}, {@code FILE_NOT_FOUND}, {@code ALREADY_EXISTS},
     *         {@code DATASTORE_FULL}
     */
    VolumeInfo importImage(VolumeRef ref, Path source, String format);

    /**
     * Adopts an existing image as {@link #importImage(VolumeRef, Path, String)} does, as a child
     * of a volume already in the datastore. An image that names a backing file or parent
     * (a qcow2 backing file, a differencing VHD) can only be imported this way: the image's own
     * reference is never followed. The child is checked against the named parent (a
     * differencing VHD must carry the parent's identity), its stored backing reference is
     * rewritten to the parent's image in this datastore, and the chain is recorded so that the
     * parent cannot be deleted under it.
     *
     * @param parent {@code volume@snapshot}, or {@code volume} to freeze the volume's current
     *        state in a new snapshot named after the child; null imports a standalone image
     * @throws StorageException as the three-argument form; {@code INVALID_ARGUMENT} for an image
     *         with a backing reference and no parent, {@code CHAIN_BROKEN} when the image was not
     *         made from that parent, {@code VOLUME_NOT_FOUND}, {@code SNAPSHOT_NOT_FOUND},
     *         {@code CHAIN_TOO_LONG}
     * @since 1.3
     */
    default VolumeInfo importImage(VolumeRef ref, Path source, String format, String parent) {
        if (parent == null) {
            return importImage(ref, source, format);
        }
        throw new StorageException(ErrorCode.UNSUPPORTED, "importing an image over a parent volume is not available");
    }

    /**
     * Opens a volume for I/O. While open it is {@link VolumeState#IN_USE}; closing the
     * returned disk releases it. After the datastore goes unavailable, I/O on the handle
     * fails with {@code DEVICE_UNAVAILABLE}.
     *
     * @throws StorageException {@code VOLUME_IN_USE} when opened for writing by someone else
     */
    VirtualDisk open(VolumeRef ref, boolean readOnly);

    /**
     * Clones a volume or one of its snapshots. A linked clone is a child image over the
     * source made read-only (a template), in the same datastore, created in constant time;
     * many clones share one base. A full clone copies the data and may change format and
     * provisioning.
     *
     * @param source the volume to clone
     * @param snapshot a snapshot of the source to clone, or null for its current state
     *        (a linked clone of the current state first takes a snapshot)
     * @param target the new volume
     * @param linked linked or full clone
     * @param format the full clone's format, or null for the source's
     * @param provisioning the full clone's provisioning, or null for the source's
     * @return the new volume
     * @throws StorageException {@code ALREADY_EXISTS}, {@code SNAPSHOT_NOT_FOUND},
     *         {@code INVALID_ARGUMENT} for a linked clone into another datastore,
     *         {@code DATASTORE_FULL}, {@code CHAIN_TOO_LONG}
     */
    default VolumeInfo clone(VolumeRef source, String snapshot, VolumeRef target, boolean linked, String format,
            io.strata.api.format.Provisioning provisioning) {
        throw new StorageException(ErrorCode.UNSUPPORTED, "cloning is not available");
    }

    /**
     * Frees blocks of the volume's current image that read as zeros and compacts it.
     * Refused while the volume is in use.
     *
     * @return bytes returned to the datastore
     * @throws StorageException {@code VOLUME_IN_USE}, {@code UNSUPPORTED} for a format without reclaim
     */
    default long reclaim(VolumeRef ref) {
        throw new StorageException(ErrorCode.UNSUPPORTED, "space reclamation is not available");
    }

    /**
     * Checks every image of the volume's chain, repairing what is safely repairable when asked
     * (repair is refused while the volume is in use).
     *
     * @return one report per image, current image first
     */
    default List<CheckReport> check(VolumeRef ref, boolean repair) {
        throw new StorageException(ErrorCode.UNSUPPORTED, "checking is not available");
    }

    /** @return what the volume shares with others and what is its own */
    default VolumeUsage usage(VolumeRef ref) {
        throw new StorageException(ErrorCode.UNSUPPORTED, "space accounting across chains is not available");
    }

    /**
     * Maps a whole block device (a SAN LUN, a local disk) as a volume: raw device mapping. The
     * volume's bytes are the device's, with no image format and no filesystem between; the
     * datastore keeps only a small mapping file. It can be exported, measured and limited like
     * any volume; snapshots, clones linked to it and resize are refused. Deleting the volume
     * removes the mapping and never touches the device's data.
     *
     * @param ref the new volume
     * @param resource the resource offering the device
     * @param device the device id
     * @return the new volume
     * @throws StorageException {@code RESOURCE_NOT_FOUND}, {@code DEVICE_NOT_FOUND},
     *         {@code INVALID_ARGUMENT} for a file share, {@code RESOURCE_IN_USE} when the device
     *         carries a datastore or is mapped already, {@code ALREADY_EXISTS},
     *         {@code DEVICE_UNAVAILABLE}
     * @since 1.4
     */
    default VolumeInfo mapDevice(VolumeRef ref, String resource, String device) {
        throw new StorageException(io.strata.api.ErrorCode.UNSUPPORTED, "raw device mapping is not available here");
    }
}

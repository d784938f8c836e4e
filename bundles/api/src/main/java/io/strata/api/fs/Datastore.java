package io.strata.api.fs;

import io.strata.api.Capability;
import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.format.CheckReport;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.osgi.annotation.versioning.ConsumerType;

/**
 * A mounted datastore: a flat namespace of files. File names follow
 * {@link io.strata.api.Names#check} except that the datastore's own metadata
 * files may start with {@code .strata}. Every method that takes a name
 * refuses a name with a path separator or {@code ..} with {@code INVALID_NAME}.
 *
 * <p>Filesystem layers implement it ({@link ConsumerType}): a later 1.x may add only
 * default methods, so a layer built against 1.x keeps resolving.
 */
@ConsumerType
public interface Datastore extends AutoCloseable {
    /** @return the datastore name */
    String name();

    /** @return the filesystem layer type */
    String filesystemType();

    /** @return the capabilities of this mounted datastore */
    Set<Capability> capabilities();

    /**
     * @return capacity and free space now
     * @throws StorageException {@code DEVICE_UNAVAILABLE}, {@code IO_ERROR}
     */
    SpaceInfo space();

    /** @return the directory holding the files when they are reachable as local paths */
    Optional<Path> localPath();

    /** @return the names of the files, sorted; temporary files of atomic writes are not listed */
    List<String> list();

    /** @return whether the file exists */
    boolean exists(String name);

    /**
     * @return size and allocation of a file
     * @throws StorageException {@code FILE_NOT_FOUND}
     */
    FileStat stat(String name);

    /**
     * Creates a new empty file, failing if it exists.
     *
     * @return the file, open for reading and writing
     * @throws StorageException {@code ALREADY_EXISTS}, {@code DATASTORE_FULL}, {@code IO_ERROR}
     */
    DatastoreFile create(String name);

    /**
     * Opens an existing file.
     *
     * @throws StorageException {@code FILE_NOT_FOUND}, {@code IO_ERROR}
     */
    DatastoreFile open(String name, boolean writable);

    /**
     * Deletes a file; durable when the method returns.
     *
     * @throws StorageException {@code FILE_NOT_FOUND}, {@code IO_ERROR}
     */
    void delete(String name);

    /**
     * Renames a file atomically, replacing {@code to} if it exists; durable when the method returns.
     *
     * @throws StorageException {@code FILE_NOT_FOUND}, {@code IO_ERROR}
     */
    void rename(String from, String to);

    /**
     * Replaces a whole small file atomically: readers and a crash at any moment see
     * either the old or the new content, never a mix (temporary file, fsync, rename,
     * fsync of the directory).
     *
     * @throws StorageException {@code DATASTORE_FULL}, {@code IO_ERROR}
     */
    void writeAtomically(String name, byte[] content);

    /**
     * Reads a whole small file.
     *
     * @throws StorageException {@code FILE_NOT_FOUND}, {@code IO_ERROR}
     */
    byte[] readAll(String name);

    /**
     * Checks the datastore's filesystem: the layer's own metadata (allocation maps, directory,
     * journal), not the images kept in it, which their formats check.
     *
     * @param repair also fix what the checker can fix safely; the core asks for it only under
     *        its control lock and a catalog transaction (no volume is created or deleted
     *        meanwhile), while open volumes may still be read and written
     * @return what the checker found; its {@code file} names what was checked (the datastore
     *         or the layer's metadata file)
     * @throws StorageException {@code UNSUPPORTED} for a layer without a checker (the default),
     *         {@code VOLUME_IN_USE} when the layer cannot repair while files are open,
     *         {@code DEVICE_UNAVAILABLE}, {@code IO_ERROR}
     * @since 1.2
     */
    default CheckReport check(boolean repair) {
        throw new StorageException(ErrorCode.UNSUPPORTED, "filesystem '" + filesystemType() + "' of datastore '"
                + name() + "' has no checker");
    }

    /**
     * Grows the filesystem to its device's current size (after the LUN or the share was
     * enlarged); does nothing when it already spans the whole device.
     *
     * @return capacity and free space after growing
     * @throws StorageException {@code UNSUPPORTED} for a layer that cannot grow (the default),
     *         {@code DEVICE_UNAVAILABLE}, {@code IO_ERROR}
     * @since 1.2
     */
    default SpaceInfo grow() {
        throw new StorageException(ErrorCode.UNSUPPORTED, "filesystem '" + filesystemType() + "' of datastore '"
                + name() + "' cannot grow");
    }

    /**
     * Facts of the layer for people, in display order, e.g. {@code "block size" -> "1 MiB"} or
     * {@code "hosts" -> "a (slot 0, alive), b (slot 1, dead)"}. Not for programs: keys and
     * values may change between versions of a layer.
     *
     * @return the facts; the default is an empty map
     * @since 1.2
     */
    default Map<String, String> details() {
        return Map.of();
    }

    /**
     * This datastore for a host that may write to it only while {@code fence} passes. A layer
     * whose requests leave the host through its own client (the NFS requests to a NAS export)
     * checks the fence right before each request goes out, and before each resend: a host that
     * stood still (a stopped process, a long pause) after its caller checked its lease, and woke
     * up after the lease expired and another host took the data over, then sends nothing. The
     * core uses the view for all I/O to a shared datastore but its lockspace's own. The view
     * shares the mount with this datastore: closing either closes both.
     *
     * @param fence as {@link io.strata.api.device.BlockDevice#write(java.nio.ByteBuffer, long,
     *        io.strata.api.device.WriteFence)} takes it
     * @return the view; the default is this datastore, for layers that fence through their
     *         device themselves, or whose I/O is one system call right after the caller's check
     *         (a layer with locks or waits of its own between them, as the local directory's
     *         large-write turns, checks again after them)
     * @since 1.6
     */
    default Datastore fenced(io.strata.api.device.WriteFence fence) {
        return this;
    }

    /** Unmounts. Never throws; never deletes data. */
    @Override
    void close();
}

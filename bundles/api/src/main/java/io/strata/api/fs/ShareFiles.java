package io.strata.api.fs;

import io.strata.api.device.DeviceState;
import io.strata.api.device.Subscription;
import java.util.List;
import java.util.function.Consumer;
import org.osgi.annotation.versioning.ConsumerType;

/**
 * The files of a file share that has no path on this host, reached through its driver's own
 * client: a NAS export. A driver's {@link io.strata.api.device.FileShare} device implements it
 * too where it can; a filesystem layer asks with {@code device instanceof ShareFiles}.
 *
 * <p>Paths are relative to the share's root, names separated by {@code /}; {@code ""} is the
 * root. A path with an empty name, {@code .}, {@code ..} or a control character is
 * {@code INVALID_NAME}: nothing outside the share can be named. Calls wait for a server that is
 * away (as a hard mount does) up to the driver's time limit, then fail with
 * {@code DEVICE_UNAVAILABLE}.
 *
 * @since 1.3
 */
@ConsumerType
public interface ShareFiles {
    /**
     * @param directory a directory, {@code ""} for the root
     * @return the names of the regular files in it, sorted
     * @throws io.strata.api.StorageException {@code FILE_NOT_FOUND} when the directory does not exist
     */
    List<String> list(String directory);

    /** @return whether the path names a directory (false when it names nothing) */
    boolean isDirectory(String path);

    /**
     * @return the size and allocation of a regular file
     * @throws io.strata.api.StorageException {@code FILE_NOT_FOUND}
     */
    FileStat stat(String path);

    /**
     * Opens a regular file. Its {@link DatastoreFile#name()} is the path.
     *
     * @throws io.strata.api.StorageException {@code FILE_NOT_FOUND}, {@code PERMISSION_DENIED}
     */
    DatastoreFile open(String path, boolean writable);

    /**
     * Creates an empty regular file and opens it for writing.
     *
     * @param exclusive fail with {@code ALREADY_EXISTS} when the name is taken; otherwise
     *        open what is there, unchanged
     * @throws io.strata.api.StorageException {@code ALREADY_EXISTS}, {@code PERMISSION_DENIED},
     *         {@code READ_ONLY}, {@code DATASTORE_FULL}
     */
    DatastoreFile create(String path, boolean exclusive);

    /**
     * Creates a directory.
     *
     * @throws io.strata.api.StorageException {@code ALREADY_EXISTS}, {@code FILE_NOT_FOUND} (no parent)
     */
    void mkdir(String path);

    /** Deletes a regular file. @throws io.strata.api.StorageException {@code FILE_NOT_FOUND} */
    void delete(String path);

    /** Renames a file, replacing what the target names (atomic on the server). */
    void rename(String from, String to);

    /** @return the capacity and free space of the filesystem that holds the share */
    SpaceInfo space();

    /**
     * @return ONLINE while the server answers, OFFLINE while it does not (requests then wait,
     *         up to the driver's limit)
     */
    DeviceState state();

    /**
     * Follows {@link #state()}, as {@link io.strata.api.device.BlockDevice#addStateListener}
     * does for block devices: called on a thread of the driver with each new state; must not
     * block.
     */
    Subscription addStateListener(Consumer<DeviceState> listener);

    /**
     * These files for a host that may write to the share only while {@code fence} passes: the
     * driver checks it right before each request made through the view (or a file it opened)
     * leaves the host, and before each resend, and refuses the request with what the fence
     * threw. The view shares the connection with this object.
     *
     * @return the view; the default is this object, whose callers then check before each call
     * @since 1.6
     */
    default ShareFiles fenced(io.strata.api.device.WriteFence fence) {
        return this;
    }
}

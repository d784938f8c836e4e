package io.strata.api;

/**
 * The one catalogue of error codes. Names are stable: the shell prints them,
 * the REST API maps them to HTTP statuses, and logs carry them. Add codes at
 * the end; never rename or reuse one.
 */
public enum ErrorCode {
    /** A parameter is malformed or out of range. */
    INVALID_ARGUMENT(400),
    /** A name contains a path separator, {@code ..}, a control character, or is empty or too long. */
    INVALID_NAME(400),
    /** A size is not a whole number of sectors, is zero, or is smaller than the current size where growth is required. */
    INVALID_SIZE(400),
    /** No storage driver of the requested type is installed. */
    DRIVER_NOT_FOUND(404),
    /** No filesystem layer of the requested type is installed. */
    FILESYSTEM_NOT_FOUND(404),
    /** No disk format of the requested type is installed. */
    FORMAT_NOT_FOUND(404),
    /** The named storage resource does not exist. */
    RESOURCE_NOT_FOUND(404),
    /** The named storage device does not exist on its resource. */
    DEVICE_NOT_FOUND(404),
    /** The named datastore does not exist. */
    DATASTORE_NOT_FOUND(404),
    /** The named volume does not exist. */
    VOLUME_NOT_FOUND(404),
    /** A file inside a datastore does not exist. */
    FILE_NOT_FOUND(404),
    /** A resource, datastore, volume or file of that name already exists. */
    ALREADY_EXISTS(409),
    /** The object is used by something else (an open handle, a datastore on a device, a clone on a base). */
    VOLUME_IN_USE(409),
    /** A resource still carries datastores, or a datastore still holds volumes. */
    RESOURCE_IN_USE(409),
    /** The datastore has not enough free space for the request; nothing was written. */
    DATASTORE_FULL(507),
    /** The device, datastore or volume cannot be reached now (its driver or filesystem bundle is gone, or the device failed). Configuration and data are kept. */
    DEVICE_UNAVAILABLE(503),
    /** The implementation does not declare the capability the operation needs. */
    UNSUPPORTED(501),
    /** An image file is damaged or is not of the expected format. Nothing was written. */
    CORRUPT_IMAGE(422),
    /** The requested virtual size exceeds what the disk format can address. */
    SIZE_TOO_LARGE(400),
    /** A write was attempted on a read-only disk, file or export. */
    READ_ONLY(403),
    /** An I/O request lies (partly) beyond the end of the disk or device. */
    OUT_OF_RANGE(416),
    /** The operation needs privileges this process does not have (typically root). */
    PERMISSION_DENIED(403),
    /** The device already holds a filesystem and formatting it was not forced. */
    DEVICE_HAS_FILESYSTEM(409),
    /** A snapshot or backing chain would exceed its configured maximum length. */
    CHAIN_TOO_LONG(409),
    /** The underlying storage reported an I/O error. */
    IO_ERROR(500),
    /** An external tool (mkfs, mount, losetup) failed; the message carries its output. */
    EXTERNAL_TOOL_FAILED(500),
    /** A lock on a file or device is held by someone else. */
    LOCKED(423),
    /** An unexpected internal failure; always a bug. */
    INTERNAL(500),
    /** A differencing image's parent is missing, or is not the image the child was made from (identity mismatch). */
    CHAIN_BROKEN(409),
    /** The named snapshot does not exist on the volume. */
    SNAPSHOT_NOT_FOUND(404),
    /** A long-running task was cancelled before it finished; what it had done is rolled back or completed safely. */
    CANCELLED(409),
    /** No export of that name is configured on this host. */
    EXPORT_NOT_FOUND(404),
    /** The export has connected clients (remove it with force to disconnect them). */
    EXPORT_IN_USE(409),
    /** No task of that id is known to this host (ids are not kept across restarts). @since 1.4 */
    TASK_NOT_FOUND(404);

    private final int httpStatus;

    ErrorCode(int httpStatus) {
        this.httpStatus = httpStatus;
    }

    /** @return the HTTP status the REST API answers this error with */
    public int httpStatus() {
        return httpStatus;
    }
}

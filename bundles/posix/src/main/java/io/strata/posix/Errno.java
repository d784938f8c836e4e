package io.strata.posix;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import java.io.IOException;
import java.nio.channels.ClosedChannelException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/** Maps errno values and Java I/O exceptions to Strata's error catalogue. */
public final class Errno {
    public static final int EPERM = 1;
    public static final int ENOENT = 2;
    public static final int EINTR = 4;
    public static final int EIO = 5;
    public static final int ENXIO = 6;
    public static final int ENODEV = 19;
    public static final int ESTALE = 116;
    public static final int EBADF = 9;
    public static final int EAGAIN = 11;
    public static final int EACCES = 13;
    public static final int EEXIST = 17;
    public static final int EINVAL = 22;
    public static final int ENOTTY = 25;
    public static final int ENOSPC = 28;
    public static final int EROFS = 30;
    public static final int ENOSYS = 38;
    public static final int EOPNOTSUPP = 95;
    public static final int EDQUOT = 122;
    public static final int EFBIG = 27;
    public static final int ELOOP = 40;

    private Errno() {
    }

    /** @return the error code for an errno value */
    public static ErrorCode code(int errno) {
        switch (errno) {
            case ENOSPC:
            case EDQUOT:
                return ErrorCode.DATASTORE_FULL;
            case EOPNOTSUPP:
            case ENOSYS:
                return ErrorCode.UNSUPPORTED;
            case EACCES:
            case EPERM:
                return ErrorCode.PERMISSION_DENIED;
            case ENOENT:
                return ErrorCode.FILE_NOT_FOUND;
            case EEXIST:
                return ErrorCode.ALREADY_EXISTS;
            case EROFS:
                return ErrorCode.READ_ONLY;
            case EFBIG:
                return ErrorCode.SIZE_TOO_LARGE;
            case ELOOP:
                return ErrorCode.INVALID_ARGUMENT;
            case ENXIO:
            case ENODEV:
            case ESTALE:
                return ErrorCode.DEVICE_UNAVAILABLE; // the device or export went away
            default:
                return ErrorCode.IO_ERROR;
        }
    }

    /** @return the libc description of an errno value, e.g. "No space left on device" */
    public static String describe(int errno) {
        try {
            String s = LibC.Holder.INSTANCE.strerror(errno);
            return s != null ? s : "errno " + errno;
        } catch (LinkageError e) {
            return "errno " + errno;
        }
    }

    /**
     * @param errno the errno of the failed call
     * @param what what was attempted, e.g. "allocate space in"
     * @param path the file or device concerned
     * @return a StorageException such as "cannot allocate space in /x/y: No space left on device"
     */
    public static StorageException exception(int errno, String what, Path path) {
        return new StorageException(code(errno), "cannot " + what + " " + path + ": " + describe(errno)
                + " (errno " + errno + ")");
    }

    /**
     * Maps a Java I/O failure. Java reports errno only as text, so the common texts are
     * recognised; anything else is an {@link ErrorCode#IO_ERROR}.
     *
     * @param e the failure
     * @param what what was attempted, e.g. "write"
     * @param path the file concerned
     * @return the exception to throw
     */
    public static StorageException exception(IOException e, String what, Path path) {
        ErrorCode code;
        if (e instanceof NoSuchFileException) {
            code = ErrorCode.FILE_NOT_FOUND;
        } else if (e instanceof FileAlreadyExistsException) {
            code = ErrorCode.ALREADY_EXISTS;
        } else if (e instanceof AccessDeniedException) {
            code = ErrorCode.PERMISSION_DENIED;
        } else if (e instanceof ClosedChannelException) {
            code = ErrorCode.DEVICE_UNAVAILABLE;
        } else {
            code = codeFromText(String.valueOf(e.getMessage()));
        }
        String reason = e instanceof ClosedChannelException ? "it is closed"
                : e instanceof NoSuchFileException ? "no such file"
                : e instanceof FileAlreadyExistsException ? "it already exists"
                : e instanceof AccessDeniedException ? "permission denied"
                : String.valueOf(e.getMessage());
        return new StorageException(code, "cannot " + what + " " + path + ": " + reason, e);
    }

    static ErrorCode codeFromText(String message) {
        if (message.contains("No space left on device") || message.contains("Disk quota exceeded")) {
            return ErrorCode.DATASTORE_FULL;
        }
        if (message.contains("File too large")) {
            return ErrorCode.SIZE_TOO_LARGE;
        }
        if (message.contains("Read-only file system")) {
            return ErrorCode.READ_ONLY;
        }
        if (message.contains("Operation not supported")) {
            return ErrorCode.UNSUPPORTED;
        }
        if (message.contains("Permission denied") || message.contains("Operation not permitted")) {
            return ErrorCode.PERMISSION_DENIED;
        }
        if (message.contains("No such device") || message.contains("Stale file handle")) {
            return ErrorCode.DEVICE_UNAVAILABLE; // ENXIO, ENODEV, ESTALE
        }
        return ErrorCode.IO_ERROR;
    }
}

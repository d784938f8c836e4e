package io.strata.vhd.internal;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.format.VirtualDisk;
import io.strata.api.fs.DatastoreFile;
import java.util.concurrent.locks.ReentrantLock;

/** What fixed and dynamic disks share: the file, range checks, read-only and close. */
abstract class AbstractVhdDisk implements VirtualDisk {
    final DatastoreFile file;
    final boolean readOnly;
    /** Serializes metadata changes: block allocation and resize. Never taken by reads. */
    final ReentrantLock metaLock = new ReentrantLock();
    private volatile boolean closed;

    AbstractVhdDisk(DatastoreFile file, boolean readOnly) {
        this.file = file;
        this.readOnly = readOnly;
    }

    @Override
    public String format() {
        return VhdFormat.TYPE;
    }

    @Override
    public boolean readOnly() {
        return readOnly;
    }

    final void checkRange(long offset, long length, long size) {
        if (offset < 0 || length < 0 || offset > size - length) {
            throw new StorageException(ErrorCode.OUT_OF_RANGE, "range " + offset + "+" + length
                    + " lies outside the " + size + "-byte disk '" + file.name() + "'");
        }
        if (closed) {
            throw new StorageException(ErrorCode.DEVICE_UNAVAILABLE, "disk '" + file.name() + "' is closed");
        }
    }

    final void checkWritable() {
        if (readOnly) {
            throw new StorageException(ErrorCode.READ_ONLY, "disk '" + file.name() + "' is open read-only");
        }
    }

    final long checkNewSize(long newSize, long oldSize) {
        VhdFormat.checkSize(newSize);
        if (newSize < oldSize) {
            throw new StorageException(ErrorCode.INVALID_SIZE, "cannot shrink disk '" + file.name() + "' from "
                    + oldSize + " to " + newSize + " bytes; only growing is supported");
        }
        return newSize;
    }

    /** As the file: a disk on a file whose I/O waits on a round trip (VIMS on a LUN) is served many requests at once. */
    @Override
    public boolean concurrentIo() {
        return file.concurrentIo();
    }

    @Override
    public long allocatedBytes() {
        return file.allocatedBytes();
    }

    /** @return the image's unique id (footer), which children record as their parent's identity */
    abstract java.util.UUID uniqueId();

    /** @return the footer's time stamp (creation, seconds since 2000-01-01 UTC) */
    abstract int timestamp();

    @Override
    public void close() {
        if (closed) {
            return;
        }
        try {
            if (!readOnly) {
                flush();
            }
        } catch (RuntimeException e) {
            // close never throws; the flush failure was the caller's last chance and is lost
        } finally {
            closed = true;
            file.close();
        }
    }
}

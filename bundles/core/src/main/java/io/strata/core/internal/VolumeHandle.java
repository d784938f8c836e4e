package io.strata.core.internal;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.format.Extent;
import io.strata.api.format.Provisioning;
import io.strata.api.format.VirtualDisk;
import io.strata.api.fs.DatastoreFile;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;

/**
 * What {@code VolumeService.open} hands out: a thin guard in front of the
 * format's disk. It will sit on the NBD hot path, so each call is one volatile
 * read and a delegate call; the try/catch costs nothing unless something throws.
 *
 * <p>When the datastore, filesystem, driver or format goes away, the core
 * {@linkplain #invalidate invalidates} the handle: from then on every call
 * fails with {@code DEVICE_UNAVAILABLE}, and a call racing with the
 * invalidation that fails inside the (now closed) delegate is reported the same
 * way rather than as a confusing I/O error.
 */
final class VolumeHandle implements VirtualDisk {
    private static final int OPEN = 0;
    private static final int UNAVAILABLE = 1;
    private static final int CLOSED = 2;

    private final String ref;
    private final VirtualDisk disk;
    private final DatastoreFile file;
    private final boolean readOnly;
    private final String format;
    private final Provisioning provisioning;
    private final long virtualSize;
    private final Consumer<VolumeHandle> onClose;
    private final AtomicBoolean delegateClosed = new AtomicBoolean();
    private volatile int state = OPEN;
    private volatile String reason = "";

    VolumeHandle(String ref, VirtualDisk disk, DatastoreFile file, boolean readOnly,
            Consumer<VolumeHandle> onClose) {
        this.ref = ref;
        this.disk = disk;
        this.file = file;
        this.readOnly = readOnly;
        this.format = disk.format();
        this.provisioning = disk.provisioning();
        this.virtualSize = disk.virtualSize();
        this.onClose = onClose;
    }

    String ref() {
        return ref;
    }

    boolean writer() {
        return !readOnly;
    }

    @Override
    public String format() {
        return format;
    }

    @Override
    public long virtualSize() {
        return virtualSize;
    }

    @Override
    public Provisioning provisioning() {
        return provisioning;
    }

    @Override
    public boolean readOnly() {
        return readOnly;
    }

    @Override
    public void read(ByteBuffer dst, long offset) {
        check();
        try {
            disk.read(dst, offset);
        } catch (RuntimeException e) {
            throw failure(e);
        }
    }

    @Override
    public void write(ByteBuffer src, long offset) {
        check();
        try {
            disk.write(src, offset);
        } catch (RuntimeException e) {
            throw failure(e);
        }
    }

    @Override
    public void flush() {
        check();
        try {
            disk.flush();
        } catch (RuntimeException e) {
            throw failure(e);
        }
    }

    @Override
    public void writeZeroes(long offset, long length) {
        check();
        try {
            disk.writeZeroes(offset, length);
        } catch (RuntimeException e) {
            throw failure(e);
        }
    }

    @Override
    public void trim(long offset, long length) {
        check();
        try {
            disk.trim(offset, length);
        } catch (RuntimeException e) {
            throw failure(e);
        }
    }

    @Override
    public List<Extent> blockStatus(long offset, long length) {
        check();
        try {
            return disk.blockStatus(offset, length);
        } catch (RuntimeException e) {
            throw failure(e);
        }
    }

    @Override
    public void resize(long newSize) {
        // The catalog holds the virtual size; growing goes through VolumeService.resize.
        throw new StorageException(ErrorCode.VOLUME_IN_USE,
                "volume " + ref + " is open; close it and use volume-resize to grow it");
    }

    @Override
    public long allocatedBytes() {
        check();
        try {
            return disk.allocatedBytes();
        } catch (RuntimeException e) {
            throw failure(e);
        }
    }

    /** Releases the volume. Never throws; flushes through the format's close. */
    @Override
    public void close() {
        if (state == CLOSED) {
            return;
        }
        state = CLOSED;
        closeDelegate();
        onClose.accept(this);
    }

    /** Makes every later call fail with DEVICE_UNAVAILABLE and releases the delegate. */
    void invalidate(String why) {
        reason = why;
        if (state == OPEN) {
            state = UNAVAILABLE;
        }
        closeDelegate();
    }

    boolean valid() {
        return state == OPEN;
    }

    private void closeDelegate() {
        if (delegateClosed.compareAndSet(false, true)) {
            try {
                disk.close();
            } catch (RuntimeException e) {
                // close never throws by contract; a plugin that does must not stop the release
            } finally {
                file.close();
            }
        }
    }

    private void check() {
        if (state != OPEN) {
            throw notOpen(null);
        }
    }

    private RuntimeException failure(RuntimeException e) {
        if (state != OPEN) {
            return notOpen(e);
        }
        return e;
    }

    private StorageException notOpen(Throwable cause) {
        if (state == CLOSED) {
            return new StorageException(ErrorCode.INVALID_ARGUMENT, "volume " + ref + " handle is closed", cause);
        }
        return new StorageException(ErrorCode.DEVICE_UNAVAILABLE, "volume " + ref + " is unavailable: " + reason,
                cause);
    }
}

package io.strata.core.internal;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.format.Extent;
import io.strata.api.format.Provisioning;
import io.strata.api.format.VirtualDisk;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.function.Consumer;

/**
 * What {@code VolumeService.open} hands out: a thin guard in front of the
 * volume's {@link SharedDisk}. It will sit on the NBD hot path, so each call is one
 * volatile read, the shared disk's gate in read mode (one CAS) and a delegate call;
 * the try/catch costs nothing unless something throws.
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
    private final SharedDisk shared;
    private final boolean readOnly;
    private final String format;
    private final Provisioning provisioning;
    private final long virtualSize;
    private final Consumer<VolumeHandle> onClose;
    private volatile int state = OPEN;
    private volatile String reason = "";

    VolumeHandle(String ref, SharedDisk shared, boolean readOnly, Consumer<VolumeHandle> onClose) {
        this.ref = ref;
        this.shared = shared;
        this.readOnly = readOnly;
        VirtualDisk disk = shared.disk();
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

    SharedDisk shared() {
        return shared;
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
        long stamp = shared.gate.readLock();
        try {
            shared.chain.disk().read(dst, offset);
        } catch (RuntimeException e) {
            throw failure(e);
        } finally {
            shared.gate.unlockRead(stamp);
        }
    }

    @Override
    public void write(ByteBuffer src, long offset) {
        checkWritable();
        long stamp = shared.gate.readLock();
        try {
            shared.chain.disk().write(src, offset);
        } catch (RuntimeException e) {
            throw failure(e);
        } finally {
            shared.gate.unlockRead(stamp);
        }
    }

    @Override
    public void flush() {
        check();
        long stamp = shared.gate.readLock();
        try {
            shared.chain.disk().flush();
        } catch (RuntimeException e) {
            throw failure(e);
        } finally {
            shared.gate.unlockRead(stamp);
        }
    }

    @Override
    public void writeZeroes(long offset, long length) {
        checkWritable();
        long stamp = shared.gate.readLock();
        try {
            shared.chain.disk().writeZeroes(offset, length);
        } catch (RuntimeException e) {
            throw failure(e);
        } finally {
            shared.gate.unlockRead(stamp);
        }
    }

    @Override
    public void trim(long offset, long length) {
        checkWritable();
        long stamp = shared.gate.readLock();
        try {
            shared.chain.disk().trim(offset, length);
        } catch (RuntimeException e) {
            throw failure(e);
        } finally {
            shared.gate.unlockRead(stamp);
        }
    }

    @Override
    public List<Extent> blockStatus(long offset, long length) {
        check();
        long stamp = shared.gate.readLock();
        try {
            return shared.chain.disk().blockStatus(offset, length);
        } catch (RuntimeException e) {
            throw failure(e);
        } finally {
            shared.gate.unlockRead(stamp);
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
        long stamp = shared.gate.readLock();
        try {
            return shared.chain.disk().allocatedBytes();
        } catch (RuntimeException e) {
            throw failure(e);
        } finally {
            shared.gate.unlockRead(stamp);
        }
    }

    @Override
    public int chainLength() {
        check();
        return shared.chain.disk().chainLength();
    }

    /** Releases the volume. Never throws; a writer's data is flushed first. */
    @Override
    public void close() {
        if (state == CLOSED) {
            return;
        }
        boolean wasOpen = state == OPEN;
        state = CLOSED;
        if (wasOpen && !readOnly) {
            long stamp = shared.gate.readLock();
            try {
                shared.chain.disk().flush();
            } catch (RuntimeException e) {
                // the shared disk's close flushes again; a failure here must not stop the release
            } finally {
                shared.gate.unlockRead(stamp);
            }
        }
        onClose.accept(this);
    }

    /** Makes every later call fail with DEVICE_UNAVAILABLE; the mount closes the shared disk. */
    void invalidate(String why) {
        reason = why;
        if (state == OPEN) {
            state = UNAVAILABLE;
        }
    }

    boolean valid() {
        return state == OPEN;
    }

    private void check() {
        if (state != OPEN) {
            throw notOpen(null);
        }
    }

    private void checkWritable() {
        check();
        if (readOnly) {
            throw new StorageException(ErrorCode.READ_ONLY, "volume " + ref + " is open read-only");
        }
    }

    private RuntimeException failure(RuntimeException e) {
        if (state != OPEN || shared.isClosed()) {
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

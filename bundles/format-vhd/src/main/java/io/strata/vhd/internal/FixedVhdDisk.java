package io.strata.vhd.internal;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.format.Extent;
import io.strata.api.format.Provisioning;
import io.strata.api.fs.DatastoreFile;
import io.strata.api.fs.FileSlice;
import io.strata.api.fs.FileWindow;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Optional;

/**
 * A fixed VHD: the disk's bytes at the same offsets in the file, then the footer.
 * Reads and writes go straight to the file without any lock.
 */
final class FixedVhdDisk extends AbstractVhdDisk {
    private final Provisioning provisioning;
    private volatile long virtualSize;
    private Footer footer; // guarded by metaLock

    FixedVhdDisk(DatastoreFile file, boolean readOnly, Inspection inspection, Provisioning provisioning) {
        super(file, readOnly);
        this.footer = inspection.footer();
        this.virtualSize = inspection.virtualSize();
        this.provisioning = provisioning;
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
    public void read(ByteBuffer dst, long offset) {
        checkRange(offset, dst.remaining(), virtualSize);
        Io.readExactly(file, dst, offset);
    }

    /** The data is the file's first bytes: straight to the file's own asynchronous read. */
    @Override
    public java.util.concurrent.CompletableFuture<Void> readAsync(ByteBuffer dst, long offset) {
        checkRange(offset, dst.remaining(), virtualSize);
        return file.readAsync(dst, offset);
    }

    @Override
    public java.util.concurrent.CompletableFuture<Void> writeAsync(ByteBuffer src, long offset) {
        checkWritable();
        checkRange(offset, src.remaining(), virtualSize);
        return file.writeAsync(src, offset);
    }

    /** The data of a fixed disk is the file's first bytes. */
    @Override
    public Optional<FileSlice> slice(long offset, int length) {
        checkRange(offset, length, virtualSize);
        return length <= 0 ? Optional.empty() : file.slice(offset, length);
    }

    /** The data area is the file's start: the file's window for the same range, where it has one. */
    @Override
    public Optional<FileWindow> window(long offset, int length) {
        checkWritable();
        checkRange(offset, length, virtualSize);
        return length <= 0 ? Optional.empty() : file.window(offset, length);
    }

    @Override
    public void write(ByteBuffer src, long offset) {
        checkWritable();
        checkRange(offset, src.remaining(), virtualSize);
        file.write(src, offset);
    }

    @Override
    java.util.UUID uniqueId() {
        metaLock.lock();
        try {
            return footer.uniqueId();
        } finally {
            metaLock.unlock();
        }
    }

    @Override
    int timestamp() {
        metaLock.lock();
        try {
            return footer.timestamp();
        } finally {
            metaLock.unlock();
        }
    }

    /** Punches the range out of the file where the datastore can (it reads zeros), else writes zeros. */
    @Override
    public void trim(long offset, long length) {
        checkWritable();
        checkRange(offset, length, virtualSize);
        if (length == 0) {
            return;
        }
        try {
            file.punchHole(offset, length);
        } catch (StorageException e) {
            if (e.code() != ErrorCode.UNSUPPORTED) {
                throw e;
            }
            Io.writeZeros(file, offset, length);
        }
    }

    /** A fixed disk keeps its size in the file by definition: there is nothing to give back. */
    @Override
    public long reclaim() {
        checkWritable();
        return 0;
    }

    @Override
    public void flush() {
        file.flush();
    }

    @Override
    public List<Extent> blockStatus(long offset, long length) {
        checkRange(offset, length, virtualSize);
        return length == 0 ? List.of() : List.of(new Extent(offset, length, true, false));
    }

    /**
     * Grows the data area and moves the footer: the new area is prepared first,
     * then the new footer is written and made durable, and only then are the old
     * footer's 512 bytes (now disk data) zeroed. A crash between the last two
     * steps leaves an image of the new size whose old footer bytes are still
     * visible at the old end; a crash before leaves the old image intact.
     */
    @Override
    public void resize(long newSize) {
        checkWritable();
        metaLock.lock();
        try {
            long oldSize = virtualSize;
            checkNewSize(newSize, oldSize);
            if (newSize == oldSize) {
                return;
            }
            long oldFooterPos = file.size() - Footer.SIZE; // can lie past oldSize when the size came from CHS
            if (newSize > oldFooterPos + Footer.SIZE) {
                if (provisioning == Provisioning.THICK_LAZY) {
                    VhdFormat.reserve(file, oldFooterPos, newSize + Footer.SIZE - oldFooterPos);
                } else if (provisioning == Provisioning.THICK) {
                    Io.writeZeros(file, oldFooterPos + Footer.SIZE, newSize - oldFooterPos - Footer.SIZE);
                }
            }
            Footer grown = footer.withSize(newSize, Geometry.of(newSize / 512),
                    SizeRule.usesCurrentSize(footer) ? footer.creatorApp() : SizeRule.STRATA_CREATOR);
            if (SizeRule.virtualSize(grown) != newSize) {
                grown = grown.withSize(newSize, grown.geometry(), SizeRule.STRATA_CREATOR);
            }
            Io.write(file, grown.encode(), newSize);
            file.flush();
            if (newSize > oldFooterPos) {
                Io.writeZeros(file, oldFooterPos, Math.min(Footer.SIZE, newSize - oldFooterPos));
            } else if (newSize < oldFooterPos) {
                file.setSize(newSize + Footer.SIZE);
            }
            file.flush();
            footer = grown;
            virtualSize = newSize;
        } catch (StorageException e) {
            throw e;
        } catch (RuntimeException e) {
            throw new StorageException(ErrorCode.IO_ERROR, "resizing disk '" + file.name() + "' failed: " + e, e);
        } finally {
            metaLock.unlock();
        }
    }
}

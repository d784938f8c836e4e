package io.strata.core.internal;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.device.BlockDevice;
import io.strata.api.format.Extent;
import io.strata.api.format.Provisioning;
import io.strata.api.format.VirtualDisk;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * The disk of a raw device mapping volume: reads and writes go to the device at the same
 * offsets. Requests not aligned to the device's sectors are completed by read-modify-write of
 * the edge sectors (serialised among themselves so two such writes to one sector cannot lose
 * each other's bytes).
 *
 * <p>When the device's driver goes away (its bundle is stopped or updated), I/O fails with
 * {@code DEVICE_UNAVAILABLE}; once the resource is attached again, the next I/O opens the
 * device afresh through the core and carries on, so an export of the volume serves the same
 * bytes again without being removed.
 *
 * <p>Aligned reads and writes also start without waiting ({@link #readAsync}, {@link #writeAsync})
 * through the device's asynchronous I/O; unaligned ones are done in the calling thread.
 */
final class MappedDisk implements VirtualDisk {
    private final RdmMapping mapping;
    private final RdmFormat.DeviceOpener opener;
    private final boolean readOnly;
    private final long size;
    private final int sector;
    private final Object edges = new Object();
    private volatile BlockDevice device;
    /** A device whose asynchronous I/O failed with DEVICE_UNAVAILABLE: the next I/O reopens it. */
    private volatile BlockDevice failedAsync;
    private volatile boolean closed;

    MappedDisk(RdmMapping mapping, RdmFormat.DeviceOpener opener, boolean readOnly) {
        this.mapping = mapping;
        this.opener = opener;
        this.readOnly = readOnly;
        this.device = opener.open(mapping);
        this.size = Math.min(mapping.size(), device.size());
        this.sector = device.sectorSize();
    }

    @FunctionalInterface
    private interface Io<T> {
        T on(BlockDevice d);
    }

    /**
     * Runs one I/O; when the device became unavailable, reopens it once and retries. A device
     * whose asynchronous I/O failed with DEVICE_UNAVAILABLE ({@link #failedAsync}) is reopened
     * before the next I/O starts.
     */
    private <T> T io(Io<T> op) {
        if (closed) {
            throw new StorageException(ErrorCode.DEVICE_UNAVAILABLE, "mapped device " + mapping.ref() + " is closed");
        }
        BlockDevice d = device;
        if (d == failedAsync) {
            d = reopen(d); // still unavailable: this I/O fails as the last one did
        }
        try {
            return op.on(d);
        } catch (StorageException e) {
            if (e.code() != ErrorCode.DEVICE_UNAVAILABLE) {
                throw e;
            }
            BlockDevice fresh;
            try {
                fresh = reopen(d);
            } catch (StorageException again) {
                if (again != e) {
                    e.addSuppressed(again);
                }
                throw e;
            }
            return op.on(fresh);
        }
    }

    /** @return the device opened afresh in place of {@code d} (or as another thread already did) */
    private BlockDevice reopen(BlockDevice d) {
        synchronized (this) {
            if (closed) {
                throw new StorageException(ErrorCode.DEVICE_UNAVAILABLE, "mapped device " + mapping.ref()
                        + " is closed");
            }
            if (device != d) {
                return device; // another thread reopened it already
            }
            BlockDevice fresh = opener.open(mapping);
            device = fresh;
            closeQuietly(d);
            return fresh;
        }
    }

    /**
     * Starts an asynchronous I/O through {@link #io}; when it fails later with
     * DEVICE_UNAVAILABLE (on the device's thread, where nothing may wait to reopen it), the
     * device is marked so that the next I/O reopens it.
     */
    private CompletableFuture<Void> ioAsync(Io<CompletableFuture<Void>> op) {
        BlockDevice[] used = new BlockDevice[1];
        CompletableFuture<Void> f = io(d -> {
            used[0] = d;
            return op.on(d);
        });
        return f.whenComplete((v, e) -> {
            Throwable cause = e instanceof java.util.concurrent.CompletionException && e.getCause() != null
                    ? e.getCause() : e;
            if (cause instanceof StorageException se && se.code() == ErrorCode.DEVICE_UNAVAILABLE) {
                failedAsync = used[0];
            }
        });
    }

    private static void closeQuietly(BlockDevice d) {
        try {
            d.close();
        } catch (RuntimeException ignored) {
            // closing never matters more than the I/O
        }
    }

    @Override
    public String format() {
        return RdmMapping.TYPE;
    }

    /** A LUN is reached through a driver: network round trips, many commands in flight. */
    @Override
    public boolean concurrentIo() {
        return true;
    }

    @Override
    public long virtualSize() {
        return size;
    }

    @Override
    public Provisioning provisioning() {
        return Provisioning.THICK;
    }

    @Override
    public boolean readOnly() {
        return readOnly;
    }

    private void check(long offset, long length) {
        if (offset < 0 || length < 0 || offset > size || length > size - offset) {
            throw new StorageException(ErrorCode.OUT_OF_RANGE, "request at " + offset + " for " + length
                    + " bytes is beyond the end of mapped device " + mapping.ref() + " (" + size + " bytes)");
        }
    }

    private boolean aligned(long offset, long length) {
        return offset % sector == 0 && length % sector == 0;
    }

    @Override
    public void read(ByteBuffer dst, long offset) {
        int length = dst.remaining();
        check(offset, length);
        if (length == 0) {
            return;
        }
        if (aligned(offset, length)) {
            int pos = dst.position();
            io(d -> {
                dst.position(pos);
                d.read(dst, offset);
                return null;
            });
            return;
        }
        long start = offset - offset % sector;
        long end = roundUp(offset + length);
        ByteBuffer bounce = ByteBuffer.allocate(Math.toIntExact(end - start));
        io(d -> {
            bounce.clear();
            d.read(bounce, start);
            return null;
        });
        bounce.position((int) (offset - start)).limit((int) (offset - start) + length);
        dst.put(bounce);
    }

    /**
     * Starts an aligned read on the device. A device found unavailable as the read starts (its
     * handle closed with its driver) is reopened once, in the calling thread, as for
     * {@link #read}; a read that fails later with DEVICE_UNAVAILABLE, on the device's thread, is
     * reported as it is, and the next request reopens the device first.
     */
    @Override
    public CompletableFuture<Void> readAsync(ByteBuffer dst, long offset) {
        int length = dst.remaining();
        check(offset, length);
        if (length == 0 || !aligned(offset, length)) {
            return VirtualDisk.super.readAsync(dst, offset);
        }
        int pos = dst.position();
        return ioAsync(d -> {
            dst.position(pos);
            return d.readAsync(dst, offset);
        });
    }

    /** Starts an aligned write on the device, as {@link #readAsync} starts a read. */
    @Override
    public CompletableFuture<Void> writeAsync(ByteBuffer src, long offset) {
        if (readOnly) {
            throw new StorageException(ErrorCode.READ_ONLY, "mapped device " + mapping.ref() + " is open read-only");
        }
        int length = src.remaining();
        check(offset, length);
        if (length == 0 || !aligned(offset, length)) {
            return VirtualDisk.super.writeAsync(src, offset);
        }
        int pos = src.position();
        return ioAsync(d -> {
            src.position(pos);
            return d.writeAsync(src, offset);
        });
    }

    private long roundUp(long v) {
        long r = v % sector;
        return r == 0 ? v : v + sector - r;
    }

    @Override
    public void write(ByteBuffer src, long offset) {
        if (readOnly) {
            throw new StorageException(ErrorCode.READ_ONLY, "mapped device " + mapping.ref() + " is open read-only");
        }
        int length = src.remaining();
        check(offset, length);
        if (length == 0) {
            return;
        }
        if (aligned(offset, length)) {
            int pos = src.position();
            io(d -> {
                src.position(pos);
                d.write(src, offset);
                return null;
            });
            return;
        }
        long start = offset - offset % sector;
        long end = roundUp(offset + length);
        ByteBuffer bounce = ByteBuffer.allocate(Math.toIntExact(end - start));
        synchronized (edges) {
            io(d -> {
                bounce.clear();
                d.read(bounce, start);
                return null;
            });
            bounce.clear().position((int) (offset - start));
            bounce.put(src);
            io(d -> {
                bounce.clear();
                d.write(bounce, start);
                return null;
            });
        }
    }

    @Override
    public void flush() {
        io(d -> {
            d.flush();
            return null;
        });
    }

    /** Passes whole sectors to the device's unmap where it has one; a device without it keeps its data. */
    @Override
    public void trim(long offset, long length) {
        check(offset, length);
        if (readOnly) {
            throw new StorageException(ErrorCode.READ_ONLY, "mapped device " + mapping.ref() + " is open read-only");
        }
        long start = roundUp(offset);
        long end = offset + length - (offset + length) % sector;
        if (end <= start) {
            return;
        }
        try {
            io(d -> {
                d.unmap(start, end - start);
                return null;
            });
        } catch (StorageException e) {
            if (e.code() != ErrorCode.UNSUPPORTED) {
                throw e;
            }
        }
    }

    @Override
    public List<Extent> blockStatus(long offset, long length) {
        check(offset, length);
        return List.of(new Extent(offset, length, true, false));
    }

    @Override
    public void resize(long newSize) {
        throw new StorageException(ErrorCode.UNSUPPORTED,
                "a mapped device has the size of its LUN (" + size + " bytes); grow the LUN and map it again");
    }

    @Override
    public long allocatedBytes() {
        return size;
    }

    @Override
    public void close() {
        BlockDevice d;
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
            d = device;
        }
        closeQuietly(d);
    }
}

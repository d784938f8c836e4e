package io.strata.multipath;

import static java.util.Objects.requireNonNull;

import io.strata.api.Bounds;
import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.device.BlockDevice;
import io.strata.api.device.DeviceInfo;
import io.strata.api.device.DeviceKind;
import io.strata.api.device.DeviceState;
import io.strata.api.device.PersistentReservations;
import io.strata.api.device.Subscription;
import io.strata.api.device.WriteFence;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * A handle to a multipath device. Every I/O goes through {@link DeviceGroup#execute}, with
 * buffers duplicated for each attempt so that a retry on another path starts from the
 * caller's positions; the caller's buffers advance only when the I/O succeeded.
 */
final class MultipathDevice implements BlockDevice {
    private final Multipath owner;
    private final DeviceGroup device;
    private final DeviceInfo info;
    private final List<Subscription> subscriptions = new ArrayList<>();
    private volatile boolean closed;

    MultipathDevice(Multipath owner, DeviceGroup device, DeviceInfo info) {
        this.owner = owner;
        this.device = device;
        this.info = info;
    }

    @Override
    public DeviceInfo info() {
        return new DeviceInfo(info.resource(), info.id(), DeviceKind.BLOCK, device.size, device.sectorSize,
                info.description(), device.identity);
    }

    @Override
    public Optional<Path> localPath() {
        return Optional.empty();
    }

    @Override
    public long size() {
        return device.size;
    }

    @Override
    public int sectorSize() {
        return device.sectorSize;
    }

    @Override
    public Optional<String> identity() {
        return Optional.of(device.identity);
    }

    @Override
    public void read(ByteBuffer dst, long offset) {
        requireNonNull(dst, "dst");
        int length = dst.remaining();
        checkRequest("read", offset, length);
        int start = dst.position();
        execute("read", t -> {
            t.read(copy(dst), offset);
            return null;
        });
        dst.position(start + length);
    }

    @Override
    public void write(ByteBuffer src, long offset) {
        write(src, offset, false, null);
    }

    /**
     * A write that every attempt, on whatever path and however late (a retry after a path
     * failed, after waiting for a path), checks {@code fence} before it is sent.
     */
    @Override
    public void write(ByteBuffer src, long offset, WriteFence fence) {
        write(src, offset, false, requireNonNull(fence, "fence"));
    }

    /** A write-through on a path; retried on another path as {@link #write} is when the path fails. */
    @Override
    public void writeThrough(ByteBuffer src, long offset) {
        write(src, offset, true, null);
    }

    private void write(ByteBuffer src, long offset, boolean through, WriteFence fence) {
        requireNonNull(src, "src");
        int length = src.remaining();
        checkRequest("write", offset, length);
        int start = src.position();
        execute("write", t -> {
            if (through) {
                t.writeThrough(copy(src), offset);
            } else if (fence != null) {
                t.write(copy(src), offset, fence);
            } else {
                t.write(copy(src), offset);
            }
            return null;
        });
        src.position(start + length);
    }

    /** Starts the read on a path; when the path fails the read is retried as {@link #read} does it. */
    @Override
    public CompletableFuture<Void> readAsync(ByteBuffer dst, long offset) {
        requireNonNull(dst, "dst");
        int length = dst.remaining();
        checkRequest("read", offset, length);
        checkOpen();
        int start = dst.position();
        return device.executeAsync("read", t -> t.readAsync(copy(dst), offset), t -> {
            t.read(copy(dst), offset);
            return null;
        }).thenRun(() -> dst.position(start + length));
    }

    /** Starts the write on a path; when the path fails the write is retried as {@link #write} does it. */
    @Override
    public CompletableFuture<Void> writeAsync(ByteBuffer src, long offset) {
        requireNonNull(src, "src");
        int length = src.remaining();
        checkRequest("write", offset, length);
        checkOpen();
        int start = src.position();
        return device.executeAsync("write", t -> t.writeAsync(copy(src), offset), t -> {
            t.write(copy(src), offset);
            return null;
        }).thenRun(() -> src.position(start + length));
    }

    /** {@link #writeAsync(ByteBuffer, long)} whose every attempt checks {@code fence} before it is sent. */
    @Override
    public CompletableFuture<Void> writeAsync(ByteBuffer src, long offset, WriteFence fence) {
        requireNonNull(src, "src");
        requireNonNull(fence, "fence");
        int length = src.remaining();
        checkRequest("write", offset, length);
        checkOpen();
        int start = src.position();
        return device.executeAsync("write", t -> t.writeAsync(copy(src), offset, fence), t -> {
            t.write(copy(src), offset, fence);
            return null;
        }).thenRun(() -> src.position(start + length));
    }

    @Override
    public void flush() {
        execute("flush", t -> {
            t.flush();
            return null;
        });
    }

    @Override
    public void unmap(long offset, long length) {
        checkRequest("unmap", offset, length);
        execute("unmap", t -> {
            if (!t.canUnmap()) {
                throw new StorageException(ErrorCode.UNSUPPORTED, "device " + ref() + " cannot unmap (path "
                        + t.id() + " does not support it)");
            }
            t.unmap(offset, length);
            return null;
        });
    }

    @Override
    public boolean compareAndWrite(ByteBuffer expected, ByteBuffer src, long offset) {
        requireNonNull(expected, "expected");
        requireNonNull(src, "src");
        int length = src.remaining();
        if (expected.remaining() != length) {
            throw new StorageException(ErrorCode.INVALID_ARGUMENT, "compare-and-write on " + ref() + ": expected has "
                    + expected.remaining() + " bytes but src has " + length);
        }
        checkRequest("compare-and-write", offset, length);
        int expectedStart = expected.position();
        int srcStart = src.position();
        boolean written = execute("compare-and-write", t -> {
            if (!t.canCompareAndWrite()) {
                throw new StorageException(ErrorCode.UNSUPPORTED, "device " + ref()
                        + " does not support compare-and-write (path " + t.id() + " lacks it)");
            }
            return t.compareAndWrite(copy(expected), copy(src), offset);
        });
        expected.position(expectedStart + length);
        src.position(srcStart + length);
        return written;
    }

    @Override
    public PersistentReservations reservations() {
        checkOpen();
        if (device.anyReservations().isEmpty()) {
            throw new StorageException(ErrorCode.UNSUPPORTED, "device " + ref()
                    + " does not support persistent reservations (no path offers them)");
        }
        return new MultipathReservations(this, device);
    }

    @Override
    public DeviceState state() {
        return closed ? DeviceState.OFFLINE : device.state();
    }

    @Override
    public Subscription addStateListener(Consumer<DeviceState> listener) {
        requireNonNull(listener, "listener");
        synchronized (subscriptions) {
            if (closed) {
                return () -> {
                };
            }
            Subscription s = device.addListener(listener);
            subscriptions.add(s);
            return s;
        }
    }

    @Override
    public void close() {
        synchronized (subscriptions) {
            if (closed) {
                return;
            }
            closed = true;
            for (Subscription s : subscriptions) {
                s.close();
            }
            subscriptions.clear();
        }
        owner.closed(device);
    }

    /** Runs an operation with failover, after checking the handle is open. */
    <T> T execute(String what, Function<PathTransport, T> op) {
        checkOpen();
        return device.execute(what, op);
    }

    void checkOpen() {
        if (closed) {
            throw new StorageException(ErrorCode.DEVICE_UNAVAILABLE, "device " + ref() + " is closed");
        }
    }

    String ref() {
        return owner.resource() + "/" + device.id;
    }

    private void checkRequest(String what, long offset, long length) {
        if (!Bounds.inRange(offset, length, device.size)) { // the message is built only when it is needed
            Bounds.checkRange(offset, length, device.size, what + " on " + ref());
        }
        long sector = device.sectorSize;
        if (offset % sector != 0 || length % sector != 0) {
            throw new StorageException(ErrorCode.INVALID_ARGUMENT, what + " on " + ref() + " at offset " + offset
                    + ", length " + length + " is not aligned to the sector size " + sector);
        }
    }

    /** @return a view of {@code b} from its current position to its limit, in its byte order */
    private static ByteBuffer copy(ByteBuffer b) {
        return b.duplicate().order(b.order());
    }

    @Override
    public String toString() {
        return "multipath device " + ref();
    }
}

package io.strata.core.internal;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.format.Extent;
import io.strata.api.format.Provisioning;
import io.strata.api.format.VirtualDisk;
import io.strata.api.fs.FileSlice;
import io.strata.api.fs.FileWindow;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.WritableByteChannel;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * What {@code VolumeService.open} hands out: a thin guard in front of the
 * volume's {@link SharedDisk}. It sits on the NBD hot path, so each call is one
 * volatile read, the volume's QoS admission and accounting ({@link VolumeIo}), the
 * shared disk's gate in read mode (one CAS) and a delegate call; the try/catch costs
 * nothing unless something throws.
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
    /** The volume's accounting and QoS (shared by its handles); null when not accounted. */
    private final VolumeIo io;
    private volatile int state = OPEN;
    private volatile String reason = "";

    VolumeHandle(String ref, SharedDisk shared, boolean readOnly, Consumer<VolumeHandle> onClose, VolumeIo io) {
        this.io = io;
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
        read(dst.remaining(), d -> d.read(dst, offset));
    }

    /** One read of the buffers' total length: one operation for QoS and the metrics. */
    @Override
    public void read(ByteBuffer[] dsts, long offset) {
        read(total(dsts), d -> d.read(dsts, offset));
    }

    private static int total(ByteBuffer[] bufs) {
        long n = 0;
        for (ByteBuffer b : bufs) {
            n += b.remaining();
        }
        return (int) Math.min(Integer.MAX_VALUE, n);
    }

    private void read(int n, Consumer<VirtualDisk> read) {
        check();
        VolumeIo m = io;
        long t0 = 0;
        if (m != null) {
            m.admit(false, n); // before the gate: a throttled request must not hold off a snapshot
            t0 = m.begin();
        }
        boolean ok = false;
        long stamp = shared.gate.readLock();
        try {
            read.accept(shared.chain.disk());
            ok = true;
        } catch (RuntimeException e) {
            throw failure(e);
        } finally {
            shared.gate.unlockRead(stamp);
            if (m != null) {
                done(m, m.read, ok, t0, n);
            }
        }
    }

    /**
     * The range as a file slice when the chain stores it in one run. The gate is held only
     * while the chain resolves it: the slice keeps its file open by itself, and no chain
     * change moves data a reader sees (a merge writes only what the slice's file does not
     * hold; reclaim needs the volume idle). QoS admits the read once the slice is known;
     * the read is accounted when the slice is sent.
     */
    @Override
    public boolean concurrentIo() {
        SharedDisk.Chain c = shared.chain;
        return c != null && (c.disk().concurrentIo() || c.file().concurrentIo());
    }

    @Override
    public Optional<FileSlice> slice(long offset, int length) {
        check();
        Optional<FileSlice> found;
        long stamp = shared.gate.readLock();
        try {
            found = shared.chain.disk().slice(offset, length);
        } catch (RuntimeException e) {
            throw failure(e);
        } finally {
            shared.gate.unlockRead(stamp);
        }
        VolumeIo m = io;
        if (found.isEmpty() || m == null) {
            return found;
        }
        try {
            m.admit(false, length);
        } catch (RuntimeException e) {
            found.get().close();
            throw e;
        }
        return Optional.of(new AccountedSlice(found.get(), m, m.begin()));
    }

    /** Records the read (bytes, latency until sent) in the volume's accounting. */
    private static final class AccountedSlice implements FileSlice {
        private final FileSlice slice;
        private final VolumeIo io;
        private final long t0;
        private boolean accounted;

        AccountedSlice(FileSlice slice, VolumeIo io, long t0) {
            this.slice = slice;
            this.io = io;
            this.t0 = t0;
        }

        @Override
        public long length() {
            return slice.length();
        }

        @Override
        public void transferTo(WritableByteChannel target) throws IOException {
            boolean ok = false;
            try {
                slice.transferTo(target);
                ok = true;
            } finally {
                if (!accounted) {
                    accounted = true;
                    done(io, io.read, ok, t0, slice.length());
                }
            }
        }

        @Override
        public void close() {
            if (!accounted) {
                accounted = true;
                io.failed(); // never sent
            }
            slice.close();
        }
    }

    private static void done(VolumeIo m, VolumeIo.Direction d, boolean ok, long t0, long bytes) {
        if (ok) {
            m.end(d, t0, bytes);
        } else {
            m.failed();
        }
    }

    /**
     * The image's window for the range, under the shared disk's gate until it is closed: a
     * snapshot or a chain change waits for the write into it, as for {@link #write}. So a caller
     * fills it without waiting on anything (the NBD export puts into it only what has already
     * arrived). A volume QoS limits gets none: its admission may wait, and that must not happen
     * under the gate; its writes take the ordinary path.
     */
    @Override
    public Optional<FileWindow> window(long offset, int length) {
        checkWritable();
        VolumeIo m = io;
        if (m != null && m.limited()) {
            return Optional.empty();
        }
        long stamp = shared.gate.readLock();
        Optional<FileWindow> found;
        try {
            found = shared.chain.disk().window(offset, length);
        } catch (RuntimeException e) {
            shared.gate.unlockRead(stamp);
            throw failure(e);
        }
        if (found.isEmpty()) {
            shared.gate.unlockRead(stamp);
            return found;
        }
        long t0 = 0;
        if (m != null) {
            m.admit(true, length); // no limit: returns at once
            t0 = m.begin();
        }
        return Optional.of(new GatedWindow(found.get(), stamp, m, t0));
    }

    /** Holds the gate while open; counts one write of the bytes put (latency until closed). */
    private final class GatedWindow implements FileWindow {
        private final FileWindow window;
        private final long stamp;
        private final VolumeIo io;
        private final long t0;
        private boolean closed;

        GatedWindow(FileWindow window, long stamp, VolumeIo io, long t0) {
            this.window = window;
            this.stamp = stamp;
            this.io = io;
            this.t0 = t0;
        }

        @Override
        public ByteBuffer buffer() {
            return window.buffer();
        }

        @Override
        public void write(ByteBuffer src) {
            window.write(src); // the file's own path, never a store into its mapping
        }

        @Override
        public void close() {
            if (closed) {
                return;
            }
            closed = true;
            int written = window.buffer().position(); // what was put, maybe less than asked
            try {
                window.close();
            } finally {
                shared.gate.unlockRead(stamp);
                if (io != null) {
                    done(io, io.write, written > 0, t0, written);
                }
            }
        }
    }

    @Override
    public void write(ByteBuffer src, long offset) {
        write(src.remaining(), d -> d.write(src, offset));
    }

    /** One write of the buffers' concatenation: one operation for QoS and the metrics. */
    @Override
    public void write(ByteBuffer[] srcs, long offset) {
        write(total(srcs), d -> d.write(srcs, offset));
    }

    private void write(int n, Consumer<VirtualDisk> write) {
        checkWritable();
        VolumeIo m = io;
        long t0 = 0;
        if (m != null) {
            m.admit(true, n);
            t0 = m.begin();
        }
        boolean ok = false;
        long stamp = shared.gate.readLock();
        try {
            write.accept(shared.chain.disk());
            ok = true;
        } catch (RuntimeException e) {
            throw failure(e);
        } finally {
            shared.gate.unlockRead(stamp);
            if (m != null) {
                done(m, m.write, ok, t0, n);
            }
        }
    }

    /**
     * As {@link #read}, without waiting for the disk: QoS admits the read and the gate is taken
     * here; both the gate and the accounting end when the read completes, on whichever thread
     * completes it.
     */
    @Override
    public CompletableFuture<Void> readAsync(ByteBuffer dst, long offset) {
        check();
        return async(false, dst.remaining(), d -> d.readAsync(dst, offset));
    }

    /** As {@link #write}, without waiting for the disk (see {@link #readAsync}). */
    @Override
    public CompletableFuture<Void> writeAsync(ByteBuffer src, long offset) {
        checkWritable();
        return async(true, src.remaining(), d -> d.writeAsync(src, offset));
    }

    private CompletableFuture<Void> async(boolean write, int n,
            Function<VirtualDisk, CompletableFuture<Void>> start) {
        VolumeIo m = io;
        long t0 = 0;
        if (m != null) {
            m.admit(write, n);
            t0 = m.begin();
        }
        long began = t0;
        long stamp = shared.gate.readLock();
        CompletableFuture<Void> f;
        try {
            SharedDisk.Chain c = shared.chain;
            VirtualDisk d = c.disk();
            if (d.concurrentIo() || !c.file().concurrentIo()) {
                f = start.apply(d);
            } else {
                // A format that blocks, on a file whose I/O waits on a round trip (VIMS on a LUN):
                // its blocking calls run side by side on the volume I/O threads.
                f = CompletableFuture.runAsync(() -> start.apply(d).join(), VolumeThreads.pool());
            }
        } catch (RuntimeException e) {
            f = CompletableFuture.failedFuture(e);
        }
        return f.handle((v, e) -> {
            shared.gate.unlockRead(stamp);
            if (m != null) {
                done(m, write ? m.write : m.read, e == null, began, n);
            }
            if (e != null) {
                Throwable cause = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
                throw cause instanceof RuntimeException re ? failure(re) : new CompletionException(cause);
            }
            return null;
        });
    }

    @Override
    public void flush() {
        check();
        VolumeIo m = io;
        long t0 = m == null ? 0 : m.begin();
        boolean ok = false;
        long stamp = shared.gate.readLock();
        try {
            shared.chain.disk().flush();
            ok = true;
        } catch (RuntimeException e) {
            throw failure(e);
        } finally {
            shared.gate.unlockRead(stamp);
            if (m != null) {
                if (ok) {
                    m.flushed(t0);
                } else {
                    m.failed();
                }
            }
        }
    }

    @Override
    public void writeZeroes(long offset, long length) {
        checkWritable();
        VolumeIo m = io;
        long t0 = 0;
        if (m != null) {
            m.admit(true, 0); // counts as a request, moves no payload
            t0 = m.begin();
        }
        boolean ok = false;
        long stamp = shared.gate.readLock();
        try {
            shared.chain.disk().writeZeroes(offset, length);
            ok = true;
        } catch (RuntimeException e) {
            throw failure(e);
        } finally {
            shared.gate.unlockRead(stamp);
            if (m != null) {
                done(m, m.write, ok, t0, 0);
            }
        }
    }

    @Override
    public void trim(long offset, long length) {
        checkWritable();
        VolumeIo m = io;
        long t0 = 0;
        if (m != null) {
            m.admit(true, 0); // counts as a request, moves no payload
            t0 = m.begin();
        }
        boolean ok = false;
        long stamp = shared.gate.readLock();
        try {
            shared.chain.disk().trim(offset, length);
            ok = true;
        } catch (RuntimeException e) {
            throw failure(e);
        } finally {
            shared.gate.unlockRead(stamp);
            if (m != null) {
                done(m, m.write, ok, t0, 0);
            }
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

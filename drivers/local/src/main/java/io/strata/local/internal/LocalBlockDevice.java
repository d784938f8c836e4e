package io.strata.local.internal;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.device.BlockDevice;
import io.strata.api.device.DeviceInfo;
import io.strata.api.device.DeviceState;
import io.strata.api.device.Subscription;
import io.strata.api.device.WriteFence;
import io.strata.posix.DirectFile;
import io.strata.posix.Errno;
import io.strata.posix.FenceCheck;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import java.util.function.ObjLongConsumer;

/**
 * A block device on a device node or a backing file, for both {@code kind=block} and
 * {@code kind=file-lun}.
 *
 * <ul>
 * <li>I/O goes through a {@link FileChannel} (buffered, the default) or, with
 *     {@code direct=true}, through an O_DIRECT descriptor ({@link DirectFile}).</li>
 * <li>With a time limit ({@code io.timeout.ms}), each I/O runs on a worker thread and the
 *     caller waits at most that long. The worker uses its own (heap) buffer, copied from or
 *     to the caller's, so an I/O that is given up never touches the caller's buffer later;
 *     a write given up may still reach the storage later, as on a SAN. An I/O over the
 *     limit fails with {@code DEVICE_UNAVAILABLE} and makes the device
 *     {@link DeviceState#DEGRADED}; it stays counted as stuck until the kernel returns it,
 *     and with {@value #MAX_STUCK} stuck I/Os the device is {@link DeviceState#OFFLINE} and
 *     refuses new I/O at once instead of piling up threads.</li>
 * <li>Before every I/O, and in {@link #state()}, the node or file is looked up again: when
 *     it is gone or is another file or node than the one opened (a file replaced, a disk
 *     unplugged and its name reused), the device is {@link DeviceState#OFFLINE} and I/O
 *     fails with {@code DEVICE_UNAVAILABLE}, so nothing is written to an orphaned file.
 *     When the same one is back, the device is {@link DeviceState#ONLINE} again.</li>
 * <li>An I/O error makes it {@link DeviceState#DEGRADED}, ENXIO/ENODEV {@link DeviceState#OFFLINE};
 *     the next I/O that succeeds makes it {@link DeviceState#ONLINE}.</li>
 * </ul>
 * No thread watches the device: changes are noticed by I/O and by {@link #state()}.
 */
final class LocalBlockDevice implements BlockDevice {
    /** I/Os given up on but still in the kernel, beyond which the device refuses new ones. */
    static final int MAX_STUCK = 8;
    private static final System.Logger LOG = System.getLogger(LocalBlockDevice.class.getName());

    /** Where the bytes go: a FileChannel or an O_DIRECT descriptor. */
    interface Backend {
        /** Fills {@code dst} from {@code offset}. */
        void read(ByteBuffer dst, long offset);

        /** Writes all of {@code src} at {@code offset}. */
        void write(ByteBuffer src, long offset);

        /** {@link #write}, checking {@code fence} before each system call it makes. */
        void write(ByteBuffer src, long offset, WriteFence fence);

        /** Makes completed writes durable. */
        void flush();

        /** Writes all of {@code src} at {@code offset}, durable on return; other writes need not be. */
        default void writeThrough(ByteBuffer src, long offset) {
            write(src, offset);
            flush();
        }

        /** @return whether I/O bypasses the page cache */
        boolean uncached();

        /** Releases it; an I/O still running finishes first. Never throws. */
        void close();
    }

    private final DeviceInfo info;
    private final Path path;
    private final boolean readOnly;
    private final long timeoutMillis;
    private final int maxStuck;
    private final Backend backend;
    private final Object fileKey;
    private final ThreadPoolExecutor workers;
    private final CopyOnWriteArrayList<Listener> listeners = new CopyOnWriteArrayList<>();
    private final Object stateLock = new Object();
    private final AtomicInteger stuck = new AtomicInteger();
    private volatile DeviceState state = DeviceState.ONLINE;
    /** OFFLINE because the node or file is gone or replaced (as opposed to stuck or failing I/O). */
    private volatile boolean gone;
    private volatile boolean closed;

    /** One registration; its own object so that the same consumer can be added twice. */
    private static final class Listener {
        final Consumer<DeviceState> consumer;

        Listener(Consumer<DeviceState> consumer) {
            this.consumer = consumer;
        }
    }

    LocalBlockDevice(DeviceInfo info, Path path, boolean readOnly, long timeoutMillis, int maxStuck, Backend backend) {
        this(info, path, readOnly, timeoutMillis, maxStuck, backend, null);
    }

    /** @param threads makes the worker threads (null: daemon threads named after the device); for tests */
    LocalBlockDevice(DeviceInfo info, Path path, boolean readOnly, long timeoutMillis, int maxStuck, Backend backend,
            java.util.concurrent.ThreadFactory threads) {
        this.info = info;
        this.path = path;
        this.readOnly = readOnly;
        this.timeoutMillis = timeoutMillis;
        this.maxStuck = maxStuck;
        this.backend = backend;
        this.fileKey = fileKey(path);
        if (timeoutMillis > 0) {
            String name = "strata-io " + info.ref();
            workers = new ThreadPoolExecutor(0, Integer.MAX_VALUE, 30, TimeUnit.SECONDS, new SynchronousQueue<>(),
                    threads != null ? threads : r -> {
                        Thread t = new Thread(r, name);
                        t.setDaemon(true);
                        return t;
                    });
        } else {
            workers = null;
        }
    }

    /**
     * Opens a device node or backing file.
     *
     * @param info what the device is, with its identity
     * @param path the node (or its /dev/disk/by-id link) or the file
     * @param readOnly open read-only
     * @param io buffered or direct, time limit
     */
    static LocalBlockDevice open(DeviceInfo info, Path path, boolean readOnly, IoOptions io) {
        Backend backend = io.direct() ? DirectBackend.open(info, path, readOnly) : ChannelBackend.open(info, path, readOnly);
        try {
            return new LocalBlockDevice(info, path, readOnly, io.timeoutMillis(), MAX_STUCK, backend);
        } catch (RuntimeException e) {
            backend.close();
            throw e;
        }
    }

    static StorageException openFailure(DeviceInfo info, Path path, StorageException se) {
        if (se.code() == ErrorCode.PERMISSION_DENIED) {
            return new StorageException(ErrorCode.PERMISSION_DENIED,
                    "opening device " + info.ref() + " (" + path + ") needs root or write access to it", se);
        }
        if (se.code() == ErrorCode.FILE_NOT_FOUND) {
            return new StorageException(ErrorCode.DEVICE_UNAVAILABLE,
                    "device " + info.ref() + ": " + path + " does not exist", se);
        }
        return se;
    }

    private static Object fileKey(Path p) {
        try {
            return Files.readAttributes(p, BasicFileAttributes.class).fileKey();
        } catch (IOException e) {
            return null;
        }
    }

    @Override
    public DeviceInfo info() {
        return info;
    }

    @Override
    public Optional<Path> localPath() {
        return Optional.of(path);
    }

    @Override
    public long size() {
        return info.size();
    }

    @Override
    public int sectorSize() {
        return info.sectorSize();
    }

    @Override
    public Optional<String> identity() {
        return info.identity().isEmpty() ? Optional.empty() : Optional.of(info.identity());
    }

    /** @return I/Os given up on (timed out) that the kernel has not returned yet */
    int stuckIos() {
        return stuck.get();
    }

    /** @return whether I/O bypasses the page cache (direct=true and the kernel agreed) */
    boolean uncached() {
        return backend.uncached();
    }

    private void check(long offset, int length) {
        int s = info.sectorSize();
        if (offset < 0 || offset % s != 0 || length % s != 0) {
            throw new StorageException(ErrorCode.INVALID_ARGUMENT, "device " + info.ref() + ": request at "
                    + offset + " of " + length + " bytes is not aligned to " + s + "-byte sectors");
        }
        if (offset > info.size() || length > info.size() - offset) {
            throw new StorageException(ErrorCode.OUT_OF_RANGE, "device " + info.ref() + ": request at " + offset
                    + " of " + length + " bytes passes the end (" + info.size() + " bytes)");
        }
    }

    @Override
    public void read(ByteBuffer dst, long offset) {
        int length = dst.remaining();
        check(offset, length);
        if (workers == null) {
            perform("read of " + length + " bytes at " + offset, () -> backend.read(dst, offset));
            return;
        }
        // a heap buffer: direct memory per I/O would only be freed by the GC (O_DIRECT bounces through a pool)
        ByteBuffer mine = ByteBuffer.allocate(length);
        perform("read of " + length + " bytes at " + offset, () -> backend.read(mine, offset));
        mine.flip();
        dst.put(mine);
    }

    @Override
    public void write(ByteBuffer src, long offset) {
        write("write", src, offset, backend::write, null);
    }

    /**
     * The fence is checked in the thread that makes the system calls, before each of them: a
     * write whose thread was stopped (the process frozen, a long pause) is not issued once the
     * host may no longer write, and neither is the rest of a write made in pieces.
     */
    @Override
    public void write(ByteBuffer src, long offset, WriteFence fence) {
        FenceCheck checked = new FenceCheck(fence);
        write("write", src, offset, (b, o) -> backend.write(b, o, checked), checked);
    }

    /** {@link #write(ByteBuffer, long, WriteFence)} in the calling thread, as {@link #writeAsync(ByteBuffer, long)}. */
    @Override
    public CompletableFuture<Void> writeAsync(ByteBuffer src, long offset, WriteFence fence) {
        try {
            write(src, offset, fence);
            return CompletableFuture.completedFuture(null);
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    @Override
    public void flush() {
        perform("flush", backend::flush);
    }

    /** Durable without a flush of the file: buffered, through a second descriptor opened {@code O_DSYNC}. */
    @Override
    public void writeThrough(ByteBuffer src, long offset) {
        write("write-through", src, offset, backend::writeThrough, null);
    }

    /** A write of {@code src} by {@code how}; with a time limit, from a copy the worker owns. */
    private void write(String kind, ByteBuffer src, long offset, ObjLongConsumer<ByteBuffer> how, FenceCheck fence) {
        if (readOnly) {
            throw new StorageException(ErrorCode.READ_ONLY, "device " + info.ref() + " is read-only");
        }
        int length = src.remaining();
        check(offset, length);
        String what = kind + " of " + length + " bytes at " + offset;
        if (workers == null) {
            perform(what, () -> how.accept(src, offset), fence);
            return;
        }
        ByteBuffer mine = ByteBuffer.allocate(length);
        mine.put(src.duplicate()).flip();
        perform(what, () -> how.accept(mine, offset), fence);
        src.position(src.limit());
    }

    @Override
    public void unmap(long offset, long length) {
        throw new StorageException(ErrorCode.UNSUPPORTED, "device " + info.ref() + " does not support unmap");
    }

    private void perform(String what, Runnable action) {
        perform(what, action, null);
    }

    /** Runs an I/O; a refusal of {@code fence} (null: none) is thrown as it is, not taken for a device failure. */
    private void perform(String what, Runnable action, FenceCheck fence) {
        if (closed) {
            throw new StorageException(ErrorCode.DEVICE_UNAVAILABLE, "device " + info.ref() + " is closed");
        }
        if (!present()) {
            throw new StorageException(ErrorCode.DEVICE_UNAVAILABLE, "device " + info.ref() + ": " + path
                    + " is gone or is not the one that was opened (removed, replaced or unplugged); the device is offline");
        }
        if (workers == null) {
            try {
                action.run();
            } catch (StorageException e) {
                if (fence == null || !fence.refused(e)) {
                    failed(e);
                }
                throw e;
            }
        } else {
            performLimited(what, action, fence);
        }
        if (state != DeviceState.ONLINE && !gone && stuck.get() < maxStuck) {
            setState(DeviceState.ONLINE, what + " succeeded");
        }
    }

    private void performLimited(String what, Runnable action, FenceCheck fence) {
        int nowStuck = stuck.get();
        if (nowStuck >= maxStuck) {
            setState(DeviceState.OFFLINE, nowStuck + " I/Os are stuck");
            throw new StorageException(ErrorCode.DEVICE_UNAVAILABLE, "device " + info.ref() + " is offline: "
                    + nowStuck + " I/Os have not returned after " + timeoutMillis + " ms; new I/O is refused until they do");
        }
        // 0 running, 1 returned, 2 given up (then counted in stuck until it returns)
        AtomicInteger task = new AtomicInteger();
        Future<?> f;
        try {
            f = workers.submit(() -> {
                // Given up before it started (the process was stopped, or the machine overloaded,
                // for longer than the time limit): never issue it. The caller was told it failed,
                // and an I/O issued after its time limit would break what leases on shared
                // storage rely on: an I/O not done within its limit is never done later.
                boolean dropped = task.get() == 2;
                try {
                    if (!dropped) {
                        action.run();
                    }
                } finally {
                    if (!task.compareAndSet(0, 1)) {
                        int left = stuck.decrementAndGet();
                        LOG.log(System.Logger.Level.INFO, "device " + info.ref() + ": a stuck " + what
                                + (dropped ? " was dropped before it started" : " returned at last")
                                + " (" + left + " still stuck)");
                    }
                }
            });
        } catch (RejectedExecutionException e) {
            throw new StorageException(ErrorCode.DEVICE_UNAVAILABLE, "device " + info.ref() + " is closed", e);
        }
        try {
            try {
                f.get(timeoutMillis, TimeUnit.MILLISECONDS);
            } catch (TimeoutException e) {
                if (!task.compareAndSet(0, 2)) {
                    f.get(); // it returned just now: take its outcome
                    return;
                }
                stuck.incrementAndGet();
                setState(DeviceState.DEGRADED, what + " timed out");
                throw new StorageException(ErrorCode.DEVICE_UNAVAILABLE, "device " + info.ref() + ": " + what
                        + " did not complete within " + timeoutMillis + " ms (io.timeout.ms); the device is degraded", e);
            }
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            if (c instanceof StorageException) {
                StorageException se = (StorageException) c;
                if (fence != null && fence.refused(se)) {
                    throw se; // as the fence threw it: not a failure of the device
                }
                failed(se);
                throw new StorageException(se.code(), se.getMessage(), se);
            }
            throw new StorageException(ErrorCode.INTERNAL, "device " + info.ref() + ": " + what + " failed: " + c, c);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            if (task.compareAndSet(0, 2)) {
                stuck.incrementAndGet(); // still in the kernel; counted until it returns
            }
            throw new StorageException(ErrorCode.CANCELLED, "device " + info.ref() + ": " + what
                    + " was interrupted while waiting for the device", e);
        }
    }

    private void failed(StorageException e) {
        if (closed) {
            return;
        }
        if (e.code() == ErrorCode.DEVICE_UNAVAILABLE) {
            setState(DeviceState.OFFLINE, e.getMessage());
        } else if (e.code() == ErrorCode.IO_ERROR) {
            setState(DeviceState.DEGRADED, e.getMessage());
        }
    }

    /** @return whether the node or file is still the one opened; updates the state when that changed */
    private boolean present() {
        Object now = fileKey(path);
        boolean here = now != null && (fileKey == null || fileKey.equals(now));
        if (!here && !gone) {
            gone = true;
            setState(DeviceState.OFFLINE, path + (now == null ? " is gone" : " was replaced"));
        } else if (here && gone) {
            gone = false;
            setState(stuck.get() >= maxStuck ? DeviceState.OFFLINE : DeviceState.ONLINE, path + " is back");
        }
        return here;
    }

    @Override
    public DeviceState state() {
        if (closed) {
            return DeviceState.OFFLINE;
        }
        present();
        return state;
    }

    @Override
    public Subscription addStateListener(Consumer<DeviceState> listener) {
        Listener l = new Listener(Objects.requireNonNull(listener, "listener"));
        if (!closed) {
            listeners.add(l);
        }
        return () -> listeners.remove(l);
    }

    private void setState(DeviceState next, String why) {
        synchronized (stateLock) {
            if (state == next || closed) {
                return;
            }
            DeviceState before = state;
            state = next;
            LOG.log(next == DeviceState.ONLINE ? System.Logger.Level.INFO : System.Logger.Level.WARNING,
                    "device " + info.ref() + " is " + next + " (was " + before + "): " + why);
            for (Listener l : listeners) {
                try {
                    l.consumer.accept(next);
                } catch (RuntimeException e) {
                    LOG.log(System.Logger.Level.WARNING, "a state listener of device " + info.ref() + " failed", e);
                }
            }
        }
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        listeners.clear();
        if (workers != null) {
            workers.shutdownNow();
        }
        backend.close();
    }

    /**
     * Buffered I/O through a FileChannel.
     *
     * <p>Writes reach the file in pieces of at most {@link #MAX_PIECE} bytes. The host's page
     * cache keeps the pages one write brought in as one folio (up to 2 MiB on recent kernels),
     * and a later 4 KiB write into a folio walks every block of it: on this project's machines
     * 4 KiB random writes into a file written 2 MiB at a time ran at a third of the rate of
     * the same writes into one written 256 KiB at a time. A LUN's large writes are mostly
     * allocation (a new block written whole, zeros around the data); the guest's small random
     * writes that follow must not pay for them.
     */
    static final class ChannelBackend implements Backend {
        /** The largest single write into the file (what the NBD server passes on at once, too). */
        static final int MAX_PIECE = 256 << 10;
        private final Path path;
        private final FileChannel channel;
        /**
         * The same file opened {@code O_DSYNC} (null when read-only): a write through it returns
         * once that range is on stable storage, which costs the write-back of those pages and a
         * cache flush, not of every dirty page of the file as {@code fsync} does.
         */
        private final FileChannel dsync;

        ChannelBackend(Path path, FileChannel channel, FileChannel dsync) {
            this.path = path;
            this.channel = channel;
            this.dsync = dsync;
        }

        static ChannelBackend open(DeviceInfo info, Path path, boolean readOnly) {
            FileChannel main = null;
            try {
                if (readOnly) {
                    return new ChannelBackend(path, FileChannel.open(path, StandardOpenOption.READ), null);
                }
                Object before = fileKey(path);
                main = FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE);
                FileChannel dsync = FileChannel.open(path, StandardOpenOption.WRITE, StandardOpenOption.DSYNC);
                if (before == null || !before.equals(fileKey(path))) {
                    // replaced between the two opens: the descriptors may be different files
                    dsync.close();
                    throw new IOException("the file was replaced while it was being opened");
                }
                return new ChannelBackend(path, main, dsync);
            } catch (IOException e) {
                if (main != null) {
                    try {
                        main.close();
                    } catch (IOException ignored) {
                        // the open failed already
                    }
                }
                throw openFailure(info, path, Errno.exception(e, "open", path));
            }
        }

        @Override
        public void read(ByteBuffer dst, long offset) {
            long p = offset;
            try {
                while (dst.hasRemaining()) {
                    int n = channel.read(dst, p);
                    if (n < 0) {
                        throw new StorageException(ErrorCode.IO_ERROR, "cannot read " + path + ": unexpected end of data at " + p);
                    }
                    p += n;
                }
            } catch (IOException e) {
                throw Errno.exception(e, "read", path);
            }
        }

        @Override
        public void write(ByteBuffer src, long offset) {
            write(src, offset, WriteFence.NONE);
        }

        @Override
        public void write(ByteBuffer src, long offset, WriteFence fence) {
            long p = offset;
            int end = src.limit();
            try {
                while (src.position() < end) {
                    // in pieces: the page cache keeps what one write brought in as one folio, and
                    // every later small write into a folio pays for all of it (see MAX_PIECE)
                    src.limit(Math.min(end, src.position() + MAX_PIECE));
                    while (src.hasRemaining()) {
                        fence.check();
                        p += channel.write(src, p);
                    }
                }
            } catch (IOException e) {
                throw Errno.exception(e, "write", path);
            } finally {
                src.limit(end); // the caller's buffer as given, even when a piece failed
            }
        }

        @Override
        public void flush() {
            try {
                channel.force(true);
            } catch (IOException e) {
                throw Errno.exception(e, "flush", path);
            }
        }

        @Override
        public void writeThrough(ByteBuffer src, long offset) {
            long p = offset;
            try {
                while (src.hasRemaining()) {
                    p += dsync.write(src, p);
                }
            } catch (IOException e) {
                throw Errno.exception(e, "write", path);
            }
        }

        @Override
        public boolean uncached() {
            return false;
        }

        @Override
        public void close() {
            for (FileChannel c : new FileChannel[] {channel, dsync}) {
                try {
                    if (c != null) {
                        c.close();
                    }
                } catch (IOException e) {
                    // nothing left to do with a device being released
                }
            }
        }
    }

    /** Uncached I/O through an O_DIRECT descriptor. */
    static final class DirectBackend implements Backend {
        private final DirectFile file;

        private DirectBackend(DirectFile file) {
            this.file = file;
        }

        static DirectBackend open(DeviceInfo info, Path path, boolean readOnly) {
            DirectFile f;
            try {
                f = DirectFile.open(path, !readOnly);
            } catch (StorageException e) {
                if (e.code() == ErrorCode.UNSUPPORTED) {
                    throw new StorageException(ErrorCode.UNSUPPORTED, "device " + info.ref() + ": " + e.getMessage()
                            + "; attach it without direct=true to use the page cache", e);
                }
                throw openFailure(info, path, e);
            }
            if (f.alignment() > info.sectorSize()) {
                f.close();
                throw new StorageException(ErrorCode.UNSUPPORTED, "device " + info.ref() + ": uncached I/O on " + path
                        + " must be aligned to " + f.alignment() + " bytes, more than the device's " + info.sectorSize()
                        + "-byte sectors; attach it without direct=true to use the page cache");
            }
            return new DirectBackend(f);
        }

        @Override
        public void read(ByteBuffer dst, long offset) {
            file.read(dst, offset);
        }

        @Override
        public void write(ByteBuffer src, long offset) {
            file.write(src, offset);
        }

        @Override
        public void write(ByteBuffer src, long offset, WriteFence fence) {
            file.write(src, offset, fence);
        }

        @Override
        public void flush() {
            file.sync();
        }

        @Override
        public boolean uncached() {
            return file.isUncached();
        }

        @Override
        public void close() {
            file.close();
        }
    }
}

package io.strata.posix;

import io.strata.api.ErrorCode;
import io.strata.api.device.WriteFence;
import io.strata.api.StorageException;
import io.strata.api.fs.DatastoreFile;
import io.strata.api.fs.FileSlice;
import io.strata.api.fs.FileWindow;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Optional;
import java.util.concurrent.locks.ReentrantLock;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.Consumer;

/**
 * A file of a local directory datastore. Data goes through a {@link FileChannel};
 * fallocate, ftruncate and locks through a native descriptor. The channel is opened
 * through {@code /proc/self/fd/N} of that descriptor, so both always refer to the
 * same inode even if the name is renamed or replaced in between.
 */
public final class LocalFile implements DatastoreFile {
    private final String name;
    private final Path path;
    private final boolean writable;
    private final int fd;
    private final FileChannel channel;
    private final Consumer<LocalFile> onClose;
    /** Run right before each system call that changes the file (null: none); see {@link #open(String, Path, boolean, boolean, WriteFence, Consumer)}. */
    private final WriteFence fence;
    /** Keeps the descriptor number from being closed (and reused) under a running native call. */
    private final ReentrantReadWriteLock guard = new ReentrantReadWriteLock();
    private volatile boolean closed;
    /** Open {@link FileSlice}s; while there are any, {@link #close()} leaves the descriptor open. */
    private final Object pinLock = new Object();
    private int pins; // guarded by pinLock
    private boolean released; // guarded by pinLock

    /**
     * Writes of at least this many bytes take turns on {@link #writeTurn}. Linux filesystems
     * (ext4, XFS) hold a file's inode lock exclusively through every buffered write, and a writer
     * that finds it held spins for as long as its holder runs. A 1 MiB write holds it for about
     * a quarter of a millisecond; several writers of such payloads to one image (an NBD export
     * served over four connections) then spin on the cores their clients need. A writer that
     * waits here sleeps instead. Smaller writes go straight to the kernel: at 128 KiB over four
     * NBD connections, turns measured no better than the kernel's spinning.
     */
    static final int TURN_MIN = 256 << 10;
    /** Large writes to this file, one at a time, as the kernel would run them (see {@link #TURN_MIN}). */
    final ReentrantLock writeTurn = new ReentrantLock();
    private final java.util.concurrent.atomic.AtomicLong turnWaits = new java.util.concurrent.atomic.AtomicLong();

    private LocalFile(String name, Path path, boolean writable, int fd, FileChannel channel,
            WriteFence fence, Consumer<LocalFile> onClose) {
        this.fence = fence;
        this.name = name;
        this.path = path;
        this.writable = writable;
        this.fd = fd;
        this.channel = channel;
        this.onClose = onClose;
    }

    /**
     * Opens or creates a file.
     *
     * @param name the name reported by {@link #name()}
     * @param path the file
     * @param writable open for writing
     * @param createNew create the file; {@code ALREADY_EXISTS} if it exists
     * @param onClose called once when the file is closed (may be null)
     * @return the open file
     */
    public static LocalFile open(String name, Path path, boolean writable, boolean createNew,
            Consumer<LocalFile> onClose) {
        return open(name, path, writable, createNew, null, onClose);
    }

    /**
     * Opens or creates a file whose writes first pass {@code fence}: in the thread that makes
     * the system call, right before each {@code pwrite}, {@code pwritev}, {@code ftruncate} and
     * {@code fallocate}, after this file's own locks and turns. A thread that halted after its
     * caller's check and woke when the fence refuses (the host's lease expired meanwhile) then
     * changes nothing; what a refused write had issued before stays, nothing after. The refusal
     * is the fence's own exception.
     *
     * @param fence the check, or null for none
     * @see #open(String, Path, boolean, boolean, Consumer)
     */
    public static LocalFile open(String name, Path path, boolean writable, boolean createNew, WriteFence fence,
            Consumer<LocalFile> onClose) {
        int fd = Posix.open(path, writable || createNew, createNew);
        try {
            FileChannel ch = writable || createNew
                    ? FileChannel.open(Posix.procPath(fd), StandardOpenOption.READ, StandardOpenOption.WRITE)
                    : FileChannel.open(Posix.procPath(fd), StandardOpenOption.READ);
            return new LocalFile(name, path, writable || createNew, fd, ch, fence, onClose);
        } catch (IOException e) {
            Posix.close(fd);
            throw Errno.exception(e, "open", path);
        } catch (RuntimeException e) {
            Posix.close(fd);
            throw e;
        }
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public boolean writable() {
        return writable;
    }

    private void fence() {
        if (fence != null) {
            fence.check();
        }
    }

    private void checkOpen() {
        if (closed) {
            throw new StorageException(ErrorCode.DEVICE_UNAVAILABLE, "file " + path + " is closed");
        }
    }

    private void checkWritable() {
        checkOpen();
        if (!writable) {
            throw new StorageException(ErrorCode.READ_ONLY, "file " + path + " is open read-only");
        }
    }

    private static void checkRange(long position, long length, Path path) {
        if (position < 0 || length < 0 || position + length < 0) {
            throw new StorageException(ErrorCode.INVALID_ARGUMENT,
                    "bad range " + position + "+" + length + " for " + path);
        }
    }

    @Override
    public long size() {
        checkOpen();
        try {
            return channel.size();
        } catch (IOException e) {
            throw Errno.exception(e, "read the size of", path);
        }
    }

    @Override
    public long allocatedBytes() {
        checkOpen();
        guard.readLock().lock();
        try {
            checkOpen();
            long a = Posix.allocatedBytes(fd);
            return a >= 0 ? a : channel.size();
        } catch (IOException e) {
            throw Errno.exception(e, "read the size of", path);
        } finally {
            guard.readLock().unlock();
        }
    }

    @Override
    public int read(ByteBuffer dst, long position) {
        checkOpen();
        checkRange(position, dst.remaining(), path);
        int total = 0;
        try {
            while (dst.hasRemaining()) {
                int n = channel.read(dst, position + total);
                if (n < 0) {
                    break;
                }
                total += n;
            }
            return total;
        } catch (IOException e) {
            throw Errno.exception(e, "read", path);
        }
    }

    @Override
    public void write(ByteBuffer src, long position) {
        checkWritable();
        checkRange(position, src.remaining(), path);
        if (src.remaining() >= TURN_MIN) {
            takeTurn();
            try {
                writeAll(src, position);
            } finally {
                writeTurn.unlock();
            }
            return;
        }
        writeAll(src, position);
    }

    /** Takes {@link #writeTurn}, counting a wait for a writer that holds it. */
    private void takeTurn() {
        if (!writeTurn.tryLock()) {
            turnWaits.incrementAndGet();
            writeTurn.lock();
        }
    }

    /** @return how many large writes found another writing and waited for their turn (for tests) */
    long turnWaits() {
        return turnWaits.get();
    }

    private void writeAll(ByteBuffer src, long position) {
        long p = position;
        try {
            while (src.hasRemaining()) {
                fence();
                p += channel.write(src, p);
            }
        } catch (IOException e) {
            throw Errno.exception(e, "write", path);
        }
    }

    /**
     * Direct buffers are filled in one scattering preadv (again after a short read, until the
     * end of the file); buffers on the heap are read one by one.
     */
    @Override
    public long read(ByteBuffer[] dsts, long position) {
        checkOpen();
        checkedLength(dsts, position);
        if (!vectored(dsts)) {
            return DatastoreFile.super.read(dsts, position);
        }
        return transfer(dsts, position, false);
    }

    /**
     * Direct buffers go to the file in one gathering pwritev (a payload that arrived in several
     * pooled buffers costs one system call and one turn of the inode lock); buffers on the heap
     * are written one by one. A write of {@link #TURN_MIN} bytes or more takes its turn first.
     */
    @Override
    public void write(ByteBuffer[] srcs, long position) {
        checkWritable();
        boolean turn = checkedLength(srcs, position) >= TURN_MIN;
        boolean direct = vectored(srcs);
        if (turn) {
            takeTurn();
        }
        try {
            if (direct) {
                transfer(srcs, position, true);
            } else {
                long p = position;
                for (ByteBuffer b : srcs) { // one by one, in this one turn
                    int n = b.remaining();
                    writeAll(b, p);
                    p += n;
                }
            }
        } finally {
            if (turn) {
                writeTurn.unlock();
            }
        }
    }

    /** @return the bytes the buffers hold, checked as a range from {@code position} */
    private long checkedLength(ByteBuffer[] bufs, long position) {
        long total = 0;
        for (ByteBuffer b : bufs) {
            total += b.remaining();
        }
        checkRange(position, total, path);
        return total;
    }

    /** @return whether one preadv/pwritev can take the buffers: all direct, not too many */
    private static boolean vectored(ByteBuffer[] bufs) {
        boolean direct = bufs.length <= Posix.IOV_MAX;
        for (ByteBuffer b : bufs) {
            direct &= b.isDirect();
        }
        return direct;
    }

    private long transfer(ByteBuffer[] bufs, long position, boolean write) {
        guard.readLock().lock();
        try {
            checkOpen();
            if (write) {
                fence();
            }
            return Posix.transferAll(fd, bufs, position, write, path);
        } finally {
            guard.readLock().unlock();
        }
    }

    @Override
    public void setSize(long size) {
        checkWritable();
        checkRange(size, 0, path);
        native_(() -> Posix.truncate(fd, size, path));
    }

    @Override
    public void allocate(long position, long length) {
        checkWritable();
        checkRange(position, length, path);
        if (length == 0) {
            return;
        }
        native_(() -> Posix.allocate(fd, position, length, path));
    }

    @Override
    public void punchHole(long position, long length) {
        checkWritable();
        checkRange(position, length, path);
        if (length == 0) {
            return;
        }
        native_(() -> Posix.punchHole(fd, position, length, path));
    }

    /** Runs a call that changes the file (its size, its blocks), after the fence. */
    private void native_(Runnable call) {
        guard.readLock().lock();
        try {
            checkOpen();
            fence();
            call.run();
        } finally {
            guard.readLock().unlock();
        }
    }

    @Override
    public void flush() {
        checkOpen();
        try {
            channel.force(true);
        } catch (IOException e) {
            throw Errno.exception(e, "sync", path);
        }
    }

    @Override
    public AutoCloseable lock(boolean exclusive) {
        checkOpen();
        guard.readLock().lock();
        try {
            checkOpen();
            if (!Posix.lock(fd, exclusive, path)) {
                throw new StorageException(ErrorCode.LOCKED, "file " + path + " is locked by another user");
            }
        } finally {
            guard.readLock().unlock();
        }
        return new AutoCloseable() {
            private boolean released;

            @Override
            public synchronized void close() {
                if (released) {
                    return;
                }
                released = true;
                guard.readLock().lock();
                try {
                    if (!closed) {
                        Posix.unlock(fd, path);
                    }
                } finally {
                    guard.readLock().unlock();
                }
            }
        };
    }

    @Override
    public Optional<Path> localPath() {
        return Optional.of(path);
    }

    /** @return whether {@link #close()} was called */
    public boolean isClosed() {
        return closed;
    }

    /**
     * A slice sent with {@link FileChannel#transferTo} ({@code sendfile(2)} to a socket). It
     * pins the descriptor: closing the file meanwhile defers closing it to the last slice.
     */
    @Override
    public Optional<FileSlice> slice(long position, long length) {
        checkRange(position, length, path);
        synchronized (pinLock) {
            checkOpen();
            pins++;
        }
        return Optional.of(new Slice(position, length));
    }

    private final class Slice implements FileSlice {
        private final long position;
        private final long length;
        private boolean done; // guarded by pinLock

        Slice(long position, long length) {
            this.position = position;
            this.length = length;
        }

        @Override
        public long length() {
            return length;
        }

        @Override
        public void transferTo(WritableByteChannel target) throws IOException {
            long sent = 0;
            while (sent < length) {
                long n = channel.transferTo(position + sent, length - sent, target);
                if (n <= 0) {
                    // A blocking target takes at least one byte: nothing sent means the file ends here.
                    throw new IOException("file " + path + " ends before " + (position + length) + " (sent "
                            + sent + " of " + length + " bytes from " + position + ")");
                }
                sent += n;
            }
        }

        @Override
        public void close() {
            boolean release;
            synchronized (pinLock) {
                if (done) {
                    return;
                }
                done = true;
                release = --pins == 0 && closed;
            }
            if (release) {
                release();
            }
        }

        @Override
        public String toString() {
            return "slice " + position + "+" + length + " of " + path;
        }
    }

    /** Windows are cut from mappings of this size, aligned to it: a window never spans two. */
    static final int MAP_CHUNK = 64 << 20;
    /** How many chunks stay mapped (2 GiB of address space); the least recently used goes first. */
    static final int MAX_MAPPED = 32;
    /** Mapped chunks by index, in access order; guarded by itself. */
    private final java.util.LinkedHashMap<Long, Chunk> chunks = new java.util.LinkedHashMap<>(16, 0.75f, true);
    private final java.util.concurrent.atomic.AtomicLong windows = new java.util.concurrent.atomic.AtomicLong();

    /** One mapping; unmapped once dropped (evicted, or the file closed) and no window uses it. */
    private static final class Chunk {
        final com.sun.jna.Pointer address;
        int users; // guarded by chunks
        boolean dropped; // guarded by chunks

        Chunk(com.sun.jna.Pointer address) {
            this.address = address;
        }
    }

    /**
     * A window into a shared mapping of the file (see {@link FileWindow}), for a range inside the
     * file, inside one 64 MiB chunk, with no hole: a store into it needs no new block, so it
     * cannot fail for want of space (which a mapping could only report as a fault).
     */
    @Override
    public Optional<FileWindow> window(long position, int length) {
        checkWritable();
        checkRange(position, length, path);
        if (length <= 0 || position / MAP_CHUNK != (position + length - 1) / MAP_CHUNK) {
            return Optional.empty();
        }
        long index = position / MAP_CHUNK;
        Chunk c;
        guard.readLock().lock();
        try {
            checkOpen();
            long hole = Posix.nextHole(fd, position);
            if (hole < position + length) {
                return Optional.empty(); // a hole, past the end, or the call failed
            }
            c = acquire(index);
        } finally {
            guard.readLock().unlock();
        }
        if (c == null) {
            return Optional.empty();
        }
        windows.incrementAndGet();
        ByteBuffer b = c.address.getByteBuffer(position - index * MAP_CHUNK, length);
        return Optional.of(new Window(c, b, position));
    }

    /** @return how many windows were handed out (for tests) */
    public long windows() {
        return windows.get();
    }

    /** @return the chunk, mapped and with one more user, or null when it cannot be mapped */
    private Chunk acquire(long index) {
        synchronized (chunks) {
            Chunk c = chunks.get(index);
            if (c == null) {
                com.sun.jna.Pointer p = Posix.mapShared(fd, index * MAP_CHUNK, MAP_CHUNK);
                if (p == null) {
                    return null;
                }
                c = new Chunk(p);
                chunks.put(index, c);
                if (chunks.size() > MAX_MAPPED) {
                    var eldest = chunks.entrySet().iterator();
                    Chunk old = eldest.next().getValue();
                    eldest.remove();
                    drop(old);
                }
            }
            c.users++;
            return c;
        }
    }

    /** Caller holds {@code chunks}. */
    private static void drop(Chunk c) {
        c.dropped = true;
        if (c.users == 0) {
            Posix.unmap(c.address, MAP_CHUNK);
        }
    }

    private final class Window implements FileWindow {
        private final Chunk chunk;
        private final ByteBuffer buffer;
        private final long position;
        private boolean done; // guarded by chunks

        Window(Chunk chunk, ByteBuffer buffer, long position) {
            this.chunk = chunk;
            this.buffer = buffer;
            this.position = position;
        }

        @Override
        public ByteBuffer buffer() {
            return buffer;
        }

        /** A {@code pwrite} at the window's position in the file: no store into the mapping. */
        @Override
        public void write(ByteBuffer src) {
            int n = src.remaining();
            if (n > buffer.remaining()) {
                throw new StorageException(ErrorCode.INVALID_ARGUMENT, n + " bytes for the " + buffer.remaining()
                        + " left in a window of " + path);
            }
            LocalFile.this.write(src, position + buffer.position());
            buffer.position(buffer.position() + n);
        }

        @Override
        public void close() {
            synchronized (chunks) {
                if (done) {
                    return;
                }
                done = true;
                if (--chunk.users == 0 && chunk.dropped) {
                    Posix.unmap(chunk.address, MAP_CHUNK);
                }
            }
        }
    }

    @Override
    public void close() {
        boolean release;
        guard.writeLock().lock();
        try {
            if (closed) {
                return;
            }
            synchronized (pinLock) {
                closed = true;
                release = pins == 0;
            }
            synchronized (chunks) {
                chunks.values().forEach(LocalFile::drop); // a window in use keeps its chunk until closed
                chunks.clear();
            }
        } finally {
            guard.writeLock().unlock();
        }
        if (release) {
            release();
        }
        if (onClose != null) {
            onClose.accept(this);
        }
    }

    /** Closes channel and descriptor, once, after {@link #close()} and the last slice. */
    private void release() {
        guard.writeLock().lock();
        try {
            synchronized (pinLock) {
                if (released) {
                    return;
                }
                released = true;
            }
            try {
                channel.close();
            } catch (IOException e) {
                // the data was already handed to the kernel; close errors carry nothing to act on
            }
            Posix.close(fd); // also releases the descriptor's lock
        } finally {
            guard.writeLock().unlock();
        }
    }

    @Override
    public String toString() {
        return "LocalFile[" + path + (writable ? ", rw" : ", ro") + "]";
    }
}

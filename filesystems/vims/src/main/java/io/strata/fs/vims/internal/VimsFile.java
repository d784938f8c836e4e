package io.strata.fs.vims.internal;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.fs.DatastoreFile;
import io.strata.lease.LeaseHeldException;
import io.strata.lease.ResourceLease;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;

/**
 * An open VIMS file. Reads and writes of blocks that are allocated and written go straight to
 * the device; a write into a hole (or a block reserved but never written) allocates under the
 * file's metadata lock, writes the whole block (the data, zeros around it) and only then
 * commits the metadata that points at it, so no file ever shows bytes another file left there.
 */
final class VimsFile implements DatastoreFile {
    private static final byte[] ZEROS = new byte[64 * 1024];
    private final Vims fs;
    final Vims.Node node;
    private final String name;
    private final boolean writable;
    private volatile boolean closed;

    VimsFile(Vims fs, Vims.Node node, String name, boolean writable) {
        this.fs = fs;
        this.node = node;
        this.name = name;
        this.writable = writable;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public boolean writable() {
        return writable;
    }

    private void checkOpen() {
        if (closed) {
            throw new StorageException(ErrorCode.IO_ERROR, "file '" + name + "' is closed");
        }
        fs.checkOpen();
    }

    private void checkWritable() {
        checkOpen();
        if (!writable) {
            throw new StorageException(ErrorCode.READ_ONLY, "file '" + name + "' is open read-only");
        }
    }

    @Override
    public long size() {
        checkOpen();
        refreshIfReader();
        return node.desc.size();
    }

    /** A reader on this host may see what the writing host changed since: re-read when this host does not write it. */
    private void refreshIfReader() {
        if (!node.owned()) {
            node.meta.lock();
            try {
                if (!node.owned()) {
                    fs.reload(node, name);
                }
            } finally {
                node.meta.unlock();
            }
        }
    }

    @Override
    public long allocatedBytes() {
        checkOpen();
        return node.desc.allocated() * fs.sb.blockSize();
    }

    @Override
    public int read(ByteBuffer dst, long position) {
        checkOpen();
        if (position < 0) {
            throw new StorageException(ErrorCode.INVALID_ARGUMENT, "negative position " + position);
        }
        boolean reloaded = false;
        long size = node.desc.size();
        if (position + dst.remaining() > size && !node.owned()) {
            refreshIfReader();
            reloaded = true;
            size = node.desc.size();
        }
        if (position >= size) {
            return 0;
        }
        int n = (int) Math.min(dst.remaining(), size - position);
        int bs = fs.sb.blockSize();
        int done = 0;
        while (done < n) {
            long pos = position + done;
            long lb = pos / bs;
            int off = (int) (pos % bs);
            int len = Math.min(n - done, bs - off);
            long p = fs.pointer(node, lb);
            if ((p == 0 || Descriptor.unwritten(p)) && !reloaded && !node.owned()) {
                refreshIfReader(); // another host may have written it since this host read the mapping
                reloaded = true;
                p = fs.pointer(node, lb);
            }
            ByteBuffer part = dst.duplicate();
            part.limit(dst.position() + done + len).position(dst.position() + done);
            if (p == 0 || Descriptor.unwritten(p)) {
                while (part.hasRemaining()) {
                    part.put(ZEROS, 0, Math.min(ZEROS.length, part.remaining()));
                }
            } else {
                fs.disk.read(part, fs.sb.blockOffset(Descriptor.block(p)) + off);
            }
            done += len;
        }
        dst.position(dst.position() + n);
        return n;
    }

    @Override
    public void write(ByteBuffer src, long position) {
        checkWritable();
        if (position < 0) {
            throw new StorageException(ErrorCode.INVALID_ARGUMENT, "negative position " + position);
        }
        int n = src.remaining();
        long end = position + n;
        int bs = fs.sb.blockSize();
        long lastBlock = n == 0 ? position / bs : (end - 1) / bs;
        if (lastBlock >= fs.maxFileBlocks()) {
            throw new StorageException(ErrorCode.SIZE_TOO_LARGE, "file '" + name + "' cannot grow past "
                    + fs.maxFileBlocks() * bs + " bytes on this VIMS (" + Vims.sizeText(bs) + " blocks)");
        }
        long firstSlow = -1;
        long lastSlow = -1;
        int done = 0;
        while (done < n) {
            long pos = position + done;
            long lb = pos / bs;
            int off = (int) (pos % bs);
            int len = Math.min(n - done, bs - off);
            long p = fs.pointer(node, lb);
            if (p == 0 || Descriptor.unwritten(p)) {
                if (firstSlow < 0) {
                    firstSlow = lb;
                }
                lastSlow = lb;
            } else {
                ByteBuffer part = src.duplicate();
                part.limit(src.position() + done + len).position(src.position() + done);
                fs.disk.write(part, fs.sb.blockOffset(Descriptor.block(p)) + off);
            }
            done += len;
        }
        if (firstSlow >= 0 || end > node.desc.size()) {
            node.meta.lock();
            try {
                fs.checkOpen();
                if (firstSlow >= 0) {
                    // blocks another thread gave out meanwhile: written directly, like the fast path
                    for (long lb = firstSlow; lb <= lastSlow; lb++) {
                        long p = fs.pointer(node, lb);
                        if (p != 0 && !Descriptor.unwritten(p)) {
                            long s = Math.max(position, lb * bs);
                            long e = Math.min(end, (lb + 1) * bs);
                            ByteBuffer part = src.duplicate();
                            part.limit(src.position() + (int) (e - position)).position(src.position() + (int) (s - position));
                            fs.disk.write(part, fs.sb.blockOffset(Descriptor.block(p)) + s - lb * bs);
                        }
                    }
                    fs.fill(node, firstSlow, lastSlow + 1, src, position, false, end);
                } else {
                    fs.fill(node, 0, 0, null, 0, false, end);
                }
            } finally {
                node.meta.unlock();
            }
        }
        src.position(src.position() + n);
    }

    /**
     * Pieces in blocks that are allocated and written, sector aligned on the device, go to the
     * device's asynchronous reads without waiting (an iSCSI LUN keeps many under way); holes of
     * a file this host writes read as zeros at once. Anything else (a hole another host may have
     * filled since, a piece not sector aligned, a range past the end) runs {@link #read} on the
     * filesystem's own threads.
     */
    @Override
    public CompletableFuture<Void> readAsync(ByteBuffer dst, long position) {
        checkOpen();
        if (position < 0) {
            throw new StorageException(ErrorCode.INVALID_ARGUMENT, "negative position " + position);
        }
        long one = oneWrittenPiece(position, dst.remaining());
        if (one >= 0) {
            return fs.disk.device.readAsync(dst, one); // the common case: no stage of its own
        }
        long[] at = direct(position, dst.remaining(), false);
        if (at == null) {
            return slow(() -> {
                int want = dst.remaining();
                if (read(dst, position) != want) {
                    throw new StorageException(ErrorCode.IO_ERROR, "file '" + name + "' ends before the " + want
                            + " bytes read at " + position);
                }
            });
        }
        return pieces(at, dst, position, false);
    }

    /**
     * As {@link #readAsync}: a write whose every piece lies in blocks allocated and written goes
     * to the device without waiting, after the same fence check as {@link #write}; a write that
     * allocates or grows the file runs {@link #write} on the filesystem's own threads.
     */
    @Override
    public CompletableFuture<Void> writeAsync(ByteBuffer src, long position) {
        checkWritable();
        if (position < 0) {
            throw new StorageException(ErrorCode.INVALID_ARGUMENT, "negative position " + position);
        }
        long one = oneWrittenPiece(position, src.remaining());
        if (one >= 0) {
            fs.disk.checkWritable();
            return fs.disk.device.writeAsync(src, one, fs.disk.fence);
        }
        long[] at = direct(position, src.remaining(), true);
        if (at == null) {
            return slow(() -> write(src, position));
        }
        fs.disk.checkWritable();
        return pieces(at, src, position, true);
    }

    /**
     * @return the device offset of {@code [position, position + n)} when it lies inside one
     *     written block of the file, sector aligned on the device; else -1
     */
    private long oneWrittenPiece(long position, int n) {
        int bs = fs.sb.blockSize();
        long off = position % bs;
        if (n == 0 || off + n > bs || position + n > node.desc.size()) {
            return -1;
        }
        long p = fs.pointer(node, position / bs);
        if (p == 0 || Descriptor.unwritten(p)) {
            return -1;
        }
        long at = fs.sb.blockOffset(Descriptor.block(p)) + off;
        int ss = fs.disk.device.sectorSize();
        return at % ss == 0 && n % ss == 0 ? at : -1;
    }

    private CompletableFuture<Void> slow(Runnable blocking) {
        try {
            return CompletableFuture.runAsync(blocking, fs.slowIo);
        } catch (java.util.concurrent.RejectedExecutionException e) {
            throw new StorageException(ErrorCode.DEVICE_UNAVAILABLE, "VIMS '" + fs.name + "' is unmounted", e);
        }
    }

    /**
     * @return for each block the range spans, the device offset of the range's piece in it
     *     (-1: a hole this host's view is sure of, read as zeros), or null when some piece must
     *     take the blocking path
     */
    private long[] direct(long position, int n, boolean write) {
        if (n == 0 || position + n > node.desc.size()) {
            return null;
        }
        int bs = fs.sb.blockSize();
        int ss = fs.disk.device.sectorSize();
        long first = position / bs;
        long last = (position + n - 1) / bs;
        if (last - first > 16) {
            return null;
        }
        long[] at = new long[(int) (last - first + 1)];
        for (int i = 0; i < at.length; i++) {
            long lb = first + i;
            long from = Math.max(position, lb * bs);
            long to = Math.min(position + n, (lb + 1) * bs);
            long p = fs.pointer(node, lb);
            if (p == 0 || Descriptor.unwritten(p)) {
                if (write || !node.owned()) {
                    return null;
                }
                at[i] = -1;
                continue;
            }
            long off = fs.sb.blockOffset(Descriptor.block(p)) + from - lb * bs;
            if (off % ss != 0 || (to - from) % ss != 0) {
                return null;
            }
            at[i] = off;
        }
        return at;
    }

    /**
     * Starts the device I/O of each piece; the buffer's position is at its limit once all are
     * done. Pieces in blocks that lie one after the other on the device go as one request (a
     * file whose blocks were allocated in order is one run on the LUN): a 1 MiB request that
     * crosses a block boundary stays one request to the array.
     */
    private CompletableFuture<Void> pieces(long[] at, ByteBuffer buf, long position, boolean write) {
        int bs = fs.sb.blockSize();
        int end = buf.limit();
        int pos = buf.position();
        long file = position;
        CompletableFuture<?>[] parts = new CompletableFuture<?>[at.length];
        int started = 0;
        int runStart = -1; // buffer position where the current run of device-contiguous pieces starts
        long runDevice = 0;
        int runLen = 0;
        for (long a : at) {
            int len = (int) Math.min(end - pos, bs - file % bs);
            if (a < 0) {
                ByteBuffer part = buf.duplicate().limit(pos + len).position(pos);
                while (part.hasRemaining()) {
                    part.put(ZEROS, 0, Math.min(ZEROS.length, part.remaining()));
                }
            } else if (runStart >= 0 && runDevice + runLen == a) {
                runLen += len;
                pos += len;
                file += len;
                continue;
            }
            if (runStart >= 0) {
                parts[started++] = deviceIo(buf, runStart, runLen, runDevice, write);
                runStart = -1;
            }
            if (a >= 0) {
                runStart = pos;
                runDevice = a;
                runLen = len;
            }
            pos += len;
            file += len;
        }
        if (runStart >= 0) {
            parts[started++] = deviceIo(buf, runStart, runLen, runDevice, write);
        }
        if (started == 0) {
            buf.position(end);
            return CompletableFuture.completedFuture(null);
        }
        CompletableFuture<Void> all = started == 1 ? parts[0].thenRun(() -> { })
                : CompletableFuture.allOf(java.util.Arrays.copyOf(parts, started));
        return all.thenRun(() -> buf.position(end));
    }

    private CompletableFuture<Void> deviceIo(ByteBuffer buf, int from, int len, long device, boolean write) {
        ByteBuffer part = buf.duplicate().limit(from + len).position(from);
        return write ? fs.disk.device.writeAsync(part, device, fs.disk.fence) : fs.disk.device.readAsync(part, device);
    }

    @Override
    public void setSize(long size) {
        checkWritable();
        if (size < 0) {
            throw new StorageException(ErrorCode.INVALID_ARGUMENT, "negative size " + size);
        }
        if (size > fs.maxFileBlocks() * fs.sb.blockSize()) {
            throw new StorageException(ErrorCode.SIZE_TOO_LARGE, "file '" + name + "' cannot be larger than "
                    + fs.maxFileBlocks() * fs.sb.blockSize() + " bytes on this VIMS");
        }
        node.meta.lock();
        try {
            fs.checkOpen();
            if (size < node.desc.size()) {
                fs.truncate(node, size);
            } else if (size > node.desc.size()) {
                fs.fill(node, 0, 0, null, 0, false, size);
            }
        } finally {
            node.meta.unlock();
        }
    }

    @Override
    public void allocate(long position, long length) {
        checkWritable();
        if (position < 0 || length < 0) {
            throw new StorageException(ErrorCode.INVALID_ARGUMENT, "negative range " + position + "+" + length);
        }
        if (length == 0) {
            return;
        }
        int bs = fs.sb.blockSize();
        long end = position + length;
        if ((end - 1) / bs >= fs.maxFileBlocks()) {
            throw new StorageException(ErrorCode.SIZE_TOO_LARGE, "file '" + name + "' cannot grow past "
                    + fs.maxFileBlocks() * bs + " bytes on this VIMS");
        }
        node.meta.lock();
        try {
            fs.checkOpen();
            fs.fill(node, position / bs, (end + bs - 1) / bs, null, 0, true, Math.max(node.desc.size(), end));
        } finally {
            node.meta.unlock();
        }
    }

    @Override
    public void punchHole(long position, long length) {
        checkWritable();
        if (position < 0 || length < 0) {
            throw new StorageException(ErrorCode.INVALID_ARGUMENT, "negative range " + position + "+" + length);
        }
        int bs = fs.sb.blockSize();
        node.meta.lock();
        try {
            fs.checkOpen();
            long size = node.desc.size();
            long end = Math.min(position + length, size);
            if (position >= end) {
                return;
            }
            long firstWhole = (position + bs - 1) / bs;
            long endWhole = end == size ? (end + bs - 1) / bs : end / bs; // the last block counts whole at EOF
            if (endWhole > firstWhole) {
                zeroPart(position, firstWhole * bs); // partial blocks at the edges read as zeros from now on
                zeroPart(Math.min(endWhole * bs, end), end);
                fs.freeRange(node, firstWhole, endWhole, false);
            } else {
                zeroPart(position, end);
            }
        } finally {
            node.meta.unlock();
        }
    }

    private void zeroPart(long from, long to) {
        int bs = fs.sb.blockSize();
        for (long pos = from; pos < to; ) {
            long lb = pos / bs;
            long stop = Math.min(to, (lb + 1) * bs);
            long p = fs.pointer(node, lb);
            if (p != 0 && !Descriptor.unwritten(p)) {
                ByteBuffer z = ByteBuffer.allocate((int) (stop - pos));
                fs.disk.write(z, fs.sb.blockOffset(Descriptor.block(p)) + pos - lb * bs);
            }
            pos = stop;
        }
    }

    @Override
    public void flush() {
        checkOpen();
        fs.disk.flush();
    }

    @Override
    public AutoCloseable lock(boolean exclusive) {
        checkOpen();
        if (exclusive) {
            if (node.owned()) {
                return () -> {
                };
            }
            ResourceLease l;
            try {
                l = fs.acquire(fs.sb.fileArea(node.index), "file " + name, Duration.ZERO);
            } catch (LeaseHeldException e) {
                throw new StorageException(ErrorCode.LOCKED, "file '" + name + "' is locked by host " + e.holder());
            }
            try {
                // the lease is the directory entry's: a handle that took no lease (a reader) may
                // outlive its file, and the entry may hold another file now. Held, the lease keeps
                // deletes out, so one look settles it.
                fs.checkStillExists(node, name);
            } catch (RuntimeException e) {
                l.close();
                throw e;
            }
            return l::close;
        }
        if (!node.owned()) {
            // the holder of the entry's lease says nothing of this file once it is gone
            fs.checkStillExists(node, name);
            Optional<io.strata.lease.HostIdentity> holder = fs.ls.holder(fs.sb.fileArea(node.index));
            if (holder.isPresent() && !holder.get().id().equals(fs.ls.me().id())) {
                throw new StorageException(ErrorCode.LOCKED, "file '" + name + "' is open for writing on host "
                        + holder.get());
            }
        }
        return () -> {
        };
    }

    /**
     * Yes: a VIMS lives on a shared LUN whose requests are round trips, many of which can be
     * under way at once ({@link #readAsync}, {@link #writeAsync}). On a file LUN the device's
     * asynchronous calls complete in the caller, which costs nothing.
     */
    @Override
    public boolean concurrentIo() {
        return true;
    }

    @Override
    public Optional<Path> localPath() {
        return Optional.empty();
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            fs.closed(node, writable);
        } catch (RuntimeException e) {
            // never throws
        }
    }
}

package io.strata.raw.internal;

import io.strata.api.Bounds;
import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.format.Extent;
import io.strata.api.format.Provisioning;
import io.strata.api.format.VirtualDisk;
import io.strata.api.fs.DatastoreFile;
import io.strata.api.fs.FileSlice;
import io.strata.api.fs.FileWindow;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Optional;

/** An open raw image: I/O goes straight to the file at the same offsets, without locks. */
final class RawDisk implements VirtualDisk {
    private final DatastoreFile file;
    private final boolean readOnly;
    private final Provisioning provisioning;
    private final Object resizeLock = new Object();
    private volatile long size;
    private volatile boolean closed;

    RawDisk(DatastoreFile file, boolean readOnly, long size, Provisioning provisioning) {
        this.file = file;
        this.readOnly = readOnly;
        this.size = size;
        this.provisioning = provisioning;
    }

    @Override
    public String format() {
        return RawFormat.TYPE;
    }

    @Override
    public long virtualSize() {
        return size;
    }

    @Override
    public Provisioning provisioning() {
        return provisioning;
    }

    @Override
    public boolean readOnly() {
        return readOnly;
    }

    private void checkRange(long offset, long length) {
        long s = size;
        if (!Bounds.inRange(offset, length, s)) {
            throw new StorageException(ErrorCode.OUT_OF_RANGE, "range " + Bounds.unsigned(offset) + "+"
                    + Bounds.unsigned(length)
                    + " lies outside the " + s + "-byte disk '" + file.name() + "'");
        }
        if (closed) {
            throw new StorageException(ErrorCode.DEVICE_UNAVAILABLE, "disk '" + file.name() + "' is closed");
        }
    }

    private void checkWritable() {
        if (readOnly) {
            throw new StorageException(ErrorCode.READ_ONLY, "disk '" + file.name() + "' is open read-only");
        }
    }

    /** A raw image is its file; a range past the end of a short file is left to read, which reports it. */
    @Override
    public Optional<FileSlice> slice(long offset, int length) {
        checkRange(offset, length);
        return length <= 0 || offset + length > file.size() ? Optional.empty() : file.slice(offset, length);
    }

    /** A raw image is its file: the file's window for the same range, where it has one. */
    @Override
    public Optional<FileWindow> window(long offset, int length) {
        checkWritable();
        checkRange(offset, length);
        return length <= 0 ? Optional.empty() : file.window(offset, length);
    }

    @Override
    public void read(ByteBuffer dst, long offset) {
        checkRange(offset, dst.remaining());
        long pos = offset;
        while (dst.hasRemaining()) {
            int n = file.read(dst, pos);
            if (n <= 0) {
                throw new StorageException(ErrorCode.IO_ERROR, "raw image '" + file.name() + "' ended at " + pos
                        + " inside the disk (was it truncated while open?)");
            }
            pos += n;
        }
    }

    /** Passed down whole: a local file reads into the buffers in one scattering call. */
    @Override
    public void read(ByteBuffer[] dsts, long offset) {
        long want = remaining(dsts);
        checkRange(offset, want);
        long got = file.read(dsts, offset);
        if (got < want) {
            throw new StorageException(ErrorCode.IO_ERROR, "raw image '" + file.name() + "' ended at "
                    + (offset + got) + " inside the disk (was it truncated while open?)");
        }
    }

    @Override
    public void write(ByteBuffer src, long offset) {
        checkWritable();
        checkRange(offset, src.remaining());
        file.write(src, offset);
    }

    /** Passed down whole: a local file writes the buffers in one gathering call. */
    @Override
    public void write(ByteBuffer[] srcs, long offset) {
        checkWritable();
        checkRange(offset, remaining(srcs));
        file.write(srcs, offset);
    }

    private static long remaining(ByteBuffer[] bufs) {
        long n = 0;
        for (ByteBuffer b : bufs) {
            n += b.remaining();
        }
        return n;
    }

    /** As the file: a raw image on VIMS on a LUN is served many requests at once. */
    @Override
    public boolean concurrentIo() {
        return file.concurrentIo();
    }

    @Override
    public java.util.concurrent.CompletableFuture<Void> readAsync(ByteBuffer dst, long offset) {
        checkRange(offset, dst.remaining());
        return file.readAsync(dst, offset);
    }

    @Override
    public java.util.concurrent.CompletableFuture<Void> writeAsync(ByteBuffer src, long offset) {
        checkWritable();
        checkRange(offset, src.remaining());
        return file.writeAsync(src, offset);
    }

    @Override
    public void flush() {
        file.flush();
    }

    @Override
    public void trim(long offset, long length) {
        throw new StorageException(ErrorCode.UNSUPPORTED, "the raw format does not trim (disk '" + file.name() + "')");
    }

    /** Raw keeps no allocation map; the whole range is reported allocated. */
    @Override
    public List<Extent> blockStatus(long offset, long length) {
        checkRange(offset, length);
        return length == 0 ? List.of() : List.of(new Extent(offset, length, true, false));
    }

    @Override
    public void resize(long newSize) {
        checkWritable();
        RawFormat.checkSize(newSize);
        synchronized (resizeLock) {
            long old = size;
            if (newSize < old) {
                throw new StorageException(ErrorCode.INVALID_SIZE, "cannot shrink disk '" + file.name() + "' from "
                        + old + " to " + newSize + " bytes; only growing is supported");
            }
            if (newSize == old) {
                return;
            }
            RawFormat.extend(file, old, newSize, provisioning);
            file.flush();
            size = newSize;
        }
    }

    @Override
    public long allocatedBytes() {
        return file.allocatedBytes();
    }

    /** Flushes, then closes the file, which the disk owns from create/open on. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        try {
            if (!readOnly) {
                file.flush();
            }
        } catch (RuntimeException e) {
            // close never throws
        } finally {
            closed = true;
            file.close();
        }
    }
}

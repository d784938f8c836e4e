package io.strata.fs.vims.internal;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.device.BlockDevice;
import io.strata.api.device.DeviceInfo;
import io.strata.api.device.DeviceKind;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A block device over a sparse local file (a file LUN as the local driver makes one), for
 * tests: several instances over one file are several hosts seeing one LUN. It can be made to
 * fail every I/O ({@link #fail}) or one read ({@link #failNextReadOf}), or to refuse writes, and
 * counts writes.
 */
final class TestDevice implements BlockDevice {
    final Path file;
    private final FileChannel ch;
    private volatile long size;
    private final String identity;
    final AtomicBoolean failing = new AtomicBoolean();
    final AtomicLong writes = new AtomicLong();
    /** When set: readAsync and writeAsync run here (a driver's I/O threads), counted in {@link #asyncCalls}. */
    volatile java.util.concurrent.ExecutorService asyncIo;
    final AtomicLong asyncCalls = new AtomicLong();
    /** When set: the names (less a trailing number) of the threads that called read or write. */
    volatile java.util.Set<String> blockingThreads;

    /** The size of the next write to stop, -1 for none: see {@link #stopNextWrite}. */
    private volatile int stopSize = -1;
    private volatile java.util.concurrent.CountDownLatch stopped = new java.util.concurrent.CountDownLatch(0);
    private volatile java.util.concurrent.CountDownLatch resume = new java.util.concurrent.CountDownLatch(0);

    /**
     * The next write of exactly {@code size} bytes stops in the driver before it is issued, as
     * its thread would if the host froze there, until {@link #resumeStopped}.
     *
     * @return counted down once that write stopped
     */
    java.util.concurrent.CountDownLatch stopNextWrite(int size) {
        resume = new java.util.concurrent.CountDownLatch(1);
        stopped = new java.util.concurrent.CountDownLatch(1);
        stopSize = size;
        return stopped;
    }

    void resumeStopped() {
        resume.countDown();
    }

    private void maybeStop(ByteBuffer src) {
        if (stopSize == src.remaining()) {
            stopSize = -1;
            stopped.countDown();
            try {
                resume.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    TestDevice(Path file, long size, String identity) {
        this.file = file;
        this.identity = identity;
        try {
            ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
            if (ch.size() < size) {
                ch.write(ByteBuffer.allocate(1), size - 1);
            }
            this.size = Math.max(size, ch.size());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Grows the LUN (as an administrator grows it on the array). */
    void grow(long newSize) {
        try {
            ch.write(ByteBuffer.allocate(1), newSize - 1);
            size = newSize;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    void fail(boolean on) {
        failing.set(on);
    }

    /** The byte whose next read fails (once), -1 for none: see {@link #failNextReadOf}. */
    private final AtomicLong failReadAt = new AtomicLong(-1);

    /** The next read that covers byte {@code offset} fails with {@code IO_ERROR}, as one lost request would. */
    void failNextReadOf(long offset) {
        failReadAt.set(offset);
    }

    /** As a real LUN: whole sectors only. */
    private static void aligned(ByteBuffer b, long offset) {
        if (offset % 512 != 0 || b.remaining() % 512 != 0) {
            throw new StorageException(ErrorCode.INVALID_ARGUMENT, "request at " + offset + " of " + b.remaining()
                    + " bytes is not aligned to 512-byte sectors");
        }
    }

    private void check() {
        if (failing.get()) {
            throw new StorageException(ErrorCode.DEVICE_UNAVAILABLE, "test device is failing");
        }
    }

    @Override
    public DeviceInfo info() {
        return new DeviceInfo("test", "lun", DeviceKind.BLOCK, size, 512, "test LUN " + file, identity);
    }

    @Override
    public Optional<Path> localPath() {
        return Optional.empty();
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public int sectorSize() {
        return 512;
    }

    private void noteBlocking() {
        java.util.Set<String> t = blockingThreads;
        if (t != null) {
            t.add(Thread.currentThread().getName().replaceAll("-\\d+$", ""));
        }
    }

    @Override
    public java.util.concurrent.CompletableFuture<Void> readAsync(ByteBuffer dst, long offset) {
        java.util.concurrent.ExecutorService e = asyncIo;
        if (e == null) {
            return BlockDevice.super.readAsync(dst, offset);
        }
        asyncCalls.incrementAndGet();
        return java.util.concurrent.CompletableFuture.runAsync(() -> readNow(dst, offset), e);
    }

    @Override
    public java.util.concurrent.CompletableFuture<Void> writeAsync(ByteBuffer src, long offset) {
        java.util.concurrent.ExecutorService e = asyncIo;
        if (e == null) {
            return BlockDevice.super.writeAsync(src, offset);
        }
        asyncCalls.incrementAndGet();
        return java.util.concurrent.CompletableFuture.runAsync(() -> {
            maybeStop(src);
            writeNow(src, offset);
        }, e);
    }

    @Override
    public void read(ByteBuffer dst, long offset) {
        noteBlocking();
        readNow(dst, offset);
    }

    private void readNow(ByteBuffer dst, long offset) {
        check();
        long f = failReadAt.get();
        if (f >= offset && f < offset + dst.remaining() && failReadAt.compareAndSet(f, -1)) {
            throw new StorageException(ErrorCode.IO_ERROR, "test device: the read at " + offset + " failed");
        }
        aligned(dst, offset);
        try {
            while (dst.hasRemaining()) {
                int n = ch.read(dst, offset);
                if (n < 0) {
                    while (dst.hasRemaining()) {
                        dst.put((byte) 0);
                    }
                    return;
                }
                offset += n;
            }
        } catch (IOException e) {
            throw new StorageException(ErrorCode.IO_ERROR, e.getMessage());
        }
    }

    @Override
    public void write(ByteBuffer src, long offset) {
        noteBlocking();
        maybeStop(src);
        writeNow(src, offset);
    }

    /** As a driver does it: the fence is checked right before the write is issued. */
    @Override
    public void write(ByteBuffer src, long offset, io.strata.api.device.WriteFence fence) {
        noteBlocking();
        maybeStop(src);
        fence.check();
        writeNow(src, offset);
    }

    @Override
    public java.util.concurrent.CompletableFuture<Void> writeAsync(ByteBuffer src, long offset,
            io.strata.api.device.WriteFence fence) {
        java.util.concurrent.ExecutorService e = asyncIo;
        if (e == null) {
            try {
                write(src, offset, fence);
                return java.util.concurrent.CompletableFuture.completedFuture(null);
            } catch (RuntimeException x) {
                return java.util.concurrent.CompletableFuture.failedFuture(x);
            }
        }
        asyncCalls.incrementAndGet();
        return java.util.concurrent.CompletableFuture.runAsync(() -> {
            maybeStop(src);
            fence.check();
            writeNow(src, offset);
        }, e);
    }

    private void writeNow(ByteBuffer src, long offset) {
        check();
        aligned(src, offset);
        writes.incrementAndGet();
        try {
            while (src.hasRemaining()) {
                offset += ch.write(src, offset);
            }
        } catch (IOException e) {
            throw new StorageException(ErrorCode.IO_ERROR, e.getMessage());
        }
    }

    @Override
    public void flush() {
        check();
        try {
            ch.force(false);
        } catch (IOException e) {
            throw new StorageException(ErrorCode.IO_ERROR, e.getMessage());
        }
    }

    @Override
    public void unmap(long offset, long length) {
        throw new StorageException(ErrorCode.UNSUPPORTED, "no unmap");
    }

    @Override
    public Optional<String> identity() {
        return Optional.ofNullable(identity);
    }

    @Override
    public void close() {
        try {
            ch.close();
        } catch (IOException e) {
            // ignore
        }
    }
}

package io.strata.multipath;

import io.strata.api.StorageException;
import io.strata.api.device.PersistentReservations;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

/** A path to a {@link FakeLun} that tests can make fail, hang or hold. */
final class FakePath implements PathTransport {
    /** What the path does. */
    enum Mode {
        /** Works. */
        OK,
        /** Throws {@link PathFailedException}. */
        FAIL,
        /** Consumes half the buffer (reads garbage into it), then throws {@link PathFailedException}. */
        PARTIAL,
        /** Blocks until {@link #release()} (or interrupted), then throws {@link PathFailedException}. */
        HANG
    }

    final String id;
    final FakeLun lun;
    final AtomicInteger ios = new AtomicInteger();
    final AtomicInteger writes = new AtomicInteger();
    final AtomicInteger writeThroughs = new AtomicInteger();
    final AtomicInteger flushes = new AtomicInteger();
    final AtomicInteger checks = new AtomicInteger();
    final AtomicInteger reconnects = new AtomicInteger();
    volatile Mode ioMode = Mode.OK;
    volatile Mode checkMode = Mode.OK;
    volatile boolean unmapSupported;
    volatile boolean cawSupported;
    volatile boolean reservationsSupported;
    /** Thrown by the next I/Os as the device's own answer, when set. */
    volatile StorageException deviceError;
    /** Runs at the start of every I/O (to hold it, or to move a clock), when set. */
    volatile Consumer<FakePath> beforeIo;
    volatile boolean closed;
    /**
     * When set, {@link #readAsync} and {@link #writeAsync} return at once and do the I/O on
     * this executor, as a driver's I/O thread would; when null they are the interface's default.
     */
    volatile Executor asyncOn;
    /** Calls of readAsync and writeAsync. */
    final AtomicInteger asyncCalls = new AtomicInteger();
    private final CountDownLatch released = new CountDownLatch(1);

    FakePath(String id, FakeLun lun) {
        this.id = id;
        this.lun = lun;
    }

    void release() {
        released.countDown();
    }

    @Override
    public String id() {
        return id;
    }

    @Override
    public String transport() {
        return "fake " + id;
    }

    @Override
    public String identity() {
        return lun.identity;
    }

    @Override
    public long size() {
        return lun.size();
    }

    @Override
    public int sectorSize() {
        return lun.sectorSize;
    }

    private void enter(ByteBuffer b, boolean fill) {
        Consumer<FakePath> hook = beforeIo;
        if (hook != null) {
            hook.accept(this);
        }
        StorageException e = deviceError;
        if (e != null) {
            throw e;
        }
        switch (ioMode) {
            case OK:
                return;
            case PARTIAL:
                if (b != null) {
                    int half = b.remaining() / 2;
                    for (int i = 0; i < half; i++) {
                        if (fill) {
                            b.put((byte) 0x5a);
                        } else {
                            b.get();
                        }
                    }
                }
                throw new PathFailedException("fake path " + id + " dropped mid-I/O");
            case HANG:
                awaitRelease();
                throw new PathFailedException("fake path " + id + " timed out");
            default:
                throw new PathFailedException("fake path " + id + " is down");
        }
    }

    private void awaitRelease() {
        try {
            released.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void read(ByteBuffer dst, long offset) {
        enter(dst, true);
        lun.read(dst, offset);
        ios.incrementAndGet();
    }

    @Override
    public void write(ByteBuffer src, long offset) {
        enter(src, false);
        lun.write(src, offset);
        ios.incrementAndGet();
        writes.incrementAndGet();
    }

    @Override
    public CompletableFuture<Void> readAsync(ByteBuffer dst, long offset) {
        asyncCalls.incrementAndGet();
        Executor on = asyncOn;
        return on == null ? PathTransport.super.readAsync(dst, offset) : CompletableFuture.runAsync(() -> read(dst, offset), on);
    }

    @Override
    public CompletableFuture<Void> writeAsync(ByteBuffer src, long offset) {
        asyncCalls.incrementAndGet();
        Executor on = asyncOn;
        return on == null ? PathTransport.super.writeAsync(src, offset) : CompletableFuture.runAsync(() -> write(src, offset), on);
    }

    @Override
    public void writeThrough(ByteBuffer src, long offset) {
        enter(src, false);
        lun.write(src, offset);
        ios.incrementAndGet();
        writeThroughs.incrementAndGet();
    }

    @Override
    public void flush() {
        enter(null, false);
        ios.incrementAndGet();
        flushes.incrementAndGet();
    }

    @Override
    public boolean canUnmap() {
        return unmapSupported;
    }

    @Override
    public void unmap(long offset, long length) {
        enter(null, false);
        lun.write(ByteBuffer.allocate((int) length), offset);
        ios.incrementAndGet();
    }

    @Override
    public boolean canCompareAndWrite() {
        return cawSupported;
    }

    @Override
    public boolean compareAndWrite(ByteBuffer expected, ByteBuffer src, long offset) {
        enter(src, false);
        ios.incrementAndGet();
        return lun.compareAndWrite(expected, src, offset);
    }

    @Override
    public Optional<PersistentReservations> reservations() {
        if (!reservationsSupported) {
            return Optional.empty();
        }
        return Optional.of(new PersistentReservations() {
            @Override
            public void register(long key) {
                enter(null, false);
                lun.register(id, key);
            }

            @Override
            public void unregister(long key) {
                enter(null, false);
                lun.unregister(id);
            }

            @Override
            public void reserve(long key, Type type) {
                enter(null, false);
            }

            @Override
            public void release(long key, Type type) {
                enter(null, false);
            }

            @Override
            public void preempt(long key, long victimKey, Type type) {
                enter(null, false);
                lun.registrationsCopy().forEach((path, k) -> {
                    if (k == victimKey) {
                        lun.unregister(path);
                    }
                });
            }

            @Override
            public void clear(long key) {
                enter(null, false);
            }

            @Override
            public List<Long> keys() {
                enter(null, false);
                return lun.keys();
            }

            @Override
            public Optional<Reservation> reservation() {
                enter(null, false);
                return Optional.empty();
            }
        });
    }

    @Override
    public void check() {
        checks.incrementAndGet();
        switch (checkMode) {
            case OK:
                return;
            case HANG:
                awaitRelease();
                throw new PathFailedException("fake path " + id + " check timed out");
            default:
                throw new PathFailedException("fake path " + id + " is down");
        }
    }

    @Override
    public void reconnect() {
        reconnects.incrementAndGet();
        // a new login is a new I_T nexus: its registration is gone
        lun.unregister(id);
        check();
    }

    @Override
    public void close() {
        closed = true;
        release();
    }
}

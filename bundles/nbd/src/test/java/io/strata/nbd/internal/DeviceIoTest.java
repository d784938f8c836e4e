package io.strata.nbd.internal;

import static io.strata.nbd.internal.Protocol.CMD_DISC;
import static io.strata.nbd.internal.Protocol.CMD_FLUSH;
import static io.strata.nbd.internal.Protocol.CMD_READ;
import static io.strata.nbd.internal.Protocol.CMD_WRITE;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.format.Extent;
import io.strata.api.format.Provisioning;
import io.strata.api.format.VirtualDisk;
import io.strata.api.service.VolumeRef;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Requests to a disk whose I/O waits on a round trip ({@code concurrentIo()}, a LUN over the
 * network) are served many at once, not one after the other; replies may come in any order
 * (each carries its cookie); a flush answers only after the writes under way are done; errors
 * are answered per request and the session goes on. A disk on local files keeps the in-order
 * path. Asserted on what the disk saw (how many requests it had at once), not on timings.
 */
class DeviceIoTest {
    static final int SIZE = 4 << 20;
    static final VolumeRef LUN = new VolumeRef("local", "lun");
    static final long HELD_AT = 1 << 20;
    NbdService nbd;

    /**
     * A disk in memory whose every read and write takes 10 ms, like a slow LUN. When concurrent,
     * its readAsync and writeAsync return at once and run the I/O on threads of its own, as a
     * driver's I/O threads would, and its blocking read and write are not used by the server.
     */
    static final class SlowDisk implements VirtualDisk {
        final byte[] bytes = new byte[SIZE];
        final boolean concurrent;
        final AtomicInteger now = new AtomicInteger();
        final AtomicInteger most = new AtomicInteger();
        final AtomicInteger writesUnderway = new AtomicInteger();
        /** Writes still under way when a flush began: must stay 0. */
        final AtomicInteger writesAtFlush = new AtomicInteger();
        final AtomicInteger flushes = new AtomicInteger();
        volatile boolean failing;
        /** When set, the write of offset {@link #HELD_AT} waits (up to 10 s) until a read opens it. */
        volatile CountDownLatch heldWrite;
        /** Whether a read opened the held write, rather than its wait running out. */
        volatile boolean heldWriteOpened;
        /** Calls of read and write (the blocking ones) and of readAsync and writeAsync. */
        final AtomicInteger blockingCalls = new AtomicInteger();
        final AtomicInteger asyncCalls = new AtomicInteger();
        final java.util.concurrent.atomic.AtomicLong readBytes = new java.util.concurrent.atomic.AtomicLong();
        final ExecutorService io = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "slow-disk-io");
            t.setDaemon(true);
            return t;
        });

        SlowDisk(boolean concurrent) {
            this.concurrent = concurrent;
        }

        @Override
        public CompletableFuture<Void> readAsync(ByteBuffer dst, long offset) {
            if (!concurrent) {
                return VirtualDisk.super.readAsync(dst, offset);
            }
            asyncCalls.incrementAndGet();
            return CompletableFuture.runAsync(() -> readNow(dst, offset), io);
        }

        @Override
        public CompletableFuture<Void> writeAsync(ByteBuffer src, long offset) {
            if (!concurrent) {
                return VirtualDisk.super.writeAsync(src, offset);
            }
            asyncCalls.incrementAndGet();
            return CompletableFuture.runAsync(() -> writeNow(src, offset), io);
        }

        private void enter() {
            most.accumulateAndGet(now.incrementAndGet(), Math::max);
            try {
                Thread.sleep(10); // long beside dispatching 32 requests, even on a busy machine
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            if (failing) {
                now.decrementAndGet();
                throw new StorageException(ErrorCode.DEVICE_UNAVAILABLE, "LUN gone");
            }
        }

        @Override
        public boolean concurrentIo() {
            return concurrent;
        }

        @Override
        public String format() {
            return "raw";
        }

        @Override
        public long virtualSize() {
            return SIZE;
        }

        @Override
        public Provisioning provisioning() {
            return Provisioning.THICK;
        }

        @Override
        public boolean readOnly() {
            return false;
        }

        @Override
        public void read(ByteBuffer dst, long offset) {
            blockingCalls.incrementAndGet();
            readNow(dst, offset);
        }

        private void readNow(ByteBuffer dst, long offset) {
            CountDownLatch held = heldWrite;
            if (held != null) {
                held.countDown();
            }
            enter();
            readBytes.addAndGet(dst.remaining());
            synchronized (bytes) {
                dst.put(bytes, (int) offset, dst.remaining());
            }
            now.decrementAndGet();
        }

        @Override
        public void write(ByteBuffer src, long offset) {
            blockingCalls.incrementAndGet();
            writeNow(src, offset);
        }

        private void writeNow(ByteBuffer src, long offset) {
            writesUnderway.incrementAndGet();
            try {
                CountDownLatch held = heldWrite;
                if (held != null && offset == HELD_AT) {
                    try {
                        heldWriteOpened = held.await(10, TimeUnit.SECONDS);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }
                enter();
                synchronized (bytes) {
                    src.get(bytes, (int) offset, src.remaining());
                }
                now.decrementAndGet();
            } finally {
                writesUnderway.decrementAndGet();
            }
        }

        @Override
        public void flush() {
            flushes.incrementAndGet();
            writesAtFlush.addAndGet(writesUnderway.get());
        }

        @Override
        public void trim(long offset, long length) {
        }

        @Override
        public List<Extent> blockStatus(long offset, long length) {
            return List.of(new Extent(offset, length, true, false));
        }

        @Override
        public void resize(long newSize) {
            throw new StorageException(ErrorCode.UNSUPPORTED, "no");
        }

        @Override
        public long allocatedBytes() {
            return SIZE;
        }

        @Override
        public void close() {
        }
    }

    private RawClient serve(SlowDisk disk) throws Exception {
        return serve(disk, Wire::of);
    }

    private RawClient serve(SlowDisk disk, java.util.function.Function<java.nio.channels.SocketChannel, Wire> wires)
            throws Exception {
        return serve(disk, wires, false);
    }

    /** Serves the disk, the client connecting through the server's Unix domain socket when {@code local}. */
    private RawClient serve(SlowDisk disk, java.util.function.Function<java.nio.channels.SocketChannel, Wire> wires,
            boolean local) throws Exception {
        disks.add(disk);
        Volumes volumes = new Volumes() {
            @Override
            public VirtualDisk open(VolumeRef ref, boolean readOnly) {
                return disk;
            }

            @Override
            public boolean fastZero(VolumeRef ref) {
                return false;
            }
        };
        Path sock = tmp.resolve("nbd.sock");
        nbd = local
                ? new NbdService(volumes, new Fixture.MemoryStore(), "127.0.0.1", 0, 30, true, NbdService.Limits.DEFAULT,
                        new LocalSocket(sock, LocalSocket.mode("0600"), ""))
                : new NbdService(volumes, new Fixture.MemoryStore(), "127.0.0.1", 0, 30, true);
        nbd.wires = wires;
        nbd.add(LUN, "lun", false);
        RawClient c = (local ? new RawClient(sock) : new RawClient(nbd.port())).hello();
        assertEquals(SIZE, c.go("lun")[0]);
        return c;
    }

    private final List<SlowDisk> disks = new java.util.ArrayList<>();
    @TempDir
    Path tmp;

    @AfterEach
    void stop() {
        if (nbd != null) {
            nbd.close();
        }
        disks.forEach(d -> d.io.shutdownNow());
    }

    /** Sends 32 writes of 4 KiB without waiting, then a flush; returns the replies' errors by cookie. */
    private static Map<Long, Integer> writes(RawClient c, byte[][] data) throws Exception {
        for (int i = 0; i < data.length; i++) {
            c.request(CMD_WRITE, 0, i, i * 8192L, data[i].length, data[i]);
        }
        c.request(CMD_FLUSH, 0, 1000, 0, 0, null);
        Map<Long, Integer> errors = new HashMap<>();
        for (int i = 0; i <= data.length; i++) {
            assertEquals(Protocol.SIMPLE_REPLY_MAGIC, c.in.readInt());
            int error = c.in.readInt();
            long cookie = c.in.readLong();
            if (cookie == 1000) {
                assertEquals(data.length, errors.size(), "the flush is answered after every write before it");
            }
            errors.put(cookie, error);
        }
        return errors;
    }

    /** Sends 32 reads without waiting; returns the data by cookie, in whatever order it came. */
    private static Map<Long, byte[]> reads(RawClient c, int n, int length) throws Exception {
        for (int i = 0; i < n; i++) {
            c.request(CMD_READ, 0, i, i * 8192L, length, null);
        }
        Map<Long, byte[]> got = new HashMap<>();
        for (int i = 0; i < n; i++) {
            assertEquals(Protocol.SIMPLE_REPLY_MAGIC, c.in.readInt());
            int error = c.in.readInt();
            long cookie = c.in.readLong();
            byte[] b = new byte[error == 0 ? length : 0];
            c.in.readFully(b);
            got.put(cookie, error == 0 ? b : null);
        }
        return got;
    }

    private static byte[][] patterns(int n, int length) {
        Random r = new Random(42);
        byte[][] data = new byte[n][length];
        for (byte[] d : data) {
            r.nextBytes(d);
        }
        return data;
    }

    @Test
    void aLatencyBoundDiskGetsAClientsRequestsAtOnceAndEveryByteIsRight() throws Exception {
        SlowDisk disk = new SlowDisk(true);
        try (RawClient c = serve(disk)) {
            byte[][] data = patterns(32, 4096);
            Map<Long, Integer> errors = writes(c, data);
            assertTrue(errors.values().stream().allMatch(e -> e == 0), errors.toString());
            assertEquals(0, disk.writesAtFlush.get(), "no write was under way when the flush ran");
            assertEquals(1, disk.flushes.get());
            Map<Long, byte[]> got = reads(c, 32, 4096);
            for (int i = 0; i < 32; i++) {
                assertArrayEquals(data[i], got.get((long) i), "read " + i);
            }
            assertTrue(disk.most.get() >= 4, "requests reached the disk at once: at most " + disk.most.get());
            assertEquals(0, disk.blockingCalls.get(), "no server thread waited on the disk");
            assertEquals(64, disk.asyncCalls.get());
            // The replies went out from the disk's threads as they completed, not through sender
            // tasks (a sender takes over only when the socket is full or its lock is busy).
            long senderTasks = nbd.senderTasks();
            assertTrue(senderTasks < 32, "replies handed to a sender: " + senderTasks + " of 65");
            c.request(CMD_DISC, 0, 0, 0, 0, null);
        }
    }

    /**
     * A client that stops reading its replies (the socket fills: a sender takes over and
     * waits) and then vanishes with requests still on the disk: the disk's threads are never
     * held, every pooled buffer comes back once the disk completes, and the next client is
     * served.
     */
    @Test
    void aClientThatStopsReadingThenVanishesHoldsNothing() throws Exception {
        SlowDisk disk = new SlowDisk(true);
        RawClient c = serve(disk);
        byte[][] data = patterns(8, 4096);
        for (int i = 0; i < 8; i++) {
            c.request(CMD_WRITE, 0, 100 + i, i * 8192L, 4096, data[i]);
        }
        for (int i = 0; i < 24; i++) { // with the writes, the 32 requests a connection may have under way
            c.request(CMD_READ, 0, i, (i % 4) * (1L << 20), 1 << 20, null); // 24 MiB of replies, never read
        }
        HardeningTest.await("the disk read every request", 30_000, () -> disk.readBytes.get() == 24L << 20);
        c.close();
        HardeningTest.await("the connection ends and its buffers return to the pool", 30_000,
                () -> disk.now.get() == 0 && nbd.stats().connections() == 0 && nbd.stats().replyBytesInUse() == 0);
        try (RawClient next = new RawClient(nbd.port()).hello()) {
            assertEquals(SIZE, next.go("lun")[0]);
            Map<Long, byte[]> got = reads(next, 8, 4096);
            for (int i = 0; i < 8; i++) {
                assertArrayEquals(data[i], got.get((long) i), "write " + i + " before the client vanished");
            }
        }
    }

    @Test
    void aDiskOnLocalFilesKeepsTheInOrderPath() throws Exception {
        SlowDisk disk = new SlowDisk(false);
        try (RawClient c = serve(disk)) {
            writes(c, patterns(32, 4096));
            reads(c, 32, 4096);
            assertEquals(1, disk.most.get(), "one request at a time");
        }
    }

    /**
     * A lone connection's large write from the Unix socket, to a disk on local files, is
     * written by a worker while the connection reads and serves the next request: a read sent
     * after a 1 MiB write reaches the disk while the write is still held (written by the
     * connection itself, the read would wait for it, and the write's wait would run out). Its
     * reply, the flush after it and the data read back are right.
     */
    @Test
    @Timeout(120)
    void aLocalConnectionsLargeWriteIsWrittenWhileTheNextRequestIsServed() throws Exception {
        SlowDisk disk = new SlowDisk(false);
        disk.heldWrite = new CountDownLatch(1);
        byte[] data = patterns(1, 1 << 20)[0];
        try (RawClient c = serve(disk, Wire::of, true)) {
            c.request(CMD_WRITE, 0, 1, HELD_AT, data.length, data);
            c.request(CMD_READ, 0, 2, 0, 4096, null);
            c.request(CMD_FLUSH, 0, 3, 0, 0, null);
            List<Long> order = new java.util.ArrayList<>();
            for (int i = 0; i < 3; i++) {
                assertEquals(Protocol.SIMPLE_REPLY_MAGIC, c.in.readInt());
                assertEquals(0, c.in.readInt(), "reply " + i);
                long cookie = c.in.readLong();
                if (cookie == 2) {
                    c.in.readFully(new byte[4096]);
                }
                order.add(cookie);
            }
            assertTrue(disk.heldWriteOpened, "the read reached the disk while the write was held");
            assertEquals(3L, order.get(2), "the flush is answered after the write before it: " + order);
            assertEquals(0, disk.writesAtFlush.get(), "no write was under way when the flush ran");
            assertEquals(1, disk.flushes.get());
            disk.heldWrite = null;
            c.request(CMD_READ, 0, 4, HELD_AT, data.length, null);
            assertEquals(Protocol.SIMPLE_REPLY_MAGIC, c.in.readInt());
            assertEquals(0, c.in.readInt());
            assertEquals(4, c.in.readLong());
            byte[] back = new byte[data.length];
            c.in.readFully(back);
            assertArrayEquals(data, back);
            c.request(CMD_DISC, 0, 0, 0, 0, null);
        }
    }

    /**
     * Over TCP the client goes on sending while a write is written (the receive window holds
     * megabytes): a lone connection writes its large writes itself, one request at a time.
     */
    @Test
    void overTcpALoneConnectionWritesItsLargeWritesItself() throws Exception {
        SlowDisk disk = new SlowDisk(false);
        byte[][] data = patterns(3, 1 << 20);
        try (RawClient c = serve(disk)) {
            for (int i = 0; i < data.length; i++) {
                c.request(CMD_WRITE, 0, i, (long) i << 20, data[i].length, data[i]);
            }
            c.request(CMD_FLUSH, 0, 9, 0, 0, null);
            for (int i = 0; i <= data.length; i++) {
                assertEquals(Protocol.SIMPLE_REPLY_MAGIC, c.in.readInt());
                assertEquals(0, c.in.readInt());
                c.in.readLong();
            }
            assertEquals(1, disk.most.get(), "one request at a time");
            c.request(CMD_DISC, 0, 0, 0, 0, null);
        }
    }

    /**
     * Large writes on workers are part of what ends a session: a client that sends two and
     * disconnects at once finds both on the disk when it comes back, and the connection's
     * pooled memory is returned.
     */
    @Test
    @Timeout(120)
    void largeWritesUnderWayAreWrittenBeforeTheSessionEnds() throws Exception {
        SlowDisk disk = new SlowDisk(false);
        byte[][] data = patterns(2, 1 << 20);
        RawClient c = serve(disk, Wire::of, true);
        c.request(CMD_WRITE, 0, 1, 0, data[0].length, data[0]);
        c.request(CMD_WRITE, 0, 2, 2L << 20, data[1].length, data[1]);
        c.request(CMD_DISC, 0, 0, 0, 0, null);
        for (int i = 0; i < 2; i++) {
            assertEquals(Protocol.SIMPLE_REPLY_MAGIC, c.in.readInt());
            assertEquals(0, c.in.readInt());
            c.in.readLong();
        }
        c.close();
        HardeningTest.await("the connection ends and its buffers return to the pool", 30_000,
                () -> nbd.stats().connections() == 0 && nbd.stats().replyBytesInUse() == 0);
        assertEquals(0, disk.writesUnderway.get());
        synchronized (disk.bytes) {
            assertArrayEquals(data[0], java.util.Arrays.copyOfRange(disk.bytes, 0, 1 << 20));
            assertArrayEquals(data[1], java.util.Arrays.copyOfRange(disk.bytes, 2 << 20, 3 << 20));
        }
    }

    @Test
    void aFailingDeviceAnswersEachRequestWithAnErrorAndTheSessionGoesOn() throws Exception {
        SlowDisk disk = new SlowDisk(true);
        try (RawClient c = serve(disk)) {
            disk.failing = true;
            Map<Long, Integer> errors = writes(c, patterns(8, 4096));
            assertTrue(errors.entrySet().stream().filter(e -> e.getKey() < 8).allMatch(e -> e.getValue() != 0),
                    errors.toString());
            Map<Long, byte[]> got = reads(c, 8, 4096);
            assertTrue(got.values().stream().allMatch(b -> b == null), "every read failed");
            disk.failing = false;
            byte[][] data = patterns(4, 65536);
            for (int i = 0; i < 4; i++) {
                c.request(CMD_WRITE, 0, 50 + i, i * 65536L, 65536, data[i]);
            }
            for (int i = 0; i < 4; i++) {
                assertEquals(Protocol.SIMPLE_REPLY_MAGIC, c.in.readInt());
                assertEquals(0, c.in.readInt());
                assertNotEquals(-1, c.in.readLong());
            }
            c.request(CMD_READ, 0, 99, 65536, 65536, null);
            assertEquals(0, c.simpleReply(99));
            byte[] b = new byte[65536];
            c.in.readFully(b);
            assertArrayEquals(data[1], b);
        }
    }

    /**
     * Replies the connection's own thread writes (here CACHE's) never cut into a read's reply
     * that a completing disk thread left half sent (the socket took only part of it): the
     * client, reading slowly while it keeps asking, parses every reply whole and in frame.
     * The bug this guards against made qemu-img report EIO on a block-status request. The wire
     * takes at most a few hundred bytes per send that does not wait, so every such send is cut
     * short, as on a socket that is nearly full.
     */
    @Test
    void repliesOfTheConnectionThreadNeverCutIntoAReplyLeftHalfSent() throws Exception {
        SlowDisk disk = new SlowDisk(true);
        int len = 256 << 10;
        Random r = new Random(7);
        synchronized (disk.bytes) {
            r.nextBytes(disk.bytes);
        }
        int rounds = 1000;
        try (RawClient c = serve(disk, ch -> new StingyWire(Wire.of(ch)))) {
            java.util.concurrent.atomic.AtomicReference<Throwable> sendFailure =
                    new java.util.concurrent.atomic.AtomicReference<>();
            Thread sender = new Thread(() -> {
                try {
                    for (int round = 0; round < rounds; round++) {
                        for (int i = 0; i < 4; i++) {
                            long cookie = round * 8L + i;
                            c.request(CMD_READ, 0, cookie, (cookie % 16) * len, len, null);
                        }
                        c.request(Protocol.CMD_CACHE, 0, round * 8L + 7, 0, 4096, null);
                        Thread.sleep(1);
                    }
                } catch (Exception e) {
                    sendFailure.set(e);
                }
            }, "slow-client-requests");
            sender.start();
            byte[] b = new byte[len];
            int caches = 0;
            for (int n = 0; n < rounds * 5; n++) {
                if (n % 4 == 0) {
                    Thread.sleep(1); // a slow reader: the server's socket fills and sends are cut short
                }
                assertEquals(Protocol.SIMPLE_REPLY_MAGIC, c.in.readInt(), "reply " + n + " starts in frame");
                assertEquals(0, c.in.readInt(), "reply " + n + " error");
                long cookie = c.in.readLong();
                if (cookie % 8 == 7) {
                    caches++;
                    continue;
                }
                c.in.readFully(b);
                int at = (int) ((cookie % 16) * len);
                assertEquals(-1, java.util.Arrays.mismatch(b, 0, len, disk.bytes, at, at + len),
                        "data of read " + cookie);
            }
            sender.join(30_000);
            assertEquals(null, sendFailure.get());
            assertEquals(rounds, caches);
            c.request(CMD_DISC, 0, 0, 0, 0, null);
        }
    }

    /**
     * With {@code send.overlap} on, on the in-order path, a batch of small read replies is
     * written by a sender while the connection's thread serves the next requests into its
     * second buffer: the disk is read for requests after the batch while the batch's write is
     * still held. At most one batch is being sent: the connection then waits for it. Every
     * reply arrives whole, with its data.
     */
    @Test
    void theNextRequestsAreServedWhileABatchOfRepliesIsBeingSent() throws Exception {
        batchOfRepliesHeld(true);
    }

    /**
     * By default ({@code send.overlap} off) the connection's thread writes its batches itself:
     * while a batch's write is held, no request after it is served, and every reply still
     * arrives whole once it goes on.
     */
    @Test
    void byDefaultTheConnectionWritesItsBatchesItself() throws Exception {
        batchOfRepliesHeld(false);
    }

    private void batchOfRepliesHeld(boolean overlap) throws Exception {
        SlowDisk disk = new SlowDisk(false);
        synchronized (disk.bytes) {
            new Random(11).nextBytes(disk.bytes);
        }
        int n = 4 * Connection.EAGER_REPLIES;
        int reply = 16 + 4096;
        java.util.concurrent.atomic.AtomicReference<HoldingWire> wire = new java.util.concurrent.atomic.AtomicReference<>();
        try (RawClient c = serve(disk, ch -> {
            HoldingWire w = new HoldingWire(Wire.of(ch));
            wire.set(w);
            return w;
        })) {
            HoldingWire w = wire.get();
            nbd.sendOverlap(overlap);
            w.armed = true;
            for (int i = 0; i < n; i++) {
                c.request(CMD_READ, 0, i, i * 8192L, 4096, null);
            }
            assertTrue(w.held.await(30, java.util.concurrent.TimeUnit.SECONDS), "no batch of replies was written");
            try {
                assertEquals(0, w.before % reply, "replies written whole before the held batch");
                assertEquals(0, w.heldBytes % reply, "the held batch holds whole replies");
                long served = (w.before + w.heldBytes) / reply;
                if (overlap) {
                    HardeningTest.await("the disk is read for a request after the held batch", 30_000,
                            () -> disk.blockingCalls.get() > served);
                }
                Thread.sleep(200); // what would be served by now without a bound on batches in flight
                int reads = disk.blockingCalls.get();
                if (overlap) {
                    assertTrue(reads <= served + Connection.EAGER_REPLIES,
                            "served " + reads + " requests with a batch of " + served + " still held");
                    assertTrue(reads < n, "every request served while the first batch was held");
                } else {
                    assertEquals(served, reads, "requests served after the held batch, on another thread");
                }
            } finally {
                w.release.countDown();
            }
            Map<Long, byte[]> got = new HashMap<>();
            for (int i = 0; i < n; i++) {
                assertEquals(Protocol.SIMPLE_REPLY_MAGIC, c.in.readInt(), "reply " + i + " starts in frame");
                assertEquals(0, c.in.readInt());
                long cookie = c.in.readLong();
                byte[] b = new byte[4096];
                c.in.readFully(b);
                got.put(cookie, b);
            }
            for (int i = 0; i < n; i++) {
                int at = i * 8192;
                assertArrayEquals(java.util.Arrays.copyOfRange(disk.bytes, at, at + 4096), got.get((long) i),
                        "read " + i);
            }
            c.request(CMD_DISC, 0, 0, 0, 0, null);
        }
    }

    /** A socket's wire whose sends that do not wait take at most 300 bytes of the first buffer. */
    static final class StingyWire extends ForwardingWire {
        StingyWire(Wire w) {
            super(w);
        }

        @Override
        public long tryWrite(ByteBuffer[] srcs) throws java.io.IOException {
            for (ByteBuffer b : srcs) {
                if (b.hasRemaining()) {
                    ByteBuffer part = b.duplicate();
                    part.limit(part.position() + Math.min(300, part.remaining()));
                    long n = w.tryWrite(new ByteBuffer[] {part});
                    b.position(b.position() + (int) n);
                    return n;
                }
            }
            return 0;
        }
    }

    /**
     * A socket's wire that counts what is written from the moment it is {@link #armed}, and
     * holds the first write of a buffer of {@link Connection#OVERLAP_MIN} bytes or more (a
     * batch of replies) until {@link #release} opens.
     */
    static final class HoldingWire extends ForwardingWire {
        volatile boolean armed;
        final java.util.concurrent.atomic.AtomicLong written = new java.util.concurrent.atomic.AtomicLong();
        /** Bytes written before the held write, and the held write's own. */
        volatile long before;
        volatile long heldBytes;
        final java.util.concurrent.CountDownLatch held = new java.util.concurrent.CountDownLatch(1);
        final java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);

        HoldingWire(Wire w) {
            super(w);
        }

        @Override
        public int write(ByteBuffer src) throws java.io.IOException {
            boolean counting = armed; // a handshake write under way as the test arms it is not counted
            if (counting && held.getCount() > 0 && src.remaining() >= Connection.OVERLAP_MIN) {
                before = written.get();
                heldBytes = src.remaining();
                held.countDown();
                try {
                    release.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new java.io.InterruptedIOException();
                }
            }
            int n = w.write(src);
            if (counting) {
                written.addAndGet(n);
            }
            return n;
        }
    }

    /** Passes everything to the socket's wire; subclasses change what they test. */
    abstract static class ForwardingWire implements Wire {
        final Wire w;

        ForwardingWire(Wire w) {
            this.w = w;
        }

        @Override
        public long tryWrite(ByteBuffer[] srcs) throws java.io.IOException {
            return w.tryWrite(srcs);
        }

        @Override
        public boolean nonBlocking() throws java.io.IOException {
            return w.nonBlocking();
        }

        @Override
        public void shutdown() {
            w.shutdown();
        }

        @Override
        public java.nio.channels.WritableByteChannel sink() {
            return w.sink();
        }

        @Override
        public int read(ByteBuffer dst) throws java.io.IOException {
            return w.read(dst);
        }

        @Override
        public int write(ByteBuffer src) throws java.io.IOException {
            return w.write(src);
        }

        @Override
        public long write(ByteBuffer[] srcs, int offset, int length) throws java.io.IOException {
            return w.write(srcs, offset, length);
        }

        @Override
        public long write(ByteBuffer[] srcs) throws java.io.IOException {
            return w.write(srcs);
        }

        @Override
        public boolean isOpen() {
            return w.isOpen();
        }

        @Override
        public void close() throws java.io.IOException {
            w.close();
        }
    }
}

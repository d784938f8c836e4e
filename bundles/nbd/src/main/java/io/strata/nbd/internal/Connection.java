package io.strata.nbd.internal;

import static io.strata.nbd.internal.Protocol.*;

import io.strata.api.Bounds;
import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.format.Extent;
import io.strata.api.format.VirtualDisk;
import io.strata.api.fs.FileSlice;
import io.strata.api.fs.FileWindow;
import java.io.EOFException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One client: the fixed newstyle handshake, then the transmission phase, on one thread.
 *
 * <p>Requests are read in the order they arrive. What makes it fast is batching: requests
 * already in the input buffer are served one after the other with their replies gathered
 * in the output buffer, which is written only when the input holds no further complete
 * request (the client is waiting) or the buffer is full. A queue depth of 32 small requests
 * thus costs a few system calls, not three per request.
 *
 * <p>Reads larger than the output buffer are queued replies: sent from the image file
 * (sendfile) when one file holds the range, else read by a worker into buffers of the
 * server's {@link BufferPool}. A worker only reads the image (or, for a large write from
 * the Unix socket, {@link #largeWrite}, writes it); the queued replies of a
 * connection are sent by one sender task at a time, so a client that does not read its
 * replies blocks its own sender and (once {@link #ASYNC_READS} replies or its memory budget
 * are queued) its own thread, never a worker or another client. When the pool has no
 * memory free the read is sent from the connection's own output buffer, piece by piece.
 *
 * <p>A write is applied only once its whole payload has arrived (when its payload fits the
 * memory free; otherwise piece by piece as it arrives). Malformed input (wrong magic, an
 * oversized option or write) ends the connection; requests the protocol can refuse (bad
 * range, read-only export, unknown command or flags) get an error reply and the session
 * goes on.
 */
final class Connection implements Runnable {
    private static final Logger LOG = LoggerFactory.getLogger(Connection.class);
    static final int BUF = 256 << 10;
    private static final int REQUEST = 28;
    /** Block status descriptors in one reply: the reply fits the output buffer. */
    private static final int MAX_DESCRIPTORS = (BUF - 64) / 8;
    /**
     * Structured reads from this size on answer their holes with OFFSET_HOLE chunks; smaller
     * ones (random I/O) are sent as data without asking the format where its holes are.
     */
    static final int HOLE_READ_MIN = 64 << 10;
    /** Replies of large reads queued or being read, per connection (the rest wait for these). */
    static final int ASYNC_READS = 4;
    /** Writes from this size up that are not whole in the input buffer are read without a copy. */
    static final int ZERO_COPY_MIN = 64 << 10;
    /** Writes from this size are received in place where the image offers a window. */
    static final int WINDOW_MIN = 128 << 10;
    /** Writes from this size may be written on a worker ({@link #largeWrite}). */
    static final int LARGE_WRITE_MIN = 256 << 10;
    /** Large writes on workers per connection; a write beyond them is written by the connection. */
    static final int ASYNC_WRITES = 4;
    /**
     * Replies gathered in a batch of buffered requests are written after this many requests,
     * not only at the batch's end, so that the client turns them around meanwhile.
     */
    static final int EAGER_REPLIES = 8;
    /**
     * With {@code send.overlap} on ({@link Exports#sendOverlap}, off by default), a batch of
     * buffered replies from this size up (four 4 KiB reads) is handed to a sender while this
     * thread serves the next requests into a second buffer, as long as this is the server's
     * one busy connection ({@link #busy}): writing 32 KiB to a socket costs about as
     * much as serving the batch did. Smaller batches (write acknowledgements) cost less to
     * write here than to hand over; and with several busy connections their threads already
     * keep the cores busy, so the hand-over only adds its cost (bench/run.sh JOBS=4, 4k random
     * reads: 62551 IOPS with it, 105817 without).
     */
    static final int OVERLAP_MIN = 16 << 10;
    /**
     * Reads and writes of a latency-bound disk ({@link VirtualDisk#concurrentIo()}, a LUN over
     * the network) under way at once per connection, on the server's device I/O threads: served
     * one after the other, a queue depth of 32 would wait for 32 round trips in a row.
     */
    static final int ASYNC_IO = 32;
    /**
     * Large reads go out with sendfile while at most this many client connections are busy
     * ({@link #busy}); with more, they are copied and sent by the connection's own thread.
     */
    static final int SENDFILE_CONNECTIONS = 1;
    /** The window over which a connection's requests are counted ({@link #busy}), in ns. */
    static final long BUSY_WINDOW = 100_000_000L;
    /**
     * Requests in one window that make a connection busy: 16 in 100 ms. A disk a guest streams
     * from sends hundreds; one that is idle or logs now and then, a few.
     */
    static final int BUSY_REQUESTS = 16;
    private static final int MAX_MESSAGE = 1024;
    /** A queued reply's header: an error chunk with its message fits. */
    private static final int HEADER = 64 + MAX_MESSAGE;

    interface Exports {
        /** @return the export of that name, the single export for an empty name, or null */
        Export find(String name);

        List<Export> all();

        void opened(Connection c, Export e);

        void closed(Connection c);

        /** A read was answered in part or whole with hole chunks (counted for tests and diagnostics). */
        default void holeReply() {
        }

        /** A write was received in place, into a window of its volume (counted for tests and diagnostics). */
        default void windowWrite() {
        }

        /** A large write was handed to a worker ({@link Connection#largeWrite}; counted for tests and diagnostics). */
        default void workerWrite() {
        }

        /** @return whether large writes may be received in place ({@code receive.in.place}; off by default) */
        default boolean receiveInPlace() {
            return false;
        }

        /**
         * @return how long a busy connection polls for its next request before it sleeps on the
         *     socket, in ns ({@code poll.us}; 0: it does not poll, the default here)
         */
        default long pollNanos() {
            return 0;
        }

        /**
         * @return whether the server's one busy connection hands batches of replies of
         *     {@link Connection#OVERLAP_MIN} bytes or more to a sender ({@code send.overlap}; off by default)
         */
        default boolean sendOverlap() {
            return false;
        }

        /** A poll for the next request found one, or did not (counted for tests and diagnostics). */
        default void polled(boolean found) {
        }

        /** @return how many client connections of the server are busy ({@link Connection#busy}) */
        default int busy() {
            return 1;
        }

        /** @return the server's clock, in nanoseconds ({@link System#nanoTime}; tests set their own) */
        default long now() {
            return System.nanoTime();
        }
    }

    /** A large read's reply waiting for the sender: header, then pooled data or a file slice. */
    private static final class Reply {
        final ByteBuffer header;
        ByteBuffer[] data;
        FileSlice slice;
        int chunks;
        /** Holds a slot of {@link #asyncIo} (device I/O) rather than of {@link #inFlight}. */
        boolean device;
        /** Holds a slot of {@link #writes} (a large write on a worker) rather than of {@link #inFlight}. */
        boolean write;

        Reply(ByteBuffer header) {
            this.header = header;
        }
    }

    /** The client's socket; replaced once by its TLS layer at {@code NBD_OPT_STARTTLS}. */
    private volatile Wire ch;
    /** What this connection offers of TLS; set before the connection's thread starts. */
    Tls tls = Tls.OFF;
    /** Came through the Unix domain socket; set before the connection's thread starts. */
    boolean local;
    private boolean tlsActive;
    private final Exports exports;
    private final Resources res;
    /** Large reads queued or in progress (and their header buffers), per connection. */
    private final Semaphore inFlight = new Semaphore(ASYNC_READS);
    private final Semaphore asyncIo = new Semaphore(ASYNC_IO);
    /** Large writes of this connection on workers ({@link #largeWrite}). */
    private final Semaphore writes = new Semaphore(ASYNC_WRITES);
    /** Chunks of the reply pool this connection may still take. */
    private final Semaphore budget;
    private final ConcurrentLinkedQueue<Reply> queue = new ConcurrentLinkedQueue<>();
    /**
     * Whether replies go out from the thread that completes them when the socket takes them at
     * once ({@link #sendWithoutWaiting}): set for a disk with its own I/O threads
     * ({@link VirtualDisk#concurrentIo}) as transmission starts, with the socket made
     * non-blocking underneath; file slices (sendfile) are then not used.
     */
    private volatile boolean directSend;
    /**
     * Replies taken from {@link #queue} and not yet written: used only by the holder of
     * {@link #draining}. What {@link #sendWithoutWaiting} leaves in it (written in part) the
     * sender finishes first.
     */
    private final List<Reply> batch = new ArrayList<>();
    private final AtomicBoolean draining = new AtomicBoolean();
    private final ConcurrentLinkedQueue<ByteBuffer> headers = new ConcurrentLinkedQueue<>();
    /** Every write to the socket holds it: queued replies go out from a sender thread. */
    private final ReentrantLock sending = new ReentrantLock();
    /**
     * Set (under {@link #sending}) while {@link #batch} holds replies that
     * {@link #sendWithoutWaiting} sent only in part: the sender must finish them before anything
     * else goes out, so the connection's thread waits on {@link #batchDone} before it writes.
     */
    private boolean cutShort;
    private final java.util.concurrent.locks.Condition batchDone = sending.newCondition();
    private final String peer;
    private final ByteBuffer[] buffers;
    private final ByteBuffer in;
    /** The next {@link #need} reads no more than it needs (connection thread only). */
    private boolean lean;
    /**
     * The replies gathered so far go out before the next request is served, although its header
     * is already buffered: set after a large write read from the socket (connection thread only).
     */
    private boolean replyNow;
    /** Writes received in place (connection thread only; read by tests). */
    private volatile long windowWrites;
    /** Where replies are buffered: {@code buffers[1]}, or {@link #spare} while that is being sent. */
    private ByteBuffer out;
    /**
     * The second output buffer, a chunk of the reply pool taken (with one chunk of this
     * connection's budget) the first time a batch is worth overlapping ({@link #OVERLAP_MIN})
     * and kept until the connection ends; null while the pool has none free.
     */
    private ByteBuffer[] second;
    /** The output buffer not in {@link #out}, free when {@link #sent} is null. */
    private ByteBuffer spare;
    /** The write of the batch a sender is sending, or null. */
    private CompletableFuture<Void> sent;
    private boolean noZeroes;
    private boolean structured;
    private String metaExport;
    private boolean baseAllocation;
    private Export export;
    private volatile boolean transmitting;
    private volatile boolean closed;
    /** Where this connection's current window of requests began ({@link #busy}). */
    private volatile long windowStart;
    /** Requests in the current window, and in the one before it when that ended a window ago. */
    private volatile int windowRequests;
    private volatile int lastWindowRequests;
    /**
     * Set on this connection's thread while it reads a large reply it sends itself: its
     * {@link #enqueue} then writes the reply here rather than waking a sender. Held as the
     * thread, so that a worker queueing a reply meanwhile (a large write's) still wakes one.
     */
    private volatile Thread sendHere;
    /** A failure that is a bug of the server, not of the client (the fuzz target asserts there is none). */
    volatile Throwable unexpected;
    private final CountDownLatch finished = new CountDownLatch(1);

    /**
     * @throws IllegalStateException when the server's connection buffers are all taken
     *     (more connections than {@code max.connections})
     */
    Connection(Wire ch, Exports exports, String peer, Resources res) {
        this.ch = ch;
        this.exports = exports;
        this.res = res;
        this.peer = peer;
        this.budget = new Semaphore(res.connectionChunks());
        buffers = res.connections().tryAcquire(2 * BUF);
        if (buffers == null || buffers.length != 2) {
            res.connections().release(buffers);
            throw new IllegalStateException("no connection buffers free");
        }
        in = buffers[0];
        out = buffers[1];
        in.flip(); // read mode, empty
    }

    String peer() {
        return peer;
    }

    /**
     * Set before the connection runs when its socket sends unpaced ({@code reno} on a local
     * TCP connection, {@link NbdService}): its large reads are then copied, never sent with
     * sendfile. A client copies a reply the server has just copied out of the CPU's caches,
     * and the pages sendfile hands it cold from memory: on one such connection 1 MiB reads
     * ran at 1.20-1.28 of nbdkit copied and 0.84-0.89 by sendfile (bench/run.sh, 8 Dec). Under
     * a pacing congestion control the server's copy was the dearer part, and sendfile stays.
     */
    void copyLargeReads() {
        copyLargeReads = true;
    }

    private boolean copyLargeReads;

    Export export() {
        return export;
    }

    boolean transmitting() {
        return transmitting;
    }

    /** Closes the socket; the connection's thread ends at its next read or write. */
    void close() {
        closed = true;
        // A reply sent with sendfile writes to the socket's descriptor outside the channel's own
        // bookkeeping, so the channel could close (and the number be reused) under it. Shutting
        // the socket down ends any send at once; the descriptor is closed once no send runs.
        ch.shutdown();
        boolean locked = false;
        try {
            // Bounded: should a send not end (it always has so far), close all the same.
            locked = sending.tryLock(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        try {
            ch.close();
        } catch (IOException e) {
            // closing anyway
        } finally {
            if (locked) {
                sending.unlock();
            }
        }
    }

    @Override
    public void run() {
        try {
            if (handshake()) {
                transmission();
            }
        } catch (EOFException e) {
            LOG.debug("nbd client {} disconnected", peer);
        } catch (IOException e) {
            if (!closed) {
                LOG.debug("nbd client {}: {}", peer, e.toString());
            }
        } catch (Protocol_Violation e) {
            LOG.info("nbd client {}: {}; disconnecting", peer, e.getMessage());
        } catch (RuntimeException e) {
            unexpected = e;
            LOG.warn("nbd client {}: unexpected failure; disconnecting", peer, e);
        } finally {
            close();
            // Large reads still running or queued end (the socket is shut down), and large
            // writes on workers are written, before the export may close the volume and the
            // buffers go back to the pool.
            inFlight.acquireUninterruptibly(ASYNC_READS);
            writes.acquireUninterruptibly(ASYNC_WRITES);
            awaitSentQuietly();
            res.connections().release(buffers);
            if (second != null) {
                res.replies().release(second);
                budget.release(1);
            }
            exports.closed(this);
            finished.countDown();
        }
    }

    /** Waits for the connection's thread to finish the request it is serving, after {@link #close()}. */
    boolean awaitFinished(long millis) {
        try {
            return finished.await(millis, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /** A client broke the protocol: the connection ends (a hard disconnect). */
    static final class Protocol_Violation extends Exception {
        private static final long serialVersionUID = 1L;

        Protocol_Violation(String message) {
            super(message, null, false, false);
        }
    }

    // ---------------------------------------------------------------- handshake

    /** @return true when the client chose an export and transmission starts */
    private boolean handshake() throws IOException, Protocol_Violation {
        out.putLong(NBDMAGIC).putLong(IHAVEOPT).putShort((short) (FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES));
        flushOut();
        need(4);
        int clientFlags = in.getInt();
        if ((clientFlags & ~(CLIENT_FIXED_NEWSTYLE | CLIENT_NO_ZEROES)) != 0) {
            throw new Protocol_Violation("unknown client flags 0x" + Integer.toHexString(clientFlags));
        }
        noZeroes = (clientFlags & CLIENT_NO_ZEROES) != 0;
        boolean fixed = (clientFlags & CLIENT_FIXED_NEWSTYLE) != 0;
        while (true) {
            need(16);
            long magic = in.getLong();
            if (magic != IHAVEOPT) {
                throw new Protocol_Violation("bad option magic 0x" + Long.toHexString(magic));
            }
            int option = in.getInt();
            long length = in.getInt() & 0xffffffffL;
            if (length > MAX_OPTION) {
                throw new Protocol_Violation("option " + option + " of " + length + " bytes");
            }
            need((int) length);
            ByteBuffer data = in.slice();
            data.limit((int) length);
            in.position(in.position() + (int) length);
            if (!fixed && option != OPT_EXPORT_NAME) {
                throw new Protocol_Violation("option " + option + " from a client without fixed newstyle");
            }
            if (tls.mode() == Tls.Mode.REQUIRE && !tlsActive && option != OPT_STARTTLS && option != OPT_ABORT) {
                if (option == OPT_EXPORT_NAME) {
                    throw new Protocol_Violation("NBD_OPT_EXPORT_NAME before TLS on a server that requires it");
                }
                error(option, REP_ERR_TLS_REQD, "this server requires TLS: send NBD_OPT_STARTTLS first");
                flushOut();
                continue;
            }
            switch (option) {
                case OPT_EXPORT_NAME -> {
                    Export e = exports.find(string(data, (int) length));
                    if (e == null || !available(e)) {
                        throw new Protocol_Violation("NBD_OPT_EXPORT_NAME for an unknown or unavailable export");
                    }
                    if (needsTls(e)) {
                        throw new Protocol_Violation("NBD_OPT_EXPORT_NAME without TLS for export " + e.name
                                + ", which requires it");
                    }
                    export = e;
                    out.putLong(size()).putShort((short) transmissionFlags());
                    if (!noZeroes) {
                        out.put(new byte[124]);
                    }
                    enter();
                    flushOut();
                    return true;
                }
                case OPT_ABORT -> {
                    reply(option, REP_ACK, null);
                    flushOut();
                    return false;
                }
                case OPT_LIST -> {
                    if (length != 0) {
                        error(option, REP_ERR_INVALID, "NBD_OPT_LIST takes no data");
                    } else {
                        for (Export e : exports.all()) {
                            byte[] n = e.name.getBytes(StandardCharsets.UTF_8);
                            reply(option, REP_SERVER, ByteBuffer.allocate(4 + n.length).putInt(n.length).put(n).flip());
                        }
                        reply(option, REP_ACK, null);
                    }
                }
                case OPT_STARTTLS -> {
                    if (!tls.offered()) {
                        error(option, REP_ERR_POLICY, "TLS is not offered here");
                    } else if (tlsActive) {
                        error(option, REP_ERR_INVALID, "TLS is already on");
                    } else if (length != 0) {
                        error(option, REP_ERR_INVALID, "NBD_OPT_STARTTLS takes no data");
                    } else if (in.hasRemaining()) {
                        throw new Protocol_Violation("data sent after NBD_OPT_STARTTLS before the TLS handshake");
                    } else {
                        reply(option, REP_ACK, null);
                        flushOut();
                        try {
                            ch = tls.start(ch);
                        } catch (IOException e) {
                            LOG.info("nbd client {}: TLS handshake failed: {}", peer, e.getMessage());
                            return false;
                        }
                        tlsActive = true;
                        // What was negotiated in clear is forgotten (the protocol says so).
                        structured = false;
                        baseAllocation = false;
                    }
                }
                case OPT_INFO, OPT_GO -> {
                    if (infoOrGo(option, data, (int) length)) {
                        enter();
                        flushOut();
                        return true;
                    }
                }
                case OPT_STRUCTURED_REPLY -> {
                    if (length != 0) {
                        error(option, REP_ERR_INVALID, "NBD_OPT_STRUCTURED_REPLY takes no data");
                    } else {
                        structured = true;
                        reply(option, REP_ACK, null);
                    }
                }
                case OPT_LIST_META_CONTEXT, OPT_SET_META_CONTEXT -> metaContext(option, data, (int) length);
                default -> error(option, REP_ERR_UNSUP, "option " + option + " is not supported");
            }
            flushOut();
        }
    }

    /**
     * Whether this connection must start TLS before it may use the export: over TCP (whose
     * connections carry the server's TLS settings; those through the Unix domain socket carry
     * none, the socket's mode guards them), without TLS on yet.
     */
    private boolean needsTls(Export e) {
        return e.tlsRequired && !tlsActive && !local;
    }

    /** Counts a request in this connection's window (on the connection's thread). */
    private void counted(long now) {
        long age = now - windowStart;
        if (age >= BUSY_WINDOW) {
            lastWindowRequests = age < 2 * BUSY_WINDOW ? windowRequests : 0;
            windowRequests = 0;
            windowStart = now;
        }
        windowRequests++;
    }

    /**
     * Whether this connection sent at least {@value #BUSY_REQUESTS} requests in its current
     * window of {@link #BUSY_WINDOW} or in the window before it: a client streaming I/O, not one
     * idle or sending a request now and then. With two such connections or more the server
     * copies large reads instead of using sendfile, and sends them on the connection's thread.
     */
    boolean busy(long now) {
        long age = now - windowStart;
        return transmitting && (age < BUSY_WINDOW && windowRequests >= BUSY_REQUESTS
                || age < 2 * BUSY_WINDOW && lastWindowRequests >= BUSY_REQUESTS);
    }

    /** The session is the export's from here: listed as its client before the client hears it may start. */
    private void enter() {
        windowStart = exports.now();
        transmitting = true;
        exports.opened(this, export);
    }

    private boolean available(Export e) {
        try {
            e.disk();
            return true;
        } catch (StorageException ex) {
            return false;
        }
    }

    /** NBD_OPT_INFO and NBD_OPT_GO; @return true when GO succeeded. */
    private boolean infoOrGo(int option, ByteBuffer data, int length) throws IOException {
        if (length < 6) {
            error(option, REP_ERR_INVALID, "option data too short");
            return false;
        }
        long nameLen = data.getInt() & 0xffffffffL;
        if (nameLen > length - 6) {
            error(option, REP_ERR_INVALID, "export name length " + nameLen + " exceeds the option data");
            return false;
        }
        String name = string(data, (int) nameLen);
        int count = data.getShort() & 0xffff;
        if (data.remaining() != 2 * count) {
            error(option, REP_ERR_INVALID, count + " information requests do not match the option length");
            return false;
        }
        boolean wantName = false;
        boolean wantDescription = false;
        for (int i = 0; i < count; i++) {
            int t = data.getShort() & 0xffff;
            wantName |= t == INFO_NAME;
            wantDescription |= t == INFO_DESCRIPTION;
        }
        Export e = exports.find(name);
        if (e == null) {
            error(option, REP_ERR_UNKNOWN, "no export named '" + name + "'");
            return false;
        }
        if (needsTls(e)) {
            error(option, REP_ERR_TLS_REQD, "export '" + e.name + "' requires TLS: send NBD_OPT_STARTTLS first");
            return false;
        }
        long size;
        try {
            size = e.disk().virtualSize();
        } catch (StorageException ex) {
            error(option, REP_ERR_UNKNOWN, "export '" + e.name + "' is unavailable: " + ex.getMessage());
            return false;
        }
        Export chosen = export;
        export = e;
        reply(option, REP_INFO, ByteBuffer.allocate(12).putShort((short) INFO_EXPORT).putLong(size)
                .putShort((short) transmissionFlags()).flip());
        if (wantName) {
            byte[] n = e.name.getBytes(StandardCharsets.UTF_8);
            reply(option, REP_INFO, ByteBuffer.allocate(2 + n.length).putShort((short) INFO_NAME).put(n).flip());
        }
        if (wantDescription) {
            byte[] d = ("Strata volume " + e.volume).getBytes(StandardCharsets.UTF_8);
            reply(option, REP_INFO, ByteBuffer.allocate(2 + d.length).putShort((short) INFO_DESCRIPTION).put(d)
                    .flip());
        }
        // Always sent (the protocol allows unrequested information): any alignment works, 4 KiB is best.
        reply(option, REP_INFO, ByteBuffer.allocate(14).putShort((short) INFO_BLOCK_SIZE).putInt(1).putInt(4096)
                .putInt(MAX_PAYLOAD).flip());
        reply(option, REP_ACK, null);
        if (option == OPT_GO) {
            if (metaExport != null && !metaExport.equals(name)) {
                baseAllocation = false; // contexts were selected for another export
            }
            return true;
        }
        export = chosen;
        return false;
    }

    private void metaContext(int option, ByteBuffer data, int length) throws IOException {
        if (!structured) {
            error(option, REP_ERR_INVALID, "negotiate structured replies first");
            return;
        }
        if (option == OPT_SET_META_CONTEXT) {
            baseAllocation = false; // replaced even when this request fails
            metaExport = null;
        }
        if (length < 8) {
            error(option, REP_ERR_INVALID, "option data too short");
            return;
        }
        long nameLen = data.getInt() & 0xffffffffL;
        if (nameLen > length - 8) {
            error(option, REP_ERR_INVALID, "export name length " + nameLen + " exceeds the option data");
            return;
        }
        String name = string(data, (int) nameLen);
        long count = data.getInt() & 0xffffffffL;
        List<String> queries = new ArrayList<>();
        for (long i = 0; i < count; i++) {
            if (data.remaining() < 4) {
                error(option, REP_ERR_INVALID, "query " + i + " exceeds the option data");
                return;
            }
            long qlen = data.getInt() & 0xffffffffL;
            if (qlen > data.remaining()) {
                error(option, REP_ERR_INVALID, "query " + i + " exceeds the option data");
                return;
            }
            String q = string(data, (int) qlen);
            if (q == null) {
                error(option, REP_ERR_INVALID, "query " + i + " is not UTF-8");
                return;
            }
            queries.add(q);
        }
        if (data.hasRemaining()) {
            error(option, REP_ERR_INVALID, "trailing data after the queries");
            return;
        }
        if (name == null || exports.find(name) == null) {
            error(option, REP_ERR_UNKNOWN, "no export named '" + name + "'");
            return;
        }
        boolean match = false;
        for (String q : queries) {
            if (q.indexOf(':') < 0) {
                error(option, REP_ERR_INVALID, "query '" + q + "' has no namespace");
                return;
            }
            match |= q.equals(BASE_ALLOCATION) || option == OPT_LIST_META_CONTEXT && q.equals("base:");
        }
        if (option == OPT_LIST_META_CONTEXT && queries.isEmpty()) {
            match = true;
        }
        if (match) {
            byte[] n = BASE_ALLOCATION.getBytes(StandardCharsets.US_ASCII);
            int id = option == OPT_SET_META_CONTEXT ? BASE_ALLOCATION_ID : 0;
            reply(option, REP_META_CONTEXT, ByteBuffer.allocate(4 + n.length).putInt(id).put(n).flip());
            if (option == OPT_SET_META_CONTEXT) {
                baseAllocation = true;
                metaExport = name;
            }
        }
        reply(option, REP_ACK, null);
    }

    private void reply(int option, int type, ByteBuffer data) throws IOException {
        int n = data == null ? 0 : data.remaining();
        reserve(20 + n);
        out.putLong(REPLY_MAGIC).putInt(option).putInt(type).putInt(n);
        if (data != null) {
            out.put(data);
        }
    }

    private void error(int option, int type, String message) throws IOException {
        byte[] m = message.getBytes(StandardCharsets.UTF_8); // may quote a name of up to 64 KiB
        reply(option, type, ByteBuffer.wrap(m, 0, Math.min(m.length, MAX_STRING)));
    }

    private static String string(ByteBuffer data, int length) {
        ByteBuffer s = data.slice();
        s.limit(length);
        data.position(data.position() + length);
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(s).toString();
        } catch (CharacterCodingException e) {
            return null;
        }
    }

    private long size() {
        return export.disk().virtualSize();
    }

    private int transmissionFlags() {
        int f = HAS_FLAGS | SEND_FLUSH | SEND_DF | CAN_MULTI_CONN | SEND_CACHE;
        if (export.readOnly) {
            return f | READ_ONLY;
        }
        return f | SEND_FUA | SEND_TRIM | SEND_WRITE_ZEROES | SEND_FAST_ZERO;
    }

    // ---------------------------------------------------------------- transmission

    /** @return the command flags a command accepts (any other is EINVAL) */
    private static int allowedFlags(int type) {
        return switch (type) {
            case CMD_READ -> CMD_FLAG_FUA | CMD_FLAG_DF;
            case CMD_WRITE_ZEROES -> CMD_FLAG_FUA | CMD_FLAG_NO_HOLE | CMD_FLAG_FAST_ZERO;
            case CMD_BLOCK_STATUS -> CMD_FLAG_FUA | CMD_FLAG_REQ_ONE;
            case CMD_DISC -> 0xffff; // the session ends whatever they say
            default -> CMD_FLAG_FUA; // FUA is valid on every command (a no-op where nothing is written)
        };
    }

    private void transmission() throws IOException, Protocol_Violation {
        directSend = concurrentExport() && ch.nonBlocking();
        int served = 0;
        while (true) {
            if (in.remaining() < REQUEST || served >= EAGER_REPLIES || replyNow) {
                // the client may be waiting for these before it sends more; and within a long
                // batch, it gets the first replies while the rest are served
                flushBatch();
                served = 0;
                replyNow = false;
                if (in.remaining() < REQUEST) {
                    pollForRequest();
                    need(REQUEST);
                }
            }
            served++;
            counted(exports.now());
            int magic = in.getInt();
            if (magic != REQUEST_MAGIC) {
                throw new Protocol_Violation("bad request magic 0x" + Integer.toHexString(magic));
            }
            int flags = in.getShort() & 0xffff;
            int type = in.getShort() & 0xffff;
            long cookie = in.getLong();
            long offset = in.getLong();
            long length = in.getInt() & 0xffffffffL;
            int unknown = flags & ~allowedFlags(type);
            if (unknown != 0 && type != CMD_WRITE) {
                errorReply(cookie, type, EINVAL, "command " + type + " with unknown flags 0x"
                        + Integer.toHexString(unknown));
                continue;
            }
            switch (type) {
                case CMD_READ -> read(cookie, offset, length);
                case CMD_WRITE -> write(cookie, flags, offset, length);
                case CMD_DISC -> {
                    // Requests in flight are answered before the session ends.
                    inFlight.acquireUninterruptibly(ASYNC_READS);
                    inFlight.release(ASYNC_READS);
                    awaitUnderWay();
                    flushOut();
                    return;
                }
                case CMD_FLUSH -> flush(cookie);
                case CMD_TRIM, CMD_WRITE_ZEROES -> modify(cookie, type, flags, offset, length, null);
                case CMD_BLOCK_STATUS -> blockStatus(cookie, flags, offset, length);
                case CMD_CACHE -> cache(cookie, offset, length);
                default -> errorReply(cookie, type, EINVAL, "unknown command " + type);
            }
        }
    }

    private static boolean inRange(VirtualDisk d, long offset, long length) {
        return Bounds.inRange(offset, length, d.virtualSize());
    }

    private static String range(long offset, long length) {
        return Bounds.unsigned(offset) + "+" + Bounds.unsigned(length);
    }

    /** CACHE: advisory (the page cache does it), but a range past the end is refused as for READ. */
    private void cache(long cookie, long offset, long length) throws IOException {
        VirtualDisk d = null;
        try {
            d = export.disk();
            if (!inRange(d, offset, length)) {
                errorReply(cookie, CMD_CACHE, EINVAL, "cache " + range(offset, length)
                        + " is past the end of the export");
                return;
            }
            simpleReply(cookie, 0);
        } catch (StorageException e) {
            if (d != null) {
                export.failed(d, e);
            }
            simpleReply(cookie, errno(e));
        }
    }

    private void read(long cookie, long offset, long length) throws IOException {
        if (length > MAX_PAYLOAD) {
            errorReply(cookie, CMD_READ, structured ? EOVERFLOW : EINVAL, "read of " + length
                    + " bytes is over the " + MAX_PAYLOAD + "-byte limit");
            return;
        }
        VirtualDisk d;
        try {
            d = export.disk();
            if (!inRange(d, offset, length)) {
                errorReply(cookie, CMD_READ, EINVAL, "read " + range(offset, length)
                        + " is past the end of the export");
                return;
            }
        } catch (StorageException e) {
            errorReply(cookie, CMD_READ, errno(e), e.getMessage());
            return;
        }
        int n = (int) length;
        if (n == 0 && structured) {
            // An OFFSET_DATA chunk must carry data: an empty read is one NONE chunk.
            reserve(20);
            out.putInt(STRUCTURED_REPLY_MAGIC).putShort((short) REPLY_FLAG_DONE).putShort((short) REPLY_TYPE_NONE)
                    .putLong(cookie).putInt(0);
            return;
        }
        if (structured && n >= HOLE_READ_MIN && !d.concurrentIo()) {
            long[] data = holes(d, cookie, offset, n);
            if (data != null) {
                if (data[1] == 0) {
                    return; // all holes: answered without a byte of data
                }
                offset = data[0];
                n = (int) data[1];
            }
        }
        if (d.concurrentIo() && deviceRead(d, cookie, offset, n)) {
            return;
        }
        int header = structured ? 28 : 16;
        if (header + n <= out.capacity()) {
            reserve(header + n);
            int start = out.position();
            ByteBuffer dst = out.duplicate();
            dst.position(start + header).limit(start + header + n);
            try {
                d.read(dst, offset);
            } catch (StorageException e) {
                export.failed(d, e);
                errorReply(cookie, CMD_READ, errno(e), e.getMessage());
                return;
            }
            readHeader(out, structured, cookie, offset, n);
            out.position(start + header + n);
            return;
        }
        large(d, cookie, offset, n);
    }

    /**
     * The holes of a structured read as OFFSET_HOLE chunks, so that a client copying a sparse
     * volume receives no zeros for them: the range's allocation, from the format's metadata,
     * is cut into holes (unallocated or known zero) and data. When the data is one contiguous
     * run (or none), the holes are answered here and only that run is left to read. Holes go
     * out before the data chunk, which carries the DONE flag (a data chunk may be queued and
     * sent by another thread, so they are flushed first); with the range all holes, the last
     * hole chunk carries it. Two or more runs of data are read whole, as without holes.
     *
     * @return {offset, length} of the data left to read, length 0 when all was answered; or
     *         null to read the whole range as data
     */
    private long[] holes(VirtualDisk d, long cookie, long offset, int n) throws IOException {
        List<Extent> extents;
        try {
            extents = d.blockStatus(offset, n);
        } catch (StorageException e) {
            return null; // the read itself will say what is wrong
        }
        long end = offset + n;
        long[] holes = new long[8];
        int count = 0;
        long dataFrom = -1;
        long dataTo = -1;
        long pos = offset;
        for (int i = 0; i <= extents.size() && pos < end; i++) {
            long from;
            long to;
            boolean hole;
            if (i == extents.size()) { // the end the format did not describe: data
                from = pos;
                to = end;
                hole = false;
            } else {
                Extent x = extents.get(i);
                from = Math.max(pos, x.offset());
                to = Math.min(end, x.offset() + x.length());
                if (to <= from) {
                    continue;
                }
                if (from > pos) { // a gap the format did not describe: data
                    to = from;
                    from = pos;
                    hole = false;
                    i--; // this extent again, after the gap
                } else {
                    hole = !x.allocated() || x.zero();
                }
            }
            if (hole) {
                if (count > 0 && holes[count - 1] == from) {
                    holes[count - 1] = to; // stored as (start, end) pairs; extend the last
                } else {
                    if (count + 2 > holes.length) {
                        return null; // many small holes: not worth the chunks
                    }
                    holes[count++] = from;
                    holes[count++] = to;
                }
            } else if (dataFrom < 0) {
                dataFrom = from;
                dataTo = to;
            } else if (dataTo == from) {
                dataTo = to;
            } else {
                return null; // a second run of data
            }
            pos = to;
        }
        if (count == 0) {
            return null;
        }
        for (int h = 0; h < count; h += 2) {
            boolean last = dataFrom < 0 && h + 2 == count;
            reserve(32);
            out.putInt(STRUCTURED_REPLY_MAGIC).putShort((short) (last ? REPLY_FLAG_DONE : 0))
                    .putShort((short) REPLY_TYPE_OFFSET_HOLE).putLong(cookie).putInt(12).putLong(holes[h])
                    .putInt((int) (holes[h + 1] - holes[h]));
        }
        exports.holeReply();
        if (dataFrom < 0) {
            return new long[] {offset, 0};
        }
        flushOut();
        return new long[] {dataFrom, dataTo - dataFrom};
    }

    /**
     * A read larger than the output buffer: a queued reply from a file slice (sendfile) or from
     * pooled buffers a worker (with several connections, this thread) fills; without pooled
     * memory free, streamed from the output buffer. Queued replies may overtake replies of
     * later requests, which the protocol allows (replies carry the request's cookie).
     */
    private void large(VirtualDisk d, long cookie, long offset, int n) throws IOException {
        flushOut(); // replies gathered so far go first
        inFlight.acquireUninterruptibly(); // a client that does not read its replies waits here, alone
        boolean queued = false;
        try {
            boolean structuredNow = structured;
            // sendfile only while this is the server's one busy connection: with several, the
            // copy measured faster (bench/run.sh JOBS=4, 1 MiB reads: 0.62 of nbdkit with
            // sendfile, 0.90 without; one connection: 1.16 with, 0.94 without)
            boolean alone = exports.busy() <= SENDFILE_CONNECTIONS;
            if (res.sendfile() && !directSend && alone && !copyLargeReads) {
                Optional<FileSlice> slice;
                try {
                    slice = d.slice(offset, n);
                } catch (StorageException e) {
                    export.failed(d, e);
                    errorReply(cookie, CMD_READ, errno(e), e.getMessage());
                    return;
                }
                if (slice.isPresent()) {
                    Reply r = new Reply(header());
                    r.slice = slice.get();
                    readHeader(r.header, structuredNow, cookie, offset, n);
                    r.header.flip();
                    queued = true;
                    enqueue(r);
                    return;
                }
            }
            int chunks = res.replies().chunks(n);
            if (chunks <= replyChunks()) {
                budget.acquireUninterruptibly(chunks); // this connection's own replies free it
                ByteBuffer[] bufs = res.replies().tryAcquire(n);
                if (bufs == null) {
                    budget.release(chunks);
                } else {
                    Reply r = new Reply(header());
                    r.data = bufs;
                    r.chunks = chunks;
                    if (!alone) {
                        // several busy connections give the parallelism: read and send here,
                        // sparing the wake-ups of a hand-off to a worker (bench JOBS=4: 0.35 ->
                        // 0.28 CPU s/GiB) and to a sender (0.29 -> 0.26, 0.90 -> 1.0 of nbdkit)
                        queued = true; // fill answers or releases it
                        sendHere = Thread.currentThread();
                        try {
                            fill(r, d, structuredNow, cookie, offset, n);
                        } finally {
                            sendHere = null;
                        }
                        return;
                    }
                    try {
                        res.workers().execute(() -> fill(r, d, structuredNow, cookie, offset, n));
                    } catch (RejectedExecutionException e) {
                        release(r);
                        queued = true; // released
                        throw new IOException("the server is stopping", e);
                    }
                    queued = true;
                    return;
                }
            }
            stream(d, cookie, offset, n);
        } finally {
            if (!queued) {
                inFlight.release();
            }
        }
    }

    /**
     * A read of a latency-bound disk: pooled buffers filled on a device I/O thread and sent by
     * the sender, so that the connection goes on reading requests meanwhile.
     *
     * @return false when this connection's slots or the pool's memory are taken: read it here
     */
    private boolean deviceRead(VirtualDisk d, long cookie, long offset, int n) throws IOException {
        ByteBuffer[] bufs = deviceBuffers(n);
        if (bufs == null) {
            return false;
        }
        Reply r = deviceReply(bufs, n);
        boolean structuredNow = structured;
        startAll(d, bufs, offset, false).whenComplete((v, e) -> {
            if (e == null) {
                answerRead(r, d, structuredNow, cookie, offset, n, null);
            } else {
                onDeviceIo(() -> answerRead(r, d, structuredNow, cookie, offset, n, cause(e)));
            }
        });
        return true;
    }

    /**
     * Starts a read or write of each buffer at its place in {@code [offset, ...)} without
     * waiting; the future completes when all have completed, failed if one failed. The disk
     * completes them on its own I/O thread, where only what does not block is done.
     */
    private static CompletableFuture<Void> startAll(VirtualDisk d, ByteBuffer[] bufs, long offset, boolean write) {
        if (bufs.length == 1) {
            return start(d, bufs[0], offset, write);
        }
        CompletableFuture<?>[] parts = new CompletableFuture<?>[bufs.length];
        long pos = offset;
        for (int i = 0; i < bufs.length; i++) {
            int len = bufs[i].remaining();
            parts[i] = start(d, bufs[i], pos, write);
            pos += len;
        }
        return CompletableFuture.allOf(parts);
    }

    private static CompletableFuture<Void> start(VirtualDisk d, ByteBuffer b, long pos, boolean write) {
        try {
            return write ? d.writeAsync(b, pos) : d.readAsync(b, pos);
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    private static Throwable cause(Throwable e) {
        return e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
    }

    /**
     * Runs the answer to a failed device I/O on a device I/O thread: it may close the export's
     * volume ({@link Export#failed}), which must not wait on the disk's own I/O thread.
     */
    private void onDeviceIo(Runnable answer) {
        try {
            res.deviceIo().execute(answer);
        } catch (RejectedExecutionException stopping) {
            answer.run();
        }
    }

    /**
     * @return how many chunks of this connection's budget its queued replies may hold: all of
     *     it, less the one the {@link #second} output buffer keeps once taken (a reply needing
     *     more would wait for a permit that only the end of the connection frees)
     */
    private int replyChunks() {
        return res.connectionChunks() - (second == null ? 0 : 1);
    }

    /**
     * A slot of {@link #asyncIo} (waiting for one while {@link #ASYNC_IO} requests are under
     * way) and pooled buffers for {@code n} bytes within this connection's budget.
     *
     * @return the buffers, or null (and no slot held) when the memory is not free now
     */
    private ByteBuffer[] deviceBuffers(int n) {
        int chunks = res.replies().chunks(n);
        if (chunks > replyChunks()) {
            return null;
        }
        asyncIo.acquireUninterruptibly();
        return pooled(asyncIo, n);
    }

    /**
     * Pooled buffers for {@code n} bytes within this connection's budget, for a request that
     * holds a slot of {@code slots}.
     *
     * @return the buffers, or null (and the slot given back) when the memory is not free now
     */
    private ByteBuffer[] pooled(Semaphore slots, int n) {
        int chunks = res.replies().chunks(n);
        if (!budget.tryAcquire(chunks)) {
            slots.release();
            return null;
        }
        ByteBuffer[] bufs = res.replies().tryAcquire(n);
        if (bufs == null) {
            budget.release(chunks);
            slots.release();
        }
        return bufs;
    }

    /** A reply holding a device I/O slot and the buffers {@link #deviceBuffers} gave for {@code n} bytes. */
    private Reply deviceReply(ByteBuffer[] bufs, int n) {
        Reply r = new Reply(header());
        r.device = true;
        r.data = bufs;
        r.chunks = res.replies().chunks(n);
        return r;
    }

    /** Waits until every device I/O and every large write on a worker of this connection has been answered. */
    private void awaitUnderWay() {
        if (asyncIo.availablePermits() < ASYNC_IO) {
            asyncIo.acquireUninterruptibly(ASYNC_IO);
            asyncIo.release(ASYNC_IO);
        }
        if (writes.availablePermits() < ASYNC_WRITES) {
            writes.acquireUninterruptibly(ASYNC_WRITES);
            writes.release(ASYNC_WRITES);
        }
    }

    /** On a worker: reads the image into the reply's buffers (or makes it an error reply) and queues it. */
    private void fill(Reply r, VirtualDisk d, boolean structuredNow, long cookie, long offset, int n) {
        Throwable failure = null;
        try {
            if (r.data.length == 1) {
                d.read(r.data[0], offset);
            } else {
                d.read(r.data, offset); // one scattering read where the disk can
            }
        } catch (RuntimeException e) {
            failure = e;
        }
        answerRead(r, d, structuredNow, cookie, offset, n, failure);
    }

    /**
     * Makes a read's reply from its filled buffers, or an error reply from a storage error, and
     * queues it; anything else ends the session.
     *
     * @param failure null when the buffers hold the data
     */
    private void answerRead(Reply r, VirtualDisk d, boolean structuredNow, long cookie, long offset, int n,
            Throwable failure) {
        try {
            if (failure == null) {
                for (ByteBuffer b : r.data) {
                    b.flip();
                }
                readHeader(r.header, structuredNow, cookie, offset, n);
            } else if (failure instanceof StorageException e) {
                export.failed(d, e);
                freeData(r);
                r.header.clear();
                errorTo(r.header, structuredNow, cookie, CMD_READ, errno(e), e.getMessage());
            } else {
                throw failure instanceof RuntimeException re ? re : new IllegalStateException(failure);
            }
            r.header.flip();
        } catch (RuntimeException e) {
            unexpected = e;
            LOG.warn("nbd client {}: read failed; disconnecting", peer, e);
            close();
            release(r);
            return;
        }
        enqueue(r);
    }

    private ByteBuffer header() {
        ByteBuffer h = headers.poll();
        if (h == null) {
            h = ByteBuffer.allocateDirect(HEADER); // at most ASYNC_READS per connection, reused
        }
        return h.clear();
    }

    private void freeData(Reply r) {
        res.replies().release(r.data);
        r.data = null;
        budget.release(r.chunks);
        r.chunks = 0;
    }

    /** Returns what a queued reply holds: its data, slice, header and its in-flight slot. */
    private void release(Reply r) {
        freeData(r);
        if (r.slice != null) {
            r.slice.close();
            r.slice = null;
        }
        headers.offer(r.header);
        (r.device ? asyncIo : r.write ? writes : inFlight).release();
    }

    private void enqueue(Reply r) {
        queue.add(r);
        if (draining.compareAndSet(false, true)) {
            if (directSend && sendWithoutWaiting()) {
                return;
            }
            if (sendHere == Thread.currentThread()) {
                drain(); // this connection's thread, which reads no request meanwhile
                return;
            }
            try {
                res.senders().execute(this::drain);
            } catch (RejectedExecutionException e) {
                close(); // the server is stopping
                drain();
            }
        }
    }

    /**
     * The sender: writes queued replies until none is left; only one runs per connection.
     * Replies that are ready together go out in one gathering write (up to
     * {@value #BATCH_BUFFERS} buffers): one system call and fewer TCP segments for a burst of
     * small replies, which is what a LUN's completions come in. A reply with a file slice goes
     * on its own, after what was gathered before it.
     */
    private void drain() {
        try {
            sendAll(batch); // what sendWithoutWaiting started goes out first, whole
        } finally {
            sending.lock();
            try {
                cutShort = false;
                batchDone.signalAll();
            } finally {
                sending.unlock();
            }
        }
        while (true) {
            int buffers = 0;
            Reply r;
            while ((r = queue.poll()) != null) {
                if (r.slice != null) {
                    sendAll(batch);
                    batch.add(r);
                    sendAll(batch);
                    buffers = 0;
                    continue;
                }
                batch.add(r);
                buffers += 1 + (r.data == null ? 0 : r.data.length);
                if (buffers >= BATCH_BUFFERS) {
                    sendAll(batch);
                    buffers = 0;
                }
            }
            sendAll(batch);
            draining.set(false);
            if (queue.isEmpty() || !draining.compareAndSet(false, true)) {
                return;
            }
        }
    }

    /**
     * For a disk that completes requests on its own I/O thread ({@link #directSend}): called by
     * whoever just took {@link #draining}, it writes the queued replies as far as the socket
     * takes them without waiting, so that a completing thread answers the client itself and
     * no sender thread has to be woken for it. What the socket does not take now (a client
     * that reads slowly), or a send lock held by another thread, is left to the sender: the
     * replies of a batch cut short stay in {@link #batch}, and {@link #draining} stays taken.
     *
     * @return true when every queued reply went out and {@link #draining} was released
     */
    private boolean sendWithoutWaiting() {
        if (!sending.tryLock()) {
            return false;
        }
        try {
            while (true) {
                int buffers = 0;
                Reply r;
                while (buffers < BATCH_BUFFERS && (r = queue.peek()) != null && r.slice == null) {
                    queue.poll();
                    batch.add(r);
                    buffers += 1 + (r.data == null ? 0 : r.data.length);
                }
                if (batch.isEmpty()) {
                    if (!queue.isEmpty()) {
                        return false; // a file slice: the sender sends it (it may wait)
                    }
                    draining.set(false);
                    if (queue.isEmpty() || !draining.compareAndSet(false, true)) {
                        return true;
                    }
                    continue;
                }
                if (!closed) {
                    ByteBuffer[] all = gather(batch);
                    long left = 0;
                    for (ByteBuffer b : all) {
                        left += b.remaining();
                    }
                    try {
                        left -= ch.tryWrite(all);
                    } catch (IOException | RuntimeException e) {
                        if (!closed) {
                            LOG.debug("nbd client {}: reply failed: {}", peer, e.toString());
                        }
                        close();
                    }
                    if (left > 0 && !closed) {
                        cutShort = true;
                        return false; // the rest of the batch is the sender's
                    }
                }
                for (Reply b : batch) {
                    release(b);
                }
                batch.clear();
            }
        } finally {
            sending.unlock();
        }
    }

    /** @return the buffers of a batch of replies, in order */
    private static ByteBuffer[] gather(List<Reply> batch) {
        int n = 0;
        for (Reply r : batch) {
            n += 1 + (r.data == null ? 0 : r.data.length);
        }
        ByteBuffer[] all = new ByteBuffer[n];
        int i = 0;
        for (Reply r : batch) {
            all[i++] = r.header;
            if (r.data != null) {
                for (ByteBuffer d : r.data) {
                    all[i++] = d;
                }
            }
        }
        return all;
    }

    /** Most buffers one gathering write of the sender takes. */
    private static final int BATCH_BUFFERS = 64;

    /** Sends the replies of a batch (unless the session is closed), releases them and empties it. */
    private void sendAll(List<Reply> batch) {
        if (batch.isEmpty()) {
            return;
        }
        try {
            if (!closed) {
                send(batch);
            }
        } catch (IOException | RuntimeException e) {
            if (!closed) {
                LOG.debug("nbd client {}: read reply failed: {}", peer, e.toString());
            }
            close(); // the client is gone, or the reply cannot be sent: end the session
        } finally {
            for (Reply r : batch) {
                release(r);
            }
            batch.clear();
        }
    }

    private void send(List<Reply> batch) throws IOException {
        ByteBuffer[] all = gather(batch);
        long left = 0;
        for (ByteBuffer b : all) {
            left += b.remaining();
        }
        sending.lock();
        try {
            while (left > 0) {
                left -= ch.write(all);
            }
            for (Reply r : batch) {
                if (r.slice != null) {
                    // A failure here leaves a reply cut short: only closing the session is left.
                    r.slice.transferTo(ch.sink());
                }
            }
        } finally {
            sending.unlock();
        }
    }

    /**
     * A large read without pooled memory: sent from the output buffer, piece by piece, on the
     * connection's thread. A read failing after the header is out can only end the session.
     */
    private void stream(VirtualDisk d, long cookie, long offset, int n) throws IOException {
        flushOut();
        int header = structured ? 28 : 16;
        int first = Math.min(n, out.capacity() - header);
        ByteBuffer dst = out.duplicate();
        dst.clear().position(header).limit(header + first);
        try {
            d.read(dst, offset);
        } catch (StorageException e) {
            export.failed(d, e);
            errorReply(cookie, CMD_READ, errno(e), e.getMessage());
            return;
        }
        out.clear();
        readHeader(out, structured, cookie, offset, n);
        out.position(header + first);
        lockSocket();
        try {
            out.flip();
            while (out.hasRemaining()) {
                ch.write(out);
            }
            for (long done = first; done < n; ) {
                int k = (int) Math.min(out.capacity(), n - done);
                out.clear().limit(k);
                try {
                    d.read(out, offset + done);
                } catch (StorageException e) {
                    export.failed(d, e);
                    throw new IOException("read " + range(offset, n) + " failed after its reply started: "
                            + e.getMessage(), e);
                }
                out.flip();
                while (out.hasRemaining()) {
                    ch.write(out);
                }
                done += k;
            }
        } finally {
            out.clear();
            sending.unlock();
        }
    }

    private static void readHeader(ByteBuffer o, boolean structured, long cookie, long offset, int n) {
        if (structured) {
            o.putInt(STRUCTURED_REPLY_MAGIC).putShort((short) REPLY_FLAG_DONE).putShort((short) REPLY_TYPE_OFFSET_DATA)
                    .putLong(cookie).putInt(8 + n).putLong(offset);
        } else {
            o.putInt(SIMPLE_REPLY_MAGIC).putInt(0).putLong(cookie);
        }
    }

    /** Reads and drops {@code n} bytes of payload. */
    private void skip(long n) throws IOException {
        while (n > 0) {
            int k = (int) Math.min(in.capacity(), n);
            need(k);
            in.position(in.position() + k);
            n -= k;
        }
    }

    private void write(long cookie, int flags, long offset, long length) throws IOException, Protocol_Violation {
        if (length > MAX_PAYLOAD) {
            errorReply(cookie, CMD_WRITE, EOVERFLOW, "write of " + length + " bytes is over the " + MAX_PAYLOAD
                    + "-byte limit");
            flushOut();
            throw new Protocol_Violation("write payload of " + length + " bytes");
        }
        int unknown = flags & ~allowedFlags(CMD_WRITE);
        if (unknown != 0) {
            skip(length);
            errorReply(cookie, CMD_WRITE, EINVAL, "write with unknown flags 0x" + Integer.toHexString(unknown));
            return;
        }
        int n = (int) length;
        VirtualDisk dev = concurrentDisk();
        if (dev != null && inRange(dev, offset, n) && deviceWrite(dev, cookie, flags, offset, n)) {
            return;
        }
        if (n >= WINDOW_MIN && exports.receiveInPlace() && receiveInPlace(cookie, flags, offset, n)) {
            return;
        }
        if (local && n >= LARGE_WRITE_MIN && n > in.remaining() && exports.busy() <= 1
                && largeWrite(cookie, flags, offset, n)) {
            return;
        }
        receiveAndWrite(cookie, flags, offset, n);
    }

    /**
     * A large write from the Unix socket while this is the server's one busy connection: its
     * payload is received here into pooled buffers, written (and flushed for FUA) by a worker,
     * and answered by the sender, while this thread goes on to read the next request. Over a
     * Unix socket all a client may have on its way is what its send buffer holds (about
     * 208 KiB by default), so a write done here stalls the client for its {@code pwrite}
     * (bench/run.sh TRANSPORT=unix, 1 MiB writes: 0.88-0.89 of nbdkit done here, 1.00-1.39
     * so, at about nbdkit's CPU per GiB). Over TCP the receive window holds megabytes and the client goes
     * on sending meanwhile; there the hand-off only added its cost (0.87 against 0.99-1.07,
     * and in five earlier trials on AMD machines). With several busy connections their
     * threads already overlap the writes.
     *
     * @return false when no slot of {@link #writes} or no pooled memory is free now, or the
     *     request is for the ordinary path to refuse: the caller serves it
     */
    private boolean largeWrite(long cookie, int flags, long offset, int n) throws IOException {
        if (export.readOnly) {
            return false;
        }
        VirtualDisk d;
        try {
            d = export.disk();
        } catch (StorageException e) {
            return false; // the ordinary path answers with the error
        }
        int chunks = res.replies().chunks(n);
        if (!inRange(d, offset, n) || chunks > replyChunks() || !writes.tryAcquire()) {
            return false;
        }
        ByteBuffer[] bufs = pooled(writes, n);
        if (bufs == null) {
            return false;
        }
        Reply r = new Reply(header());
        r.write = true;
        r.data = bufs;
        r.chunks = chunks;
        try {
            // the buffered head of the payload is copied out, and the read that ends the
            // payload also takes the next request's header if it has come
            readPayload(bufs, 0);
            lean = true;
            res.workers().execute(() -> applyWrite(r, d, cookie, flags, offset));
            exports.workerWrite();
            return true;
        } catch (IOException e) {
            release(r);
            throw e;
        } catch (RejectedExecutionException e) {
            release(r);
            throw new IOException("the server is stopping", e);
        }
    }

    /**
     * Receives a write's payload (what {@code in} holds of it, then the socket) into buffers and
     * writes it. A large payload mostly still in the socket is read into pooled buffers, and the
     * read that ends it also takes the next request's header if the client has sent it
     * ({@link #readPayload(ByteBuffer[], int)}); the next header is then read alone
     * ({@link #lean}) if it had not. So a client that keeps large writes coming costs one read
     * per write, its payload in page-aligned buffers, where reading the header with as much of
     * the stream as the input buffer takes cost two (and a poll for the header between).
     */
    private void receiveAndWrite(long cookie, int flags, long offset, int n) throws IOException, Protocol_Violation {
        if (n > in.remaining() && n > ZERO_COPY_MIN) {
            int head = in.remaining();
            ByteBuffer[] rest = res.replies().tryAcquire(n - head);
            if (rest != null) {
                try {
                    ByteBuffer[] all = rest;
                    if (head > 0) {
                        all = new ByteBuffer[rest.length + 1];
                        all[0] = in.slice();
                        in.position(in.limit());
                        System.arraycopy(rest, 0, all, 1, rest.length);
                    }
                    // The input buffer is empty. Behind a head still to be written the next
                    // header goes after it; with no head the buffer starts over.
                    readPayload(rest, head > 0 ? in.limit() : 0);
                    modify(cookie, CMD_WRITE, flags, offset, n, all);
                } finally {
                    res.replies().release(rest);
                }
                lean = true;
                replyNow = true;
                return;
            }
        }
        if (n <= in.capacity()) {
            need(n);
            ByteBuffer data = in.slice();
            data.limit(n);
            in.position(in.position() + n);
            modify(cookie, CMD_WRITE, flags, offset, n, new ByteBuffer[] {data});
            return;
        }
        // the pool had no room for the payload above, and has no more for all of it
        writePieces(cookie, flags, offset, n);
    }

    /**
     * Reads a large write's payload straight into the image file's pages (a {@link FileWindow}
     * of the volume): one copy where a buffer costs two. The window holds the volume's gate,
     * which a snapshot waits for, so it is filled only with what has already arrived and never
     * waits on the client: what is buffered, then what the socket holds
     * ({@link Wire#readArrived}). A rest still on its way is then received and written the
     * ordinary way, after the window is closed. A wire that cannot read without waiting, a
     * reply being sent meanwhile, and any doubt about the volume leave the whole request to the
     * ordinary path before a byte of the payload is consumed.
     *
     * @return whether the request was served (replied, or the connection failed)
     */
    private boolean receiveInPlace(long cookie, int flags, long offset, int n)
            throws IOException, Protocol_Violation {
        if (export.readOnly || in.remaining() >= n || !ch.readsArrived()) {
            return false;
        }
        Optional<FileWindow> found;
        VirtualDisk d;
        try {
            d = export.disk();
            if (!inRange(d, offset, n)) {
                return false;
            }
            found = d.window(offset, n);
        } catch (StorageException e) {
            return false; // the ordinary path answers with the error
        }
        if (found.isEmpty()) {
            return false;
        }
        int filled;
        int head = in.remaining();
        StorageException failure = null;
        try (FileWindow w = found.get()) {
            // A blocking socket reads what has arrived by turning non-blocking for the read; a
            // send meanwhile (a sender thread's reply, sendfile) would find it full and fail. So
            // the send side is held for the read, and never waited for: the window holds the gate.
            boolean exclusive = !directSend;
            if (exclusive && !sending.tryLock()) {
                return false;
            }
            try {
                ByteBuffer dst = w.buffer();
                try {
                    w.write(in.slice()); // through the file: never a store into the mapping
                } catch (StorageException e) {
                    failure = e;
                }
                in.position(in.position() + head);
                if (failure == null && ch.readArrived(dst) < 0) {
                    throw new EOFException("client disconnected in the middle of a write payload");
                }
                filled = dst.position();
            } finally {
                if (exclusive) {
                    sending.unlock();
                }
            }
        }
        if (failure != null) {
            skip(n - head); // the payload is read all the same; the write failed
            export.failed(d, failure);
            simpleReply(cookie, errno(failure));
            return true;
        }
        if (filled > 0) { // a window that found nothing arrived took no part in the write
            windowWrites++;
            exports.windowWrite();
        }
        if (filled < n) {
            // The rest is still arriving: received into buffers, written as usual.
            receiveAndWrite(cookie, flags, offset + filled, n - filled);
            return true;
        }
        lean = true; // the next header alone: a payload after it stays in the socket for its window
        try {
            if ((flags & CMD_FLAG_FUA) != 0) {
                d.flush();
            }
            simpleReply(cookie, 0);
        } catch (StorageException e) {
            export.failed(d, e);
            simpleReply(cookie, errno(e));
        }
        return true;
    }

    /** @return how many writes were received in place (for tests) */
    long windowWrites() {
        return windowWrites;
    }

    /** Fills the buffers with the rest of a write's payload: what is buffered, then the socket. */
    private void readPayload(ByteBuffer[] bufs) throws IOException {
        readPayload(bufs, -1);
    }

    /**
     * Fills the buffers with the rest of a write's payload: what is buffered, then the socket.
     * With {@code nextAt} at 0 or more, the input buffer must be empty: the socket reads also
     * offer it the next request's header at that position, so that the read ending the payload
     * takes the header too if it has arrived (never more than a header: the next payload then
     * comes whole from the socket, into buffers of its own). The input buffer ends holding what
     * came of it.
     */
    private void readPayload(ByteBuffer[] bufs, int nextAt) throws IOException {
        for (ByteBuffer b : bufs) {
            int buffered = Math.min(in.remaining(), b.remaining());
            if (buffered == 0) {
                break;
            }
            ByteBuffer part = in.slice();
            part.limit(buffered);
            b.put(part);
            in.position(in.position() + buffered);
        }
        // the rest straight from the socket, scattered over the buffers in one call at a time
        ByteBuffer last = bufs[bufs.length - 1];
        ByteBuffer[] dsts = bufs;
        ByteBuffer header = null;
        if (last.hasRemaining() && nextAt >= 0 && nextAt + REQUEST <= in.capacity()) {
            header = in.duplicate();
            header.limit(nextAt + REQUEST).position(nextAt);
            dsts = Arrays.copyOf(bufs, bufs.length + 1);
            dsts[bufs.length] = header;
        }
        while (last.hasRemaining()) {
            if (ch.read(dsts) < 0) {
                throw new EOFException("client disconnected in the middle of a write payload");
            }
        }
        if (header != null) {
            in.limit(header.position());
            in.position(nextAt);
        }
        for (ByteBuffer b : bufs) {
            b.flip();
        }
    }

    /** @return whether the export's disk completes requests on its own I/O threads */
    private boolean concurrentExport() {
        try {
            return export.disk().concurrentIo();
        } catch (StorageException e) {
            return false; // requests answer with the error
        }
    }

    /** The export's disk when its I/O is latency-bound and it may be written; else null. */
    private VirtualDisk concurrentDisk() {
        if (export.readOnly) {
            return null;
        }
        try {
            VirtualDisk d = export.disk();
            return d.concurrentIo() ? d : null;
        } catch (StorageException e) {
            return null; // the ordinary path answers with the error
        }
    }

    /**
     * A write to a latency-bound disk: the payload is read into pooled buffers here, written
     * (and flushed for FUA) on a device I/O thread, and answered by the sender.
     *
     * @return false when no slot or memory is free now: the caller writes it here
     */
    private boolean deviceWrite(VirtualDisk d, long cookie, int flags, long offset, int n) throws IOException {
        ByteBuffer[] bufs = deviceBuffers(n);
        if (bufs == null) {
            return false;
        }
        Reply r = deviceReply(bufs, n);
        try {
            readPayload(bufs);
            if ((flags & CMD_FLAG_FUA) != 0) {
                res.deviceIo().execute(() -> applyWrite(r, d, cookie, flags, offset));
                return true;
            }
        } catch (IOException | RejectedExecutionException e) {
            release(r);
            if (e instanceof IOException io) {
                throw io;
            }
            throw new IOException("the server is stopping", e);
        }
        startAll(d, bufs, offset, true).whenComplete((v, e) -> {
            if (e == null) {
                answerWrite(r, d, cookie, null);
            } else {
                onDeviceIo(() -> answerWrite(r, d, cookie, cause(e)));
            }
        });
        return true;
    }

    /**
     * On a device I/O thread (a device write with FUA, which waits for the flush) or a worker
     * (a {@link #largeWrite}): the write, and its reply queued for the sender.
     */
    private void applyWrite(Reply r, VirtualDisk d, long cookie, int flags, long offset) {
        Throwable failure = null;
        try {
            if (r.data.length == 1) {
                d.write(r.data[0], offset);
            } else {
                d.write(r.data, offset); // one gathering write where the disk can
            }
            if ((flags & CMD_FLAG_FUA) != 0) {
                d.flush();
            }
        } catch (RuntimeException e) {
            failure = e;
        }
        answerWrite(r, d, cookie, failure);
    }

    /**
     * Queues a write's simple reply: success, or the errno of a storage error; anything else
     * ends the session.
     *
     * @param failure null when the write succeeded
     */
    private void answerWrite(Reply r, VirtualDisk d, long cookie, Throwable failure) {
        int error = 0;
        try {
            if (failure instanceof StorageException e) {
                export.failed(d, e);
                error = errno(e);
            } else if (failure != null) {
                throw failure instanceof RuntimeException re ? re : new IllegalStateException(failure);
            }
            freeData(r);
            r.header.clear();
            r.header.putInt(SIMPLE_REPLY_MAGIC).putInt(error).putLong(cookie).flip();
        } catch (RuntimeException e) {
            unexpected = e;
            LOG.warn("nbd client {}: write failed; disconnecting", peer, e);
            close();
            release(r);
            return;
        }
        enqueue(r);
    }

    /** A large write while the pool has no memory free: applied piece by piece as it arrives. */
    private void writePieces(long cookie, int flags, long offset, int n) throws IOException {
        if (export.readOnly) {
            skip(n);
            simpleReply(cookie, EPERM);
            return;
        }
        VirtualDisk d;
        try {
            d = export.disk();
            if (!inRange(d, offset, n)) {
                skip(n);
                simpleReply(cookie, EINVAL);
                return;
            }
        } catch (StorageException e) {
            skip(n);
            simpleReply(cookie, errno(e));
            return;
        }
        StorageException failure = null;
        for (long done = 0; done < n; ) {
            int k = (int) Math.min(in.capacity(), n - done);
            need(k);
            ByteBuffer part = in.slice();
            part.limit(k);
            in.position(in.position() + k);
            if (failure == null) {
                try {
                    d.write(part, offset + done);
                } catch (StorageException e) {
                    failure = e; // the rest of the payload is read all the same
                }
            }
            done += k;
        }
        try {
            if (failure != null) {
                throw failure;
            }
            if ((flags & CMD_FLAG_FUA) != 0) {
                d.flush();
            }
            simpleReply(cookie, 0);
        } catch (StorageException e) {
            export.failed(d, e);
            simpleReply(cookie, errno(e));
        }
    }

    /**
     * WRITE (with its payload), TRIM or WRITE_ZEROES: read-only and range checks, the change,
     * FUA. Replies are simple (errors too: these commands carry no data back).
     */
    private void modify(long cookie, int type, int flags, long offset, long length, ByteBuffer[] payload)
            throws IOException {
        if (type != CMD_WRITE) {
            awaitUnderWay(); // a trim or zeroing does not overtake writes under way
        }
        if (export.readOnly) {
            simpleReply(cookie, EPERM);
            return;
        }
        VirtualDisk d = null;
        try {
            d = export.disk();
            if (!inRange(d, offset, length)) {
                simpleReply(cookie, EINVAL);
                return;
            }
            switch (type) {
                case CMD_WRITE -> {
                    if (payload.length == 1) {
                        d.write(payload[0], offset);
                    } else {
                        d.write(payload, offset); // one gathering write where the disk can
                    }
                }
                case CMD_TRIM -> trim(d, offset, length);
                default -> zero(d, flags, offset, length);
            }
            if ((flags & CMD_FLAG_FUA) != 0) {
                d.flush();
            }
            simpleReply(cookie, 0);
        } catch (FastZeroRefused e) {
            simpleReply(cookie, ENOTSUP);
        } catch (StorageException e) {
            if (d != null) {
                export.failed(d, e);
            }
            simpleReply(cookie, errno(e));
        }
    }

    private static void trim(VirtualDisk d, long offset, long length) {
        try {
            d.trim(offset, length);
        } catch (StorageException e) {
            if (e.code() != ErrorCode.UNSUPPORTED) {
                throw e;
            }
            // a trim is advisory: a format that cannot free space keeps the data
        }
    }

    private void flush(long cookie) throws IOException {
        awaitUnderWay(); // the writes under way are part of what this flush makes durable
        VirtualDisk d = null;
        try {
            d = export.disk();
            d.flush();
            simpleReply(cookie, 0);
        } catch (StorageException e) {
            if (d != null) {
                export.failed(d, e);
            }
            simpleReply(cookie, errno(e));
        }
    }

    /** FAST_ZERO asked for zeroing that would cost as much as writing. */
    private static final class FastZeroRefused extends RuntimeException {
        private static final long serialVersionUID = 1L;

        FastZeroRefused(String message) {
            super(message, null, false, false);
        }
    }

    private void zero(VirtualDisk d, int flags, long offset, long length) {
        boolean fast = (flags & CMD_FLAG_FAST_ZERO) != 0;
        if ((flags & CMD_FLAG_NO_HOLE) != 0) {
            if (fast) {
                throw new FastZeroRefused("zeroing without holes is no faster than writing");
            }
            ByteBuffer zeros = res.zeros().duplicate(); // shared: only ever read
            for (long done = 0; done < length; ) {
                int n = (int) Math.min(zeros.capacity(), length - done);
                zeros.clear().limit(n);
                d.write(zeros, offset + done);
                done += n;
            }
            return;
        }
        if (fast && !export.fastZero()) {
            throw new FastZeroRefused("this volume's format zeroes by writing zeros");
        }
        d.writeZeroes(offset, length);
    }

    private void blockStatus(long cookie, int flags, long offset, long length) throws IOException {
        if (!structured || !baseAllocation) {
            errorReply(cookie, CMD_BLOCK_STATUS, EINVAL, "base:allocation was not negotiated");
            return;
        }
        VirtualDisk d = null;
        List<Extent> extents;
        try {
            d = export.disk();
            if (length == 0 || !inRange(d, offset, length)) {
                errorReply(cookie, CMD_BLOCK_STATUS, EINVAL, "range " + range(offset, length)
                        + " is empty or past the end of the export");
                return;
            }
            extents = d.blockStatus(offset, length);
        } catch (StorageException e) {
            if (d != null) {
                export.failed(d, e);
            }
            errorReply(cookie, CMD_BLOCK_STATUS, errno(e), e.getMessage());
            return;
        }
        boolean one = (flags & CMD_FLAG_REQ_ONE) != 0;
        long end = offset + length;
        long[] lens = new long[Math.min(MAX_DESCRIPTORS, Math.max(1, extents.size()))];
        int[] states = new int[lens.length];
        int count = 0;
        long pos = offset;
        for (Extent x : extents) {
            long from = Math.max(pos, x.offset());
            long to = Math.min(end, x.offset() + x.length());
            if (to <= from) {
                continue;
            }
            if (from > pos) { // a gap the format did not describe: data
                count = add(lens, states, count, from - pos, 0);
            }
            int state = !x.allocated() ? STATE_HOLE | STATE_ZERO : x.zero() ? STATE_ZERO : 0;
            count = add(lens, states, count, to - from, state);
            pos = to;
            if (count == lens.length || pos >= end) {
                break;
            }
        }
        if (pos < end && count < lens.length) {
            count = add(lens, states, count, end - pos, 0);
        }
        if (one) {
            count = Math.min(count, 1);
        }
        int payload = 4 + 8 * count;
        reserve(20 + payload);
        out.putInt(STRUCTURED_REPLY_MAGIC).putShort((short) REPLY_FLAG_DONE).putShort((short) REPLY_TYPE_BLOCK_STATUS)
                .putLong(cookie).putInt(payload).putInt(BASE_ALLOCATION_ID);
        for (int i = 0; i < count; i++) {
            out.putInt((int) lens[i]).putInt(states[i]);
        }
    }

    /** Appends an extent, merging it into the previous one of the same state; lengths stay below 4 GiB. */
    private static int add(long[] lens, int[] states, int count, long len, int state) {
        if (count > 0 && states[count - 1] == state && lens[count - 1] + len <= 0xfffff000L) {
            lens[count - 1] += len;
            return count;
        }
        if (count == lens.length) {
            return count;
        }
        lens[count] = Math.min(len, 0xfffff000L);
        states[count] = state;
        return count + 1;
    }

    private void simpleReply(long cookie, int error) throws IOException {
        reserve(16);
        out.putInt(SIMPLE_REPLY_MAGIC).putInt(error).putLong(cookie);
    }

    private void errorReply(long cookie, int type, int errno, String message) throws IOException {
        reserve(20 + 6 + MAX_MESSAGE);
        errorTo(out, structured, cookie, type, errno, message);
    }

    /** An error reply (a structured error chunk where the protocol wants one) into {@code o}. */
    private static void errorTo(ByteBuffer o, boolean structured, long cookie, int type, int errno,
            String message) {
        if (structured && (type == CMD_READ || type == CMD_BLOCK_STATUS)) {
            byte[] m = message == null ? new byte[0] : message.getBytes(StandardCharsets.UTF_8);
            int len = Math.min(m.length, Math.min(MAX_MESSAGE, o.remaining() - 26));
            o.putInt(STRUCTURED_REPLY_MAGIC).putShort((short) REPLY_FLAG_DONE).putShort((short) REPLY_TYPE_ERROR)
                    .putLong(cookie).putInt(6 + len).putInt(errno).putShort((short) len).put(m, 0, len);
        } else {
            o.putInt(SIMPLE_REPLY_MAGIC).putInt(errno).putLong(cookie);
        }
    }

    static int errno(StorageException e) {
        return switch (e.code()) {
            case OUT_OF_RANGE, INVALID_ARGUMENT, INVALID_SIZE -> EINVAL;
            case READ_ONLY, PERMISSION_DENIED -> EPERM;
            case DATASTORE_FULL -> ENOSPC;
            case UNSUPPORTED -> ENOTSUP;
            case EXPORT_NOT_FOUND -> ESHUTDOWN;
            default -> EIO;
        };
    }

    // ---------------------------------------------------------------- buffers

    /**
     * Before the connection's thread sleeps on the socket for the next request, it polls for it
     * a moment ({@link Exports#pollNanos}): a thread asleep is woken by the client's own send,
     * and on a machine where the client has one core of two that wake-up is paid on the
     * client's core (4k random reads, one connection: a third of the time of the client's
     * sends, 12% of all its time, went to it). Only a busy connection polls, and only while
     * it is the server's one busy connection: with several, their threads need the cores. A
     * poll that finds nothing makes the next ones wait: it is skipped for 1, 2, 4 ... up to
     * this many waits.
     */
    static final int POLL_BACKOFF_MAX = 64;

    /** Waits to go by before the next poll, and what the next miss sets it to. */
    private int pollSkip;
    private int pollBackoff;

    /** Polls the socket for the next request header ({@link #POLL_BACKOFF_MAX}); never sleeps. */
    private void pollForRequest() throws IOException {
        long nanos = exports.pollNanos();
        if (nanos <= 0 || lean || directSend || !ch.readsArrived()) {
            return;
        }
        if (pollSkip > 0) {
            pollSkip--;
            return;
        }
        long now = exports.now();
        // The socket is non-blocking while it is polled: a send meanwhile (a sender thread's
        // batch, sendfile) could find it full and fail. So the send side is held for the poll.
        if (!busy(now) || exports.busy() > 1 || !sending.tryLock()) {
            return;
        }
        try {
            in.compact();
            try {
                ch.poll(in, REQUEST, nanos);
            } finally {
                in.flip();
            }
        } finally {
            sending.unlock();
        }
        if (in.remaining() >= REQUEST) {
            pollBackoff = 0;
            exports.polled(true);
        } else {
            pollBackoff = Math.min(POLL_BACKOFF_MAX, Math.max(1, 2 * pollBackoff));
            pollSkip = pollBackoff;
            exports.polled(false);
        }
    }

    /** Makes at least {@code n} unread bytes available in {@code in} (n at most its capacity). */
    private void need(int n) throws IOException {
        if (in.remaining() >= n) {
            return;
        }
        in.compact();
        if (lean) {
            // After a payload received in place, read only what is needed (a request's header):
            // the next payload is then all still in the socket, for its own window.
            lean = false;
            in.limit(n);
        }
        while (in.position() < n) {
            if (ch.read(in) < 0) {
                in.flip();
                throw new EOFException("client disconnected");
            }
        }
        in.flip();
    }

    /**
     * Takes {@link #sending} for the connection's thread, once no reply is left half sent: bytes
     * written into the middle of one would break the stream's framing for the client.
     */
    private void lockSocket() throws IOException {
        sending.lock();
        try {
            while (cutShort && !closed) {
                batchDone.await(1, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            sending.unlock();
            Thread.currentThread().interrupt();
            throw new java.io.InterruptedIOException("interrupted waiting to send");
        }
    }

    private void reserve(int n) throws IOException {
        if (out.remaining() < n) {
            flushOut();
        }
    }

    /**
     * Sends the replies buffered so far. With {@code send.overlap} on, a batch of at least
     * {@link #OVERLAP_MIN} bytes of the server's one busy connection goes to a sender, which
     * writes it while this thread serves the next requests into the other output buffer (at
     * most one batch is being sent; the next waits for it). Otherwise (the default), and for a
     * smaller batch, one among several busy connections, or any while no second buffer can be
     * had, it is written here.
     */
    private void flushBatch() throws IOException {
        if (!exports.sendOverlap() || out.position() < OVERLAP_MIN || exports.busy() > 1 || !spareFree()) {
            flushOut();
            return;
        }
        ByteBuffer full = out;
        out = spare;
        spare = full;
        full.flip();
        try {
            sent = CompletableFuture.runAsync(() -> sendBatch(full), res.senders());
        } catch (RejectedExecutionException stopping) {
            sent = null;
            sendBatch(full);
        }
    }

    /** On a sender: writes a batch whole (holding the socket, as every write does), then empties it. */
    private void sendBatch(ByteBuffer full) {
        try {
            writeWhole(full);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } finally {
            full.clear();
        }
    }

    /**
     * Waits for the batch being sent, if any.
     *
     * @return whether a second output buffer is free: false while the pool has none to lend
     * @throws IOException when the batch's write failed (the client is gone)
     */
    private boolean spareFree() throws IOException {
        awaitSent();
        if (spare == null) {
            if (closed || !budget.tryAcquire(1)) {
                return false;
            }
            ByteBuffer[] b = res.replies().tryAcquire(BUF);
            if (b == null || b.length != 1) {
                res.replies().release(b);
                budget.release(1);
                return false;
            }
            second = b;
            spare = b[0].clear();
        }
        return true;
    }

    private void awaitSent() throws IOException {
        CompletableFuture<Void> s = sent;
        if (s == null) {
            return;
        }
        sent = null;
        try {
            s.join();
        } catch (CompletionException e) {
            if (e.getCause() instanceof UncheckedIOException io) {
                throw io.getCause();
            }
            throw e.getCause() instanceof RuntimeException re ? re : e;
        }
    }

    /** At the end of the session: the batch being sent ends (the socket is shut down) before its buffer is freed. */
    private void awaitSentQuietly() {
        try {
            awaitSent();
        } catch (IOException | RuntimeException e) {
            // the client is gone; nothing more goes to it
        }
    }

    private void flushOut() throws IOException {
        awaitSent(); // a batch being sent goes first (a request's hole chunks before its data)
        if (out.position() == 0) {
            return;
        }
        out.flip();
        writeWhole(out);
        out.clear();
    }

    /** Writes all of {@code b} to the socket, holding it as every write does. */
    private void writeWhole(ByteBuffer b) throws IOException {
        lockSocket();
        try {
            while (b.hasRemaining()) {
                ch.write(b);
            }
        } finally {
            sending.unlock();
        }
    }
}

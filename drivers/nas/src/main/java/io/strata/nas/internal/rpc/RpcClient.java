package io.strata.nas.internal.rpc;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import io.strata.api.device.DeviceState;
import io.strata.api.device.WriteFence;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An ONC RPC (RFC 5531) client of one program and version on one server, over one TCP
 * connection with record marking. Any number of calls are in flight; replies are matched by xid.
 *
 * <p>It behaves like a hard NFS mount with a limit. A call is sent on the current connection;
 * when the connection breaks (the server restarts, a path fails), a thread of the client
 * reconnects, with growing pauses of at most a second, and sends every unanswered call again
 * with its xid (a server's duplicate request cache then answers the ones it had done). A
 * connection on which a call has had no answer for {@link Options#replyTimeoutMs} is dropped
 * and made again. A call fails only when its {@link Options#limitMs} passes without an answer
 * ({@code DEVICE_UNAVAILABLE}), when the server refuses it (see {@link RpcException}), or when
 * the client is closed. A resent call is only safe for idempotent procedures, or with a server
 * that keeps a duplicate request cache; NFS's READ, WRITE at one offset, COMMIT, GETATTR, LOOKUP
 * and SETATTR of a size are idempotent.
 *
 * <p>A call may carry a {@link WriteFence}: the client checks it right before each piece of the
 * call goes to the socket, on the first send and on every resend, so a host that stood still
 * (SIGSTOP, a long pause) between its caller's last check and the send does not send the call
 * when it wakes up. A refusal in the middle of a call's record drops the connection, so the
 * server never gets the rest and never runs a cut-off call. For that the socket is
 * non-blocking: a send that has to wait for room in the socket waits in a selector, never
 * inside a system call that would carry the rest of the record on by itself after the pause.
 *
 * <p>Futures complete on the client's reader thread: what is chained to them must not block on
 * this client.
 */
public final class RpcClient implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(RpcClient.class);
    private static final long TICK_MS = 100;
    private static final int MAX_BACKOFF_MS = 1000;
    /** A call sent this long ago without an answer makes the server count as not answering. */
    private static final long SLOW_NANOS = TimeUnit.SECONDS.toNanos(5);
    /** A gap this long between two ticks of the timer means this process stood still (SIGSTOP, a VM paused). */
    static final long STALL_NANOS = TimeUnit.SECONDS.toNanos(4);

    /** Timings and limits of a client. */
    public record Options(int connectTimeoutMs, int replyTimeoutMs, long limitMs, int maxRecord) {
        public Options {
            if (connectTimeoutMs <= 0 || replyTimeoutMs <= 0 || limitMs <= 0 || maxRecord < 1024) {
                throw new IllegalArgumentException("bad RPC options " + connectTimeoutMs + "/" + replyTimeoutMs
                        + "/" + limitMs + "/" + maxRecord);
            }
        }

        /** The defaults with another limit. */
        public static Options withLimit(long limitMs) {
            return new Options(5_000, 30_000, limitMs, (4 << 20) + 4096);
        }
    }

    /** A call the server refused, or whose reply does not decode. */
    public static final class RpcException extends StorageException {
        private static final long serialVersionUID = 1L;

        RpcException(ErrorCode code, String message) {
            super(code, message);
        }
    }

    private final String label;
    private final InetSocketAddress server;
    private final int program;
    private final int version;
    private final Auth auth;
    private final Options options;
    private final Map<Integer, Call> pending = new ConcurrentHashMap<>();
    private final AtomicInteger nextXid = new AtomicInteger(ThreadLocalRandom.current().nextInt());
    private final Object sendLock = new Object();
    private final Thread reader;
    private final Thread ticker;
    private volatile SocketChannel channel;
    /** The current connection's selector for room to write; guarded by sendLock. */
    private Selector writeReady;
    /** The current connection's selector for replies; used by the reader thread only. */
    private volatile Selector readReady;
    /** Bytes of the current connection read but not used yet (reader thread only). */
    private final ByteBuffer readAhead = ByteBuffer.allocateDirect(READ_AHEAD).flip();
    private static final int READ_AHEAD = 64 << 10;
    private volatile boolean closed;
    private volatile String lastConnectError = "not connected yet";
    private int generation; // guarded by sendLock
    private final Object connectedSignal = new Object();
    private volatile java.util.function.Consumer<DeviceState> stateListener;
    /** When the server stopped answering (System.nanoTime), 0 while it answers. */
    private volatile long troubleSince;
    /** When the timer last ran (System.nanoTime). */
    private volatile long lastTick = System.nanoTime();
    private volatile DeviceState lastState = DeviceState.ONLINE;
    /** The NULL call probing a server that stopped answering, null when none is out. */
    private volatile CompletableFuture<Xdr.In> probe;

    /**
     * Creates the client and starts connecting; calls made before the connection is up wait for it.
     *
     * @param label names the client in thread names, logs and messages (e.g. {@code nfs 127.0.0.1:2049})
     */
    public RpcClient(String label, InetSocketAddress server, int program, int version, Auth auth, Options options) {
        this.label = label;
        this.server = server;
        this.program = program;
        this.version = version;
        this.auth = auth;
        this.options = options;
        this.reader = new Thread(this::readLoop, "strata-rpc " + label);
        this.reader.setDaemon(true);
        this.ticker = new Thread(this::tickLoop, "strata-rpc-timer " + label);
        this.ticker.setDaemon(true);
        reader.start();
        ticker.start();
    }

    /**
     * Opens a client and waits until its first connection is up: a server that does not answer
     * within {@code options.connectTimeoutMs} is {@code DEVICE_UNAVAILABLE}, and the client is
     * closed again.
     */
    public static RpcClient connect(String label, InetSocketAddress server, int program, int version, Auth auth,
            Options options) {
        RpcClient c = new RpcClient(label, server, program, version, auth, options);
        if (!c.awaitConnected(options.connectTimeoutMs())) {
            String why = c.lastConnectError;
            c.close();
            throw new StorageException(ErrorCode.DEVICE_UNAVAILABLE, label + ": cannot connect to "
                    + hostPort(server) + ": " + why);
        }
        return c;
    }

    static String hostPort(InetSocketAddress a) {
        return a.getHostString() + ":" + a.getPort();
    }

    /**
     * Follows {@link #state()}: called with each new state on the client's timer thread (it must
     * not block). One listener; a later one replaces it.
     */
    public void onStateChange(java.util.function.Consumer<DeviceState> listener) {
        stateListener = listener;
    }

    /**
     * How the server is doing, as this client sees it: ONLINE while it answers; DEGRADED from
     * the moment it stopped (the connection broke or could not be made, or a call has waited
     * 5 s for its answer) while calls still wait for it; OFFLINE once that has lasted the
     * limit, when calls fail with {@code DEVICE_UNAVAILABLE}. Any answer makes it ONLINE again.
     */
    public DeviceState state() {
        if (closed) {
            return DeviceState.OFFLINE;
        }
        long since = troubleSince;
        if (since == 0) {
            return DeviceState.ONLINE;
        }
        return System.nanoTime() - since >= TimeUnit.MILLISECONDS.toNanos(options.limitMs()) ? DeviceState.OFFLINE
                : DeviceState.DEGRADED;
    }

    /** @return how long the server has not been answering, in milliseconds; 0 while it answers */
    public long troubleMillis() {
        long since = troubleSince;
        return since == 0 ? 0 : TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - since);
    }

    private void trouble(long since) {
        if (troubleSince == 0) {
            troubleSince = since == 0 ? 1 : since;
        }
    }

    /** Called on the timer thread: tells the listener of a new state, and probes a silent server. */
    private void followState() {
        DeviceState now = state();
        if (now != lastState) {
            lastState = now;
            LOG.info("{}: the server is {} ({})", label, now, now == DeviceState.ONLINE ? "answering again"
                    : "not answering for " + troubleMillis() / 1000 + " s");
            java.util.function.Consumer<DeviceState> l = stateListener;
            if (l != null) {
                try {
                    l.accept(now);
                } catch (RuntimeException e) {
                    LOG.warn("{}: a state listener failed: {}", label, e.toString());
                }
            }
        }
        // A server that stopped answering is asked with the NULL procedure once a connection is
        // up and nothing else is out, so its state follows it back without waiting for I/O.
        CompletableFuture<Xdr.In> p = probe;
        if (troubleSince != 0 && channel != null && (p == null || p.isDone())) {
            probe = call(0, "NULL", new Xdr.Out(0), null);
        }
    }

    /** @return whether a connection is up now */
    public boolean connected() {
        return channel != null;
    }

    public String label() {
        return label;
    }

    boolean awaitConnected(long ms) {
        long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(ms);
        synchronized (connectedSignal) {
            while (channel == null && !closed) {
                long left = TimeUnit.NANOSECONDS.toMillis(end - System.nanoTime());
                if (left <= 0) {
                    return false;
                }
                try {
                    connectedSignal.wait(left);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return false;
                }
            }
        }
        return channel != null;
    }

    /**
     * Sends a call.
     *
     * @param procedure the procedure number
     * @param name the procedure's name, for messages
     * @param args the encoded arguments (without {@code data})
     * @param data bytes sent after {@code args} as the last item's opaque content (its length
     *        already in {@code args}), padded here; left alone until the future completes. May be null
     * @return completes with the results, positioned after the reply header
     */
    public CompletableFuture<Xdr.In> call(int procedure, String name, Xdr.Out args, ByteBuffer data) {
        return call(procedure, name, args, data, null, null);
    }

    /**
     * Finds the bulk data in a reply: given the procedure's results (after accept_stat), decodes
     * up to and including the length of the variable-length opaque that ends the reply (READ's
     * data) and returns that length, or -1 when the reply carries none (an error status).
     */
    @FunctionalInterface
    public interface Bulk {
        int locate(Xdr.In results);
    }

    /**
     * Sends a call whose reply ends with bulk data that the reader thread puts straight into
     * {@code sink} from the connection, at its position (which it advances), without an
     * intermediate buffer. The results' {@link Xdr.In#opaqueInto} then returns the length
     * without copying. A reply {@code bulk} does not recognize is decoded as usual.
     *
     * @param sink where the data goes; left alone by the caller until the future completes
     */
    public CompletableFuture<Xdr.In> call(int procedure, String name, Xdr.Out args, ByteBuffer data,
            ByteBuffer sink, Bulk bulk) {
        return call(procedure, name, args, data, sink, bulk, null);
    }

    /**
     * As above, sent (and sent again) only while {@code fence} passes: it is checked right before
     * each write of the call to the connection. A refusal fails the call with what the fence
     * threw; when part of the call had gone out already, the connection is dropped first, so the
     * server discards the part.
     *
     * @param fence null for none
     */
    public CompletableFuture<Xdr.In> call(int procedure, String name, Xdr.Out args, ByteBuffer data,
            ByteBuffer sink, Bulk bulk, WriteFence fence) {
        CompletableFuture<Xdr.In> f = new CompletableFuture<>();
        if (closed) {
            f.completeExceptionally(closedError());
            return f;
        }
        int xid = nextXid.getAndIncrement();
        Xdr.Out head = new Xdr.Out(128);
        head.int32(0); // record mark, set below
        head.int32(xid).int32(0).int32(2).int32(program).int32(version).int32(procedure);
        auth.encode(head);
        head.int32(0).int32(0); // verifier AUTH_NONE
        ByteBuffer a = args.toBuffer();
        int dataLen = data == null ? 0 : data.remaining();
        int recordLen = head.length() - 4 + a.remaining() + dataLen + Xdr.pad(dataLen);
        if (recordLen > options.maxRecord()) {
            f.completeExceptionally(new RpcException(ErrorCode.INVALID_ARGUMENT, label + ": " + name + " of "
                    + recordLen + " bytes is larger than a record may be (" + options.maxRecord() + ")"));
            return f;
        }
        head.setInt32(0, 0x80000000 | recordLen);
        Call c = new Call(xid, name, head.toBuffer(), a, data == null ? null : data.slice(), f, fence);
        if (sink != null && bulk != null) {
            c.sink = sink;
            c.sinkStart = sink.position();
            c.sinkLimit = sink.limit();
            c.bulk = bulk;
        }
        pending.put(xid, c);
        if (closed) { // closed meanwhile: close() may have missed it
            fail(c, closedError());
            return f;
        }
        send(c);
        return f;
    }

    private void send(Call c) {
        synchronized (sendLock) {
            SocketChannel ch = channel;
            if (ch == null || c.sentGeneration == generation || c.future.isDone()) {
                return; // sent again once connected
            }
            if (c.sentGeneration != -1 && (c.stale || System.nanoTime() - lastTick > STALL_NANOS)) {
                // A call sent before this process stood still is not sent again on a new connection:
                // while it stood, its leases on shared storage may have expired and another host may
                // own the data now. The connection it was sent on delivered it then, or never will.
                fail(c, new StorageException(ErrorCode.DEVICE_UNAVAILABLE, label + ": " + c.name
                        + " was unanswered when this host stood still; it is not sent again on a new connection "
                        + "(another host may have taken the data over meanwhile)"));
                return;
            }
            ByteBuffer[] bufs = c.buffers();
            long total = 0;
            for (ByteBuffer b : bufs) {
                total += b.remaining();
            }
            long left = total;
            try {
                while (left > 0) {
                    if (c.fence != null) {
                        try {
                            c.fence.check();
                        } catch (RuntimeException refused) {
                            if (left < total) {
                                drop(ch, c.name + " refused by its fence after " + (total - left) + " of its "
                                        + total + " bytes went out");
                            }
                            fail(c, refused);
                            return;
                        }
                    }
                    if (c.future.isDone()) { // failed at its limit while it waited for room
                        if (left < total) {
                            drop(ch, c.name + " ended while it was being sent");
                        }
                        return;
                    }
                    long n = ch.write(bufs);
                    left -= n;
                    if (n == 0) {
                        awaitReady(ch, writeReady);
                    }
                }
                c.sentGeneration = generation;
                c.sentNanos = System.nanoTime();
            } catch (IOException e) {
                drop(ch, "send failed: " + e.getMessage());
            }
        }
    }

    /**
     * Waits until {@code ch} is ready for what {@code selector} watches, at most a tick, so that
     * a connection closed meanwhile is noticed.
     */
    private static void awaitReady(SocketChannel ch, Selector selector) throws IOException {
        if (!ch.isOpen()) {
            throw new ClosedChannelException();
        }
        selector.select(TICK_MS);
        selector.selectedKeys().clear();
    }

    private void readLoop() {
        int backoff = 50;
        while (!closed) {
            SocketChannel ch;
            try {
                ch = open();
            } catch (IOException e) {
                lastConnectError = e.getMessage() == null ? e.toString() : e.getMessage();
                trouble(System.nanoTime());
                sleep(backoff);
                backoff = Math.min(MAX_BACKOFF_MS, backoff * 2);
                continue;
            }
            backoff = 50;
            Selector reads = null;
            Selector writes = null;
            try {
                reads = Selector.open();
                writes = Selector.open();
                ch.configureBlocking(false);
                ch.register(reads, SelectionKey.OP_READ);
                ch.register(writes, SelectionKey.OP_WRITE);
            } catch (IOException e) {
                closeQuietly(ch);
                closeQuietly(reads);
                closeQuietly(writes);
                lastConnectError = "cannot watch the connection: " + e.getMessage();
                trouble(System.nanoTime());
                sleep(backoff);
                continue;
            }
            readReady = reads;
            readAhead.clear().flip(); // nothing of an earlier connection
            synchronized (sendLock) {
                generation++;
                channel = ch;
                writeReady = writes;
            }
            // after the channel is set: a call registered before this point is in the list, one
            // registered after it finds the channel and sends itself
            List<Call> resend = new ArrayList<>(pending.values());
            resend.sort(Comparator.comparingLong(x -> x.seq));
            synchronized (connectedSignal) {
                connectedSignal.notifyAll();
            }
            if (!resend.isEmpty()) {
                LOG.info("{}: connected to {}, sending {} unanswered call(s) again", label, hostPort(server),
                        resend.size());
            }
            for (Call c : resend) {
                send(c);
            }
            String why;
            try {
                readRecords(ch);
                why = "closed";
            } catch (IOException e) {
                why = e.getMessage() == null ? e.toString() : e.getMessage();
            } catch (Xdr.XdrException | ProtocolException e) {
                why = "bad reply: " + e.getMessage();
                LOG.warn("{}: {}: dropping the connection", label, why);
            }
            drop(ch, why);
            readReady = null;
            closeQuietly(reads);
        }
    }

    private static void closeQuietly(java.io.Closeable c) {
        try {
            if (c != null) {
                c.close();
            }
        } catch (IOException e) {
            // closing anyway
        }
    }

    private SocketChannel open() throws IOException {
        SocketChannel ch = SocketChannel.open();
        try {
            ch.setOption(StandardSocketOptions.TCP_NODELAY, true);
            ch.setOption(StandardSocketOptions.SO_KEEPALIVE, true);
            ch.socket().connect(server, options.connectTimeoutMs());
            return ch;
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    /** Drops {@code ch} if it is still the current connection; the reader then connects again. */
    private void drop(SocketChannel ch, String why) {
        // Closed first: a sender waiting for room on it (holding sendLock), and the reader
        // waiting for a reply, see that within a tick.
        closeQuietly(ch);
        boolean was;
        synchronized (sendLock) {
            was = channel == ch;
            if (was) {
                channel = null;
                closeQuietly(writeReady);
                writeReady = null;
            }
        }
        if (was && !closed) {
            trouble(System.nanoTime());
            lastConnectError = why;
            LOG.warn("{}: connection to {} lost ({}); {} call(s) wait for a new one", label, hostPort(server), why,
                    pending.size());
        }
    }

    private static final class ProtocolException extends Exception {
        private static final long serialVersionUID = 1L;

        ProtocolException(String m) {
            super(m);
        }
    }

    private void readRecords(SocketChannel ch) throws IOException, ProtocolException {
        ByteBuffer mark = ByteBuffer.allocate(4);
        while (!closed) {
            ByteBuffer record = null;
            boolean last = false;
            while (!last) {
                mark.clear();
                fill(ch, mark);
                int m = mark.getInt(0);
                last = m < 0;
                int len = m & 0x7fffffff;
                int have = record == null ? 0 : record.position();
                if ((long) have + len > options.maxRecord()) {
                    throw new ProtocolException("a record of more than " + options.maxRecord() + " bytes");
                }
                if (record == null && last && len > BULK_HEAD) {
                    // One fragment, larger than a header: it may be a reply with bulk data to put
                    // straight where its caller wants it.
                    ByteBuffer head = ByteBuffer.allocate(BULK_HEAD);
                    fill(ch, head);
                    if (bulkReply(ch, head, len)) {
                        break;
                    }
                    record = ByteBuffer.allocate(len);
                    head.flip();
                    record.put(head);
                    fill(ch, record);
                    continue;
                }
                if (record == null) {
                    record = ByteBuffer.allocate(len);
                } else {
                    ByteBuffer bigger = ByteBuffer.allocate(have + len);
                    record.flip();
                    bigger.put(record);
                    record = bigger;
                }
                fill(ch, record);
            }
            if (record == null) {
                continue; // a bulk reply, handled
            }
            record.flip();
            onReply(record);
        }
    }

    /** Bytes of a one-fragment reply read first to look for bulk data: an NFS READ's header is 128. */
    private static final int BULK_HEAD = 256;

    /**
     * The reply whose first {@link #BULK_HEAD} bytes are in {@code head}, {@code len} in all: when
     * it answers a call with a sink and carries its bulk data, reads that data from the
     * connection into the sink and completes the call.
     *
     * @return false when it is not such a reply; nothing more was read then
     */
    private boolean bulkReply(SocketChannel ch, ByteBuffer head, int len) throws IOException {
        Xdr.In in = new Xdr.In(head.duplicate().flip());
        int dataLength;
        int resultsAt;
        int dataAt;
        Call c;
        try {
            int xid = in.int32();
            c = pending.get(xid);
            if (c == null || c.sink == null || in.int32() != 1 || in.int32() != 0) {
                return false;
            }
            in.int32(); // verifier flavor
            in.opaque(400);
            if (in.int32() != 0) {
                return false;
            }
            resultsAt = in.position();
            dataLength = c.bulk.locate(in);
            dataAt = in.position();
        } catch (RuntimeException e) {
            return false; // decoded as usual, which reports what is wrong
        }
        if (dataLength < 0 || dataLength > c.sinkLimit - c.sinkStart
                || (long) dataAt + dataLength + Xdr.pad(dataLength) > len) {
            return false;
        }
        if (!pending.remove(c.xid, c)) {
            return false; // failed or answered meanwhile
        }
        troubleSince = 0; // the server answers
        ByteBuffer sink = c.sink.duplicate();
        sink.position(c.sinkStart).limit(c.sinkStart + dataLength);
        try {
            ByteBuffer inHead = head.duplicate().flip().position(dataAt);
            inHead.limit(Math.min(inHead.limit(), dataAt + dataLength));
            sink.put(inHead);
            fill(ch, sink);
            skip(ch, len - Math.max(head.position(), dataAt + dataLength));
        } catch (IOException | RuntimeException e) {
            pending.put(c.xid, c); // sent again on the next connection, into the sink from its start
            if (closed) {
                fail(c, closedError());
            }
            throw e;
        }
        c.sink.position(c.sinkStart + dataLength);
        c.future.complete(new Xdr.In(head.duplicate().flip().position(resultsAt).limit(dataAt), dataLength));
        return true;
    }

    private void skip(SocketChannel ch, int n) throws IOException {
        if (n > 0) {
            fill(ch, ByteBuffer.allocate(n));
        }
    }

    /**
     * Fills {@code b} from the connection: from what was read ahead first, then a large rest
     * straight into {@code b} (bulk data into its caller's buffer), a small one through the
     * read-ahead buffer, so that a burst of small replies takes one system call, not two each.
     * Waits in the read selector when nothing has come yet.
     */
    private void fill(SocketChannel ch, ByteBuffer b) throws IOException {
        ByteBuffer ahead = readAhead;
        while (b.hasRemaining()) {
            if (ahead.hasRemaining()) {
                int limit = ahead.limit();
                ahead.limit(ahead.position() + Math.min(ahead.remaining(), b.remaining()));
                b.put(ahead); // no slice object per reply on the read path
                ahead.limit(limit);
                continue;
            }
            int n;
            if (b.remaining() >= READ_AHEAD / 2) {
                n = ch.read(b);
            } else {
                ahead.clear();
                n = ch.read(ahead);
                ahead.flip();
            }
            if (n < 0) {
                throw new IOException("the server closed the connection");
            }
            if (n == 0) {
                awaitReady(ch, readReady);
            }
        }
    }

    private void onReply(ByteBuffer record) throws ProtocolException {
        Xdr.In in = new Xdr.In(record);
        int xid = in.int32();
        if (in.int32() != 1) {
            throw new ProtocolException("a message that is not a reply (xid " + xid + ")");
        }
        troubleSince = 0; // the server answers
        Call c = pending.remove(xid);
        if (c == null) {
            return; // answered already (a resent call), or given up on
        }
        try {
            int replyStat = in.int32();
            if (replyStat == 0) {
                in.int32(); // verifier flavor
                in.opaque(400);
                int accept = in.int32();
                if (accept == 0) {
                    c.future.complete(in);
                    return;
                }
                c.future.completeExceptionally(acceptError(c, accept, in));
            } else if (replyStat == 1) {
                int reject = in.int32();
                if (reject == 1) {
                    int why = in.int32();
                    c.future.completeExceptionally(new RpcException(ErrorCode.PERMISSION_DENIED, label + ": " + c.name
                            + ": the server refused our credentials (auth_stat " + why + ")"));
                } else {
                    c.future.completeExceptionally(new RpcException(ErrorCode.UNSUPPORTED, label + ": " + c.name
                            + ": the server does not speak RPC version 2"));
                }
            } else {
                c.future.completeExceptionally(new RpcException(ErrorCode.IO_ERROR, label + ": " + c.name
                        + ": a reply of unknown status " + replyStat));
            }
        } catch (Xdr.XdrException e) {
            c.future.completeExceptionally(new RpcException(ErrorCode.IO_ERROR, label + ": " + c.name
                    + ": malformed reply: " + e.getMessage()));
        }
    }

    private RpcException acceptError(Call c, int accept, Xdr.In in) {
        String what = switch (accept) {
            case 1 -> "the server does not offer program " + program;
            case 2 -> "the server offers versions " + in.uint32() + " to " + in.uint32() + " of program " + program
                    + ", not " + version;
            case 3 -> "the server does not offer this procedure";
            case 4 -> "the server could not decode the arguments";
            case 5 -> "the server failed (SYSTEM_ERR)";
            default -> "accept_stat " + accept;
        };
        ErrorCode code = accept == 4 || accept == 5 ? ErrorCode.IO_ERROR : ErrorCode.UNSUPPORTED;
        return new RpcException(code, label + ": " + c.name + ": " + what);
    }

    private void tickLoop() {
        long limit = TimeUnit.MILLISECONDS.toNanos(options.limitMs());
        long replyTimeout = TimeUnit.MILLISECONDS.toNanos(options.replyTimeoutMs());
        while (!closed) {
            sleep(TICK_MS);
            long now = System.nanoTime();
            if (now - lastTick > STALL_NANOS) {
                stalled(now - lastTick);
            }
            lastTick = now;
            SocketChannel ch = channel;
            boolean stuck = false;
            for (Call c : pending.values()) {
                if (now - c.startNanos > limit) {
                    String state = channel == null ? "no connection to " + hostPort(server) + " (" + lastConnectError
                            + ")" : "no answer from " + hostPort(server);
                    fail(c, new StorageException(ErrorCode.DEVICE_UNAVAILABLE, label + ": " + c.name + ": " + state
                            + " for " + TimeUnit.NANOSECONDS.toSeconds(now - c.startNanos) + " s, more than the "
                            + options.limitMs() / 1000.0 + " s limit"));
                } else if (ch != null && c.sentNanos != 0 && now - c.sentNanos > replyTimeout) {
                    stuck = true;
                }
                if (c.sentNanos != 0 && now - c.sentNanos > SLOW_NANOS) {
                    trouble(c.sentNanos);
                }
            }
            followState();
            if (stuck && ch != null) {
                drop(ch, "no answer for " + options.replyTimeoutMs() / 1000.0 + " s");
            }
        }
    }

    /**
     * This process stood still for {@code gapNanos} (the timer did not run): the calls unanswered
     * now are marked stale, so they are never sent on another connection, and their wait starts
     * over, so the stall itself does not drop a connection whose answers are already here.
     */
    void stalled(long gapNanos) {
        long now = System.nanoTime();
        int n = 0;
        for (Call c : pending.values()) {
            c.stale = true;
            if (c.sentNanos != 0) {
                c.sentNanos = now;
            }
            n++;
        }
        LOG.warn("{}: this process stood still for {} ms; {} unanswered call(s) will not be sent on another "
                + "connection", label, TimeUnit.NANOSECONDS.toMillis(gapNanos), n);
    }

    private void fail(Call c, RuntimeException e) {
        if (pending.remove(c.xid, c)) {
            c.future.completeExceptionally(e);
        }
    }

    private StorageException closedError() {
        return new StorageException(ErrorCode.DEVICE_UNAVAILABLE, label + ": the connection is closed");
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Fails every unanswered call and stops the client's threads. Never throws. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        SocketChannel ch;
        closeQuietly(channel); // a sender waiting for room on it lets go of sendLock within a tick
        synchronized (sendLock) {
            ch = channel;
            channel = null;
            closeQuietly(writeReady);
            writeReady = null;
        }
        closeQuietly(ch);
        reader.interrupt();
        ticker.interrupt();
        synchronized (connectedSignal) {
            connectedSignal.notifyAll();
        }
        for (Call c : List.copyOf(pending.values())) {
            fail(c, closedError());
        }
        try {
            reader.join(2000);
            ticker.join(2000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public String toString() {
        return label + " -> " + hostPort(server) + (connected() ? "" : " (down)");
    }

    private static final AtomicInteger SEQ = new AtomicInteger();

    private static final byte[] PAD = new byte[3];

    private static final class Call {
        final int xid;
        final long seq = SEQ.getAndIncrement();
        final String name;
        final ByteBuffer head; // record mark, call header, credentials
        final ByteBuffer args;
        final ByteBuffer data;
        final CompletableFuture<Xdr.In> future;
        /** Checked before each write of the call to a connection; null for none. */
        final WriteFence fence;
        final long startNanos = System.nanoTime();
        volatile long sentNanos;
        int sentGeneration = -1; // guarded by sendLock
        /** Unanswered while this process stood still: never sent on another connection. */
        volatile boolean stale;
        /** Where the reply's bulk data goes, from where, and how to find it; null for other calls. */
        ByteBuffer sink;
        int sinkStart;
        int sinkLimit;
        Bulk bulk;

        Call(int xid, String name, ByteBuffer head, ByteBuffer args, ByteBuffer data,
                CompletableFuture<Xdr.In> future, WriteFence fence) {
            this.fence = fence;
            this.xid = xid;
            this.name = name;
            this.head = head;
            this.args = args;
            this.data = data;
            this.future = future;
        }

        ByteBuffer[] buffers() {
            if (data == null) {
                return new ByteBuffer[] {head.duplicate(), args.duplicate()};
            }
            return new ByteBuffer[] {head.duplicate(), args.duplicate(), data.duplicate(),
                ByteBuffer.wrap(PAD, 0, Xdr.pad(data.remaining()))};
        }
    }
}

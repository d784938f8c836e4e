package io.strata.nbd.internal;

import static java.util.Objects.requireNonNull;

import io.strata.api.ErrorCode;
import io.strata.api.Names;
import io.strata.api.StorageException;
import io.strata.api.service.ExportInfo;
import io.strata.api.service.ExportService;
import io.strata.api.service.VolumeRef;
import io.strata.posix.Sockets;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The NBD server and the host's exports, without OSGi (the DS component {@link NbdComponent}
 * wires it; tests construct it). One acceptor thread, one thread per connection; a client
 * that has not chosen an export within the handshake timeout is disconnected.
 */
public final class NbdService implements ExportService, Connection.Exports, AutoCloseable {
    /** How an accepted socket becomes a wire: {@link Wire#of}; tests wrap it to cut sends short. */
    volatile java.util.function.Function<java.nio.channels.SocketChannel, Wire> wires = Wire::of;
    private static final Logger LOG = LoggerFactory.getLogger(NbdService.class);

    private final Volumes volumes;
    private final ExportStore store;
    private final String address;
    private final int handshakeTimeout;
    private final Map<String, Export> exports = new TreeMap<>();
    private final ServerSocketChannel server;
    private final Thread acceptor;
    /** The Unix domain socket, or null when there is none. */
    private final LocalSocket.Bound local;
    private final Thread localAcceptor;
    private final ScheduledExecutorService timer;
    /**
     * Large reads of every connection, and large writes from the Unix socket: they only move
     * bytes between the image and pooled buffers (never write to a socket, so a client that
     * does not read its replies cannot hold one); at most {@link Connection#ASYNC_READS} reads
     * and {@link Connection#ASYNC_WRITES} writes per connection. Threads end when idle.
     */
    private final ThreadPoolExecutor workers = new ThreadPoolExecutor(WORKERS, WORKERS, 30, TimeUnit.SECONDS,
            new LinkedBlockingQueue<>(), r -> daemon(r, "nbd-read"));
    /**
     * Send the queued replies of a connection, one task per connection at a time: a stalled
     * client blocks only its own (so at most one thread per connection); idle threads end.
     */
    private final ThreadPoolExecutor senders = new ThreadPoolExecutor(0, Integer.MAX_VALUE, 30, TimeUnit.SECONDS,
            new SynchronousQueue<>(), r -> daemon(r, "nbd-send"));
    static final int WORKERS = 16;
    /**
     * For disks whose I/O waits on a round trip (LUNs over the network), whose reads and writes
     * otherwise start without waiting and complete on the driver's own threads: their writes
     * with FUA (which wait for a flush), and the answers to their failed requests (which may
     * close the volume). Each thread mostly waits on the device. Threads end when idle.
     */
    private final ThreadPoolExecutor deviceIo = new ThreadPoolExecutor(DEVICE_IO, DEVICE_IO, 30, TimeUnit.SECONDS,
            new LinkedBlockingQueue<>(), r -> daemon(r, "nbd-device-io"));
    static final int DEVICE_IO = 128;

    /** @return how many tasks the reply senders were given (tests: replies that went out from a sender thread) */
    long senderTasks() {
        return senders.getTaskCount();
    }
    /**
     * What a Unix socket connection asks of the kernel for its send buffer (which caps it at
     * {@code net.core.wmem_max}). A Unix socket has no window: what the server may have on
     * its way to the client is what its send buffer holds, about 208 KiB by default, so the
     * sender of a 1 MiB reply slept on a full socket several times per reply and fio woke as
     * often (bench/run.sh TRANSPORT=unix, 1 MiB reads: 0.89 of nbdkit with the default, 1.9
     * with 4 MiB). Over TCP the kernel sizes the buffer itself, up to {@code tcp_wmem}.
     */
    static final int LOCAL_SEND_BUFFER = 4 << 20;
    private final Limits limits;
    private final Resources resources;
    private final java.util.concurrent.atomic.AtomicLong refused = new java.util.concurrent.atomic.AtomicLong();
    private final AtomicInteger connectionCount = new AtomicInteger();
    private final AtomicInteger localCount = new AtomicInteger();
    private final Tls tls;

    private static boolean loopback(String address) {
        try {
            return java.net.InetAddress.getByName(address).isLoopbackAddress();
        } catch (java.net.UnknownHostException e) {
            return false;
        }
    }
    private final java.util.Set<Connection> live = java.util.concurrent.ConcurrentHashMap.newKeySet();
    private final int port;
    private volatile boolean closed;
    private final boolean sendfile;

    /**
     * The server's bounds on what clients may make it hold.
     *
     * @param maxConnections connections served at once (each holds two 256 KiB direct buffers
     *     and a thread); more are closed at once
     * @param memoryBytes direct memory for large read replies and large write payloads, shared
     * @param connectionMemoryBytes of that, what one connection's queued replies may hold
     */
    record Limits(int maxConnections, long memoryBytes, long connectionMemoryBytes) {
        static final Limits DEFAULT = new Limits(512, 256L << 20, 64L << 20);

        Limits {
            if (maxConnections < 1 || memoryBytes < 0 || connectionMemoryBytes < 0) {
                throw new IllegalArgumentException("bad NBD limits " + maxConnections + ", " + memoryBytes + ", "
                        + connectionMemoryBytes);
            }
        }
    }

    /** @param sendfile send large reads of allocated blocks straight from the image file */
    NbdService(Volumes volumes, ExportStore store, String address, int port, int handshakeTimeoutSeconds,
            boolean sendfile) throws IOException {
        this(volumes, store, address, port, handshakeTimeoutSeconds, sendfile, Limits.DEFAULT);
    }

    NbdService(Volumes volumes, ExportStore store, String address, int port, int handshakeTimeoutSeconds,
            boolean sendfile, Limits limits) throws IOException {
        this(volumes, store, address, port, handshakeTimeoutSeconds, sendfile, limits, null);
    }

    /** @param socket the Unix domain socket to listen on as well, or null for TCP only */
    NbdService(Volumes volumes, ExportStore store, String address, int port, int handshakeTimeoutSeconds,
            boolean sendfile, Limits limits, LocalSocket socket) throws IOException {
        this(volumes, store, address, port, handshakeTimeoutSeconds, sendfile, limits, socket, Tls.OFF);
    }

    /**
     * @param tls what TCP clients are offered of TLS; without it the server listens on a
     *        loopback address only, whatever {@code address} says (logged)
     */
    NbdService(Volumes volumes, ExportStore store, String address, int port, int handshakeTimeoutSeconds,
            boolean sendfile, Limits limits, LocalSocket socket, Tls tls) throws IOException {
        this.tls = requireNonNull(tls, "tls");
        if (!tls.offered() && !loopback(address)) {
            LOG.error("nbd: address {} is not a loopback address and TLS is off: listening on 127.0.0.1 only"
                    + " (set tls = require, with certificates, to serve other hosts)", address);
            address = "127.0.0.1";
        }
        this.sendfile = sendfile;
        this.limits = requireNonNull(limits, "limits");
        BufferPool replies = new BufferPool(Resources.CHUNK, limits.memoryBytes());
        int perConnection = (int) Math.min(Integer.MAX_VALUE, limits.connectionMemoryBytes() / Resources.CHUNK);
        resources = new Resources(workers, senders, replies,
                new BufferPool(Resources.CHUNK, 2L * Connection.BUF * limits.maxConnections()), perConnection,
                sendfile, Resources.newZeros(), deviceIo);
        this.volumes = requireNonNull(volumes, "volumes");
        this.store = requireNonNull(store, "store");
        this.address = requireNonNull(address, "address");
        this.handshakeTimeout = handshakeTimeoutSeconds;
        workers.allowCoreThreadTimeOut(true);
        deviceIo.allowCoreThreadTimeOut(true);
        for (ExportStore.Saved s : store.load()) {
            try {
                Export e = new Export(s.name(), VolumeRef.parse(s.volume()), s.readOnly(), s.tlsRequired(), volumes);
                if (e.tlsRequired && !tls.offered()) {
                    LOG.warn("nbd: export {} requires TLS and tls = off: only the Unix domain socket can serve it",
                            e.name);
                }
                exports.put(e.name, e);
                e.tryOpen();
            } catch (StorageException e) {
                LOG.warn("nbd: saved export {} ignored: {}", s.name(), e.getMessage());
            }
        }
        server = ServerSocketChannel.open();
        try {
            server.setOption(StandardSocketOptions.SO_REUSEADDR, true);
            server.bind(new InetSocketAddress(address, port), 128);
        } catch (IOException e) {
            server.close();
            exports.values().forEach(Export::release);
            throw new IOException("cannot listen on " + address + ":" + port + ": " + e.getMessage(), e);
        }
        this.port = ((InetSocketAddress) server.getLocalAddress()).getPort();
        LocalSocket.Bound bound = null;
        if (socket != null) {
            try {
                bound = socket.bind();
            } catch (IOException | RuntimeException e) {
                // TCP serves on: a hypervisor can still attach, and the log says why not locally.
                LOG.error("nbd: no Unix domain socket: {}", e.getMessage());
            }
        }
        local = bound;
        timer = Executors.newSingleThreadScheduledExecutor(r -> daemon(r, "nbd-handshake-timer"));
        acceptor = daemon(() -> accept(server, false), "nbd-accept-" + this.port);
        acceptor.start();
        if (local != null) {
            localAcceptor = daemon(() -> accept(local.channel(), true), "nbd-accept-unix");
            localAcceptor.start();
        } else {
            localAcceptor = null;
        }
        LOG.info("nbd: listening on {}:{}{} with {} export(s)", address, this.port,
                local == null ? "" : " and " + local.path(), exports.size());
    }

    private static Thread daemon(Runnable r, String name) {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        return t;
    }

    int port() {
        return port;
    }

    /** What the server holds, for tests and diagnostics. */
    record Stats(int connections, int workersActive, long replyBytesInUse, long replyBytesAllocated,
            long replyBytesPeak, long replyBudget, long connectionBufferBytes) {
    }

    Stats stats() {
        BufferPool r = resources.replies();
        return new Stats(live.size(), workers.getActiveCount(), r.inUseBytes(), r.allocatedBytes(),
                r.peakInUseBytes(), r.budgetBytes(), resources.connections().allocatedBytes());
    }

    /** @return the Unix domain socket's path, or null when the server has none */
    java.nio.file.Path socketPath() {
        return local == null ? null : local.path();
    }

    private void accept(ServerSocketChannel listener, boolean unix) {
        while (!closed) {
            SocketChannel ch;
            try {
                ch = listener.accept();
            } catch (ClosedChannelException e) {
                return;
            } catch (IOException e) {
                if (!closed) {
                    LOG.warn("nbd: accept failed: {}", e.toString());
                }
                continue;
            }
            String peer;
            boolean unpaced = false;
            try {
                if (unix) {
                    peer = "unix#" + (localCount.incrementAndGet());
                    try {
                        ch.setOption(StandardSocketOptions.SO_SNDBUF, LOCAL_SEND_BUFFER);
                    } catch (IOException | UnsupportedOperationException e) {
                        LOG.debug("nbd client {}: send buffer left as it is: {}", peer, e.toString());
                    }
                } else {
                    ch.setOption(StandardSocketOptions.TCP_NODELAY, true);
                    peer = ch.getRemoteAddress().toString().replaceFirst("^/", "");
                    unpaced = congestion(ch, peer);
                }
            } catch (IOException e) {
                closeQuietly(ch);
                continue;
            }
            Connection made;
            synchronized (live) {
                if (live.size() >= limits.maxConnections()) {
                    made = null;
                } else {
                    try {
                        made = new Connection(wires.apply(ch), this, peer, resources);
                        if (unix) {
                            made.local = true; // the socket's mode guards local clients
                        } else {
                            made.tls = tls;
                        }
                        live.add(made);
                    } catch (IllegalStateException e) {
                        made = null; // buffers of closed connections not back yet
                    }
                }
            }
            if (made == null) {
                if (refused.getAndIncrement() % 1000 == 0) {
                    LOG.warn("nbd: {} connections already; client {} refused (max.connections)", live.size(), peer);
                }
                closeQuietly(ch);
                continue;
            }
            Connection c = made;
            if (unpaced) {
                c.copyLargeReads();
            }
            try {
                if (closed) {
                    throw new java.util.concurrent.RejectedExecutionException("stopping");
                }
                timer.schedule(() -> {
                    if (!c.transmitting()) {
                        LOG.info("nbd client {} did not choose an export within {} s; disconnecting", peer,
                                handshakeTimeout);
                        c.close();
                    }
                }, handshakeTimeout, TimeUnit.SECONDS);
            } catch (java.util.concurrent.RejectedExecutionException e) {
                c.close(); // accepted while the server stops; its thread still runs, to end and free it
            }
            daemon(c, "nbd-conn-" + connectionCount.incrementAndGet() + "-" + peer).start();
        }
    }

    private static void closeQuietly(SocketChannel ch) {
        try {
            ch.close();
        } catch (IOException e) {
            // nothing to do
        }
    }

    // ---------------------------------------------------------------- Connection.Exports

    @Override
    public synchronized Export find(String name) {
        if (name == null) {
            return null;
        }
        if (name.isEmpty()) {
            return exports.size() == 1 ? exports.values().iterator().next() : null;
        }
        return exports.get(name);
    }

    @Override
    public synchronized List<Export> all() {
        return new ArrayList<>(exports.values());
    }

    @Override
    public void opened(Connection c, Export e) {
        e.connections.add(c);
        LOG.info("nbd client {} connected to export {}", c.peer(), e.name);
        synchronized (this) {
            if (exports.get(e.name) != e) {
                c.close(); // removed while the client was negotiating
            }
        }
    }

    private final java.util.concurrent.atomic.AtomicLong holeReplies = new java.util.concurrent.atomic.AtomicLong();
    /** The clock connections count their requests by; tests set their own before clients connect. */
    private volatile java.util.function.LongSupplier clock = System::nanoTime;
    private volatile long busyCountedAt = System.nanoTime() - BUSY_RECOUNT;
    private volatile int busyCount;

    /** For tests: the clock of {@link Connection#busy}. */
    void clock(java.util.function.LongSupplier clock) {
        this.clock = requireNonNull(clock, "clock");
        busyCountedAt = clock.getAsLong() - BUSY_RECOUNT;
    }

    @Override
    public long now() {
        return clock.getAsLong();
    }

    /** How long a count of busy connections is used before it is made again (10 ms). */
    private static final long BUSY_RECOUNT = 10_000_000L;

    @Override
    public int busy() {
        long now = now();
        if (now - busyCountedAt < BUSY_RECOUNT) {
            return busyCount;
        }
        int n = 0;
        for (Connection c : live) {
            if (c.busy(now)) {
                n++;
            }
        }
        busyCount = n;
        busyCountedAt = now;
        return n;
    }

    @Override
    public void holeReply() {
        holeReplies.incrementAndGet();
    }

    private final java.util.concurrent.atomic.AtomicLong windowWrites = new java.util.concurrent.atomic.AtomicLong();

    @Override
    public void windowWrite() {
        windowWrites.incrementAndGet();
    }

    /** @return how many writes were received in place, into windows of their volumes */
    long windowWrites() {
        return windowWrites.get();
    }

    private final java.util.concurrent.atomic.AtomicLong workerWrites = new java.util.concurrent.atomic.AtomicLong();

    @Override
    public void workerWrite() {
        workerWrites.incrementAndGet();
    }

    /** @return how many large writes were handed to workers */
    long workerWrites() {
        return workerWrites.get();
    }

    private volatile boolean receiveInPlace;

    /** Lets large writes be received in place from now on ({@code receive.in.place}), or stops it. */
    void receiveInPlace(boolean on) {
        receiveInPlace = on;
    }

    @Override
    public boolean receiveInPlace() {
        return receiveInPlace;
    }

    private volatile boolean sendOverlap;

    /** Lets a busy connection hand batches of replies to a sender from now on ({@code send.overlap}), or stops it. */
    void sendOverlap(boolean on) {
        sendOverlap = on;
    }

    @Override
    public boolean sendOverlap() {
        return sendOverlap;
    }

    private volatile String localCongestion = NbdConfig.TCP_CONGESTION_LOCAL_DEFAULT;
    /** Set once setting {@link #localCongestion} failed: it is not tried again, and was logged once. */
    private volatile boolean localCongestionFailed;

    /**
     * The TCP congestion control of connections accepted from now on from a loopback address
     * ({@code tcp.congestion.local}); empty leaves the host's default. Under a pacing algorithm
     * (BBR) a 1 MiB reply leaves in timed steps, and the timers' work and the loopback delivery
     * it triggers ran on the kernel's softirq threads, outside both server and client: four TCP
     * connections' 1 MiB reads ran at 0.95-0.99 of nbdkit with BBR and 1.39-1.48 with reno, at
     * 0.23 CPU s/GiB against 0.39 (bench/run.sh JOBS=4, bench/MEASUREMENTS.md, 8 Dec).
     */
    void localCongestion(String name) {
        localCongestion = name == null ? "" : name.strip();
        localCongestionFailed = false;
    }

    /**
     * Sets the configured congestion control on a TCP connection from this host; once failed, never again.
     *
     * @return whether the socket now sends unpaced ({@code reno} or {@code cubic} set on it)
     */
    private boolean congestion(SocketChannel ch, String peer) throws IOException {
        String name = localCongestion;
        if (name.isEmpty() || localCongestionFailed
                || !(ch.getRemoteAddress() instanceof InetSocketAddress a) || !a.getAddress().isLoopbackAddress()) {
            return false;
        }
        try {
            Sockets.setCongestionControl(ch, name);
        } catch (IOException | IllegalArgumentException | StorageException e) {
            localCongestionFailed = true;
            LOG.warn("nbd: local TCP connections keep the host's congestion control (tcp.congestion.local = {}): {}",
                    name, e.getMessage());
            return false;
        }
        LOG.debug("nbd client {}: congestion control {}", peer, name);
        return name.equals("reno") || name.equals("cubic");
    }

    private volatile long pollNanos = NbdConfig.POLL_US_DEFAULT * 1000L;

    /** How long a busy connection polls for its next request before it sleeps ({@code poll.us}; 0: never). */
    void pollMicros(int micros) {
        pollNanos = Math.max(0, micros) * 1000L;
    }

    @Override
    public long pollNanos() {
        return pollNanos;
    }

    private final java.util.concurrent.atomic.AtomicLong pollHits = new java.util.concurrent.atomic.AtomicLong();
    private final java.util.concurrent.atomic.AtomicLong pollMisses = new java.util.concurrent.atomic.AtomicLong();

    @Override
    public void polled(boolean found) {
        (found ? pollHits : pollMisses).incrementAndGet();
    }

    /** @return polls for a connection's next request that found it, and polls that did not */
    long[] polls() {
        return new long[] {pollHits.get(), pollMisses.get()};
    }

    /** @return how many reads were answered in part or whole with hole chunks */
    long holeReplies() {
        return holeReplies.get();
    }

    @Override
    public void closed(Connection c) {
        synchronized (live) {
            live.remove(c);
        }
        Export e = c.export();
        if (e != null && e.connections.remove(c)) {
            LOG.info("nbd client {} disconnected from export {}", c.peer(), e.name);
            synchronized (departures) {
                departures.notifyAll();
            }
        }
    }

    // ---------------------------------------------------------------- ExportService

    private String uri(String name, boolean tlsRequired) {
        String host = address.contains(":") ? "[" + address + "]" : address;
        boolean secure = tls.mode() == Tls.Mode.REQUIRE || tlsRequired;
        return (secure ? "nbds://" : "nbd://") + host + ":" + port + "/" + name;
    }

    /** The URI of an export through the Unix domain socket (as qemu and libnbd write it), or "". */
    private String localUri(String name) {
        return local == null ? "" : "nbd+unix:///" + name + "?socket=" + local.path();
    }

    private ExportInfo info(Export e) {
        return e.info(uri(e.name, e.tlsRequired), localUri(e.name));
    }

    @Override
    public ExportInfo add(VolumeRef volume, String name, boolean readOnly) {
        return add(volume, name, readOnly, false);
    }

    @Override
    public ExportInfo add(VolumeRef volume, String name, boolean readOnly, boolean tlsRequired) {
        requireNonNull(volume, "volume");
        if (tlsRequired && !tls.offered()) {
            throw new StorageException(ErrorCode.UNSUPPORTED, "the NBD server offers no TLS (tls = off in "
                    + "etc/io.strata.nbd.cfg): an export cannot require it");
        }
        String n = name == null || name.isBlank() ? volume.volume() : name;
        Names.check("export", n);
        Export e;
        synchronized (this) {
            ensureOpen();
            if (exports.containsKey(n)) {
                throw new StorageException(ErrorCode.ALREADY_EXISTS, "export '" + n + "' already exists");
            }
            for (Export x : exports.values()) {
                if (x.volume.equals(volume)) {
                    throw new StorageException(ErrorCode.ALREADY_EXISTS, "volume " + volume
                            + " is already exported as '" + x.name + "'");
                }
            }
            e = new Export(n, volume, readOnly, tlsRequired, volumes);
            e.disk(); // opened now: a volume that cannot be served is refused, not saved
            try {
                store.save(new ExportStore.Saved(n, volume.toString(), readOnly, tlsRequired));
            } catch (StorageException ex) {
                e.close();
                throw ex;
            }
            exports.put(n, e);
        }
        LOG.info("nbd: exported {} as {}{}{}", volume, n, readOnly ? " (read-only)" : "",
                tlsRequired ? " (TLS required)" : "");
        return info(e);
    }

    @Override
    public synchronized List<ExportInfo> list() {
        List<ExportInfo> out = new ArrayList<>();
        for (Export e : exports.values()) {
            out.add(info(e));
        }
        return out;
    }

    @Override
    public synchronized ExportInfo info(String name) {
        return info(export(name));
    }

    private Export export(String name) {
        Export e = name == null ? null : exports.get(name);
        if (e == null) {
            throw new StorageException(ErrorCode.EXPORT_NOT_FOUND, "no export named '" + name + "'");
        }
        return e;
    }

    /**
     * How long a removal without force waits for connected clients to leave before it refuses.
     * A client that has just disconnected may still be counted until the server's thread for it
     * has read the disconnect, which a loaded host can delay; the wait ends as soon as they leave.
     */
    static final long REMOVE_GRACE_MILLIS = 5000;
    private volatile long removeGraceMillis = REMOVE_GRACE_MILLIS;
    /** Notified whenever a client leaves an export. */
    private final Object departures = new Object();

    /** For tests: how long {@link #remove} waits for clients to leave. */
    void removeGrace(long millis) {
        removeGraceMillis = millis;
    }

    @Override
    public void remove(String name, boolean force) {
        Export e;
        if (!force) {
            synchronized (this) {
                e = export(name);
            }
            awaitDepartures(e, removeGraceMillis);
        }
        synchronized (this) {
            e = export(name);
            if (!e.connections.isEmpty() && !force) {
                List<String> peers = e.info("").clients();
                throw new StorageException(ErrorCode.EXPORT_IN_USE, "export '" + name + "' has " + peers.size()
                        + " connected client(s) (" + String.join(", ", peers) + ") after waiting "
                        + removeGraceMillis / 1000.0 + " s for them to leave; use --force to disconnect them");
            }
            store.delete(name);
            exports.remove(name);
        }
        List<Connection> cs = new ArrayList<>(e.connections);
        cs.forEach(Connection::close);
        cs.forEach(c -> c.awaitFinished(5000)); // a request in progress completes before the volume closes
        e.close();
        LOG.info("nbd: export {} removed", name);
    }

    /** Waits until no client is connected to {@code e}, or for at most {@code millis}. */
    private void awaitDepartures(Export e, long millis) {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
        synchronized (departures) {
            long left;
            while (!e.connections.isEmpty() && (left = deadline - System.nanoTime()) > 0) {
                try {
                    TimeUnit.NANOSECONDS.timedWait(departures, left);
                } catch (InterruptedException ex) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
        }
    }

    private void ensureOpen() {
        if (closed) {
            throw new StorageException(ErrorCode.DEVICE_UNAVAILABLE, "the NBD server is stopping");
        }
    }

    /** Stops listening, disconnects every client and closes the volumes (flushing them). Exports stay saved. */
    @Override
    public void close() {
        List<Export> all;
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
            all = new ArrayList<>(exports.values());
        }
        try {
            server.close();
        } catch (IOException e) {
            // closing anyway
        }
        if (local != null) {
            local.close();
        }
        timer.shutdownNow();
        workers.shutdown();
        deviceIo.shutdown();
        List<Connection> cs = new ArrayList<>(live);
        cs.forEach(Connection::close);
        cs.forEach(c -> c.awaitFinished(5000));
        try {
            acceptor.join(2000);
            if (localAcceptor != null) {
                localAcceptor.join(2000);
            }
        } catch (InterruptedException ex) {
            Thread.currentThread().interrupt();
        }
        senders.shutdown();
        all.forEach(Export::release);
        LOG.info("nbd: stopped listening on {}:{}", address, port);
    }
}

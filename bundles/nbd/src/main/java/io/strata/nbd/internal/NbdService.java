package io.strata.nbd.internal;

import static java.util.Objects.requireNonNull;

import io.strata.api.ErrorCode;
import io.strata.api.Names;
import io.strata.api.StorageException;
import io.strata.api.service.ExportInfo;
import io.strata.api.service.ExportService;
import io.strata.api.service.VolumeRef;
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
    private static final Logger LOG = LoggerFactory.getLogger(NbdService.class);

    private final Volumes volumes;
    private final ExportStore store;
    private final String address;
    private final int handshakeTimeout;
    private final Map<String, Export> exports = new TreeMap<>();
    private final ServerSocketChannel server;
    private final Thread acceptor;
    private final ScheduledExecutorService timer;
    /** Large reads of every connection (see Connection#readAsync); threads end when idle. */
    private final java.util.concurrent.ThreadPoolExecutor workers = new java.util.concurrent.ThreadPoolExecutor(16,
            16, 30, TimeUnit.SECONDS, new java.util.concurrent.LinkedBlockingQueue<>(), r -> daemon(r, "nbd-read"));
    private final AtomicInteger connectionCount = new AtomicInteger();
    private final java.util.Set<Connection> live = java.util.concurrent.ConcurrentHashMap.newKeySet();
    private final int port;
    private volatile boolean closed;
    private final boolean sendfile;

    /** @param sendfile send large reads of allocated blocks straight from the image file */
    NbdService(Volumes volumes, ExportStore store, String address, int port, int handshakeTimeoutSeconds,
            boolean sendfile) throws IOException {
        this.sendfile = sendfile;
        this.volumes = requireNonNull(volumes, "volumes");
        this.store = requireNonNull(store, "store");
        this.address = requireNonNull(address, "address");
        this.handshakeTimeout = handshakeTimeoutSeconds;
        workers.allowCoreThreadTimeOut(true);
        for (ExportStore.Saved s : store.load()) {
            try {
                Export e = new Export(s.name(), VolumeRef.parse(s.volume()), s.readOnly(), volumes);
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
        timer = Executors.newSingleThreadScheduledExecutor(r -> daemon(r, "nbd-handshake-timer"));
        acceptor = daemon(this::accept, "nbd-accept-" + this.port);
        acceptor.start();
        LOG.info("nbd: listening on {}:{} with {} export(s)", address, this.port, exports.size());
    }

    private static Thread daemon(Runnable r, String name) {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        return t;
    }

    int port() {
        return port;
    }

    private void accept() {
        while (!closed) {
            SocketChannel ch;
            try {
                ch = server.accept();
            } catch (ClosedChannelException e) {
                return;
            } catch (IOException e) {
                if (!closed) {
                    LOG.warn("nbd: accept failed: {}", e.toString());
                }
                continue;
            }
            String peer;
            try {
                ch.setOption(StandardSocketOptions.TCP_NODELAY, true);
                peer = ch.getRemoteAddress().toString().replaceFirst("^/", "");
            } catch (IOException e) {
                closeQuietly(ch);
                continue;
            }
            Connection c = new Connection(ch, this, peer, workers, sendfile);
            live.add(c);
            if (closed) {
                c.close();
            }
            timer.schedule(() -> {
                if (!c.transmitting()) {
                    LOG.info("nbd client {} did not choose an export within {} s; disconnecting", peer,
                            handshakeTimeout);
                    c.close();
                }
            }, handshakeTimeout, TimeUnit.SECONDS);
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

    @Override
    public void closed(Connection c) {
        live.remove(c);
        Export e = c.export();
        if (e != null && e.connections.remove(c)) {
            LOG.info("nbd client {} disconnected from export {}", c.peer(), e.name);
        }
    }

    // ---------------------------------------------------------------- ExportService

    private String uri(String name) {
        return "nbd://" + address + ":" + port + "/" + name;
    }

    @Override
    public ExportInfo add(VolumeRef volume, String name, boolean readOnly) {
        requireNonNull(volume, "volume");
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
            e = new Export(n, volume, readOnly, volumes);
            e.disk(); // opened now: a volume that cannot be served is refused, not saved
            try {
                store.save(new ExportStore.Saved(n, volume.toString(), readOnly));
            } catch (StorageException ex) {
                e.close();
                throw ex;
            }
            exports.put(n, e);
        }
        LOG.info("nbd: exported {} as {}{}", volume, n, readOnly ? " (read-only)" : "");
        return e.info(uri(n));
    }

    @Override
    public synchronized List<ExportInfo> list() {
        List<ExportInfo> out = new ArrayList<>();
        for (Export e : exports.values()) {
            out.add(e.info(uri(e.name)));
        }
        return out;
    }

    @Override
    public synchronized ExportInfo info(String name) {
        return export(name).info(uri(name));
    }

    private Export export(String name) {
        Export e = name == null ? null : exports.get(name);
        if (e == null) {
            throw new StorageException(ErrorCode.EXPORT_NOT_FOUND, "no export named '" + name + "'");
        }
        return e;
    }

    @Override
    public void remove(String name, boolean force) {
        Export e;
        synchronized (this) {
            e = export(name);
            if (!e.connections.isEmpty() && !force) {
                List<String> peers = e.info("").clients();
                throw new StorageException(ErrorCode.EXPORT_IN_USE, "export '" + name + "' has " + peers.size()
                        + " connected client(s) (" + String.join(", ", peers) + "); use --force to disconnect them");
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
        timer.shutdownNow();
        workers.shutdown();
        List<Connection> cs = new ArrayList<>(live);
        cs.forEach(Connection::close);
        cs.forEach(c -> c.awaitFinished(5000));
        try {
            acceptor.join(2000);
        } catch (InterruptedException ex) {
            Thread.currentThread().interrupt();
        }
        all.forEach(Export::release);
        LOG.info("nbd: stopped listening on {}:{}", address, port);
    }
}

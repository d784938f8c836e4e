package io.strata.nbd.internal;

import static java.util.Objects.requireNonNull;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.format.VirtualDisk;
import io.strata.api.service.Availability;
import io.strata.api.service.ExportInfo;
import io.strata.api.service.VolumeRef;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One export: the volume it serves, opened once and shared by every connection (so a
 * flush on one connection covers the writes of all of them, which is what
 * CAN_MULTI_CONN promises). The handle is reopened after its datastore or format went
 * away and came back.
 */
final class Export {
    private static final Logger LOG = LoggerFactory.getLogger(Export.class);
    final String name;
    final VolumeRef volume;
    final boolean readOnly;
    /** TCP clients must start TLS before they may use it. */
    final boolean tlsRequired;
    private final Volumes volumes;
    final Set<Connection> connections = ConcurrentHashMap.newKeySet();
    private final Object lock = new Object();
    private volatile VirtualDisk disk;
    private volatile String problem = "";
    private volatile boolean fastZero;
    private boolean removed;

    Export(String name, VolumeRef volume, boolean readOnly, Volumes volumes) {
        this(name, volume, readOnly, false, volumes);
    }

    Export(String name, VolumeRef volume, boolean readOnly, boolean tlsRequired, Volumes volumes) {
        this.name = requireNonNull(name, "name");
        this.volume = requireNonNull(volume, "volume");
        this.readOnly = readOnly;
        this.tlsRequired = tlsRequired;
        this.volumes = requireNonNull(volumes, "volumes");
    }

    /**
     * The open volume, opening it when needed.
     *
     * @throws StorageException why the volume cannot be opened (the export is UNAVAILABLE)
     */
    VirtualDisk disk() {
        VirtualDisk d = disk;
        if (d != null) {
            return d;
        }
        synchronized (lock) {
            if (removed) {
                throw new StorageException(ErrorCode.EXPORT_NOT_FOUND, "export '" + name + "' was removed");
            }
            if (disk == null) {
                try {
                    disk = volumes.open(volume, readOnly);
                    fastZero = volumes.fastZero(volume);
                    problem = "";
                } catch (StorageException e) {
                    problem = e.code() + ": " + e.getMessage();
                    throw e;
                }
            }
            return disk;
        }
    }

    /** Tries to open the volume now; failures are kept as the export's state. */
    void tryOpen() {
        try {
            disk();
        } catch (StorageException e) {
            // stays UNAVAILABLE with the reason; the next connection retries
        }
    }

    boolean fastZero() {
        return fastZero;
    }

    /**
     * Called after an I/O error: when the handle died with its datastore or format, it is
     * dropped so the next request reopens the volume.
     */
    void failed(VirtualDisk d, StorageException e) {
        if (Connection.errno(e) == Protocol.EIO) {
            // the client sees only EIO: the log says what it was
            LOG.warn("export '{}': {}: {}", name, e.code(), e.getMessage(), e);
        }
        if (e.code() != ErrorCode.DEVICE_UNAVAILABLE && e.code() != ErrorCode.FORMAT_NOT_FOUND) {
            return;
        }
        synchronized (lock) {
            if (disk == d) {
                disk = null;
                problem = e.code() + ": " + e.getMessage();
                d.close();
            }
        }
    }

    /** Flushes and closes the volume; the export serves nothing more. */
    void close() {
        VirtualDisk d;
        synchronized (lock) {
            removed = true;
            d = disk;
            disk = null;
        }
        if (d != null) {
            d.close(); // flushes
        }
    }

    /** Closes the volume but keeps the export (the component is stopping). */
    void release() {
        VirtualDisk d;
        synchronized (lock) {
            d = disk;
            disk = null;
        }
        if (d != null) {
            d.close();
        }
    }

    ExportInfo info(String uri) {
        return info(uri, "");
    }

    ExportInfo info(String uri, String localUri) {
        List<String> clients = new ArrayList<>();
        for (Connection c : connections) {
            clients.add(c.peer());
        }
        clients.sort(null);
        boolean online = disk != null;
        return new ExportInfo(name, volume, readOnly, online ? Availability.ONLINE : Availability.UNAVAILABLE,
                online ? "" : problem.isEmpty() ? "not opened yet" : problem, clients, uri, localUri, tlsRequired);
    }
}

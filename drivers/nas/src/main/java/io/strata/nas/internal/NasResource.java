package io.strata.nas.internal;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.device.DeviceInfo;
import io.strata.api.device.DeviceKind;
import io.strata.api.device.StorageDevice;
import io.strata.api.device.StorageResource;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;

/**
 * An attached NFS server. Its devices are the exports MOUNT EXPORT lists (what {@code showmount
 * -e} shows); opening one mounts it.
 *
 * <p>A device id is the export's path without its leading {@code /}, each further {@code /}
 * written as {@code :} (ids cannot hold {@code /}): {@code /srv/vm} is {@code srv:vm}, the root
 * export {@code /} is {@code :}.
 */
final class NasResource implements StorageResource {
    private final String name;
    private final Map<String, String> parameters;
    private final NasParams params;
    private final Consumer<NasResource> onClose;
    private final Set<NasExport> open = Collections.newSetFromMap(new ConcurrentHashMap<>());
    private volatile boolean closed;

    private NasResource(String name, Map<String, String> parameters, NasParams params, Consumer<NasResource> onClose) {
        this.name = name;
        this.parameters = parameters;
        this.params = params;
        this.onClose = onClose;
    }

    /** Attaches: the server must answer (its exports are listed once to check it). */
    static NasResource attach(String name, Map<String, String> parameters, NasParams params,
            Consumer<NasResource> onClose) {
        NasResource r = new NasResource(name, parameters, params, onClose);
        r.exports();
        return r;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public String driverType() {
        return NasDriver.TYPE;
    }

    @Override
    public Map<String, String> parameters() {
        return parameters;
    }

    private List<MountProtocol.Export> exports() {
        try {
            return MountProtocol.exports(params.mountAddress(), params.auth(), params.setupOptions());
        } catch (StorageException e) {
            if (e.code() == ErrorCode.DEVICE_UNAVAILABLE) {
                throw new StorageException(ErrorCode.DEVICE_UNAVAILABLE, "resource " + name + ": the NFS server "
                        + params.server() + " is unreachable: " + e.getMessage());
            }
            throw e;
        }
    }

    @Override
    public List<DeviceInfo> devices() {
        ensureOpen();
        List<DeviceInfo> out = new ArrayList<>();
        for (MountProtocol.Export e : exports()) {
            String clients = e.groups().isEmpty() ? "every client" : String.join(",", e.groups());
            out.add(new DeviceInfo(name, idOf(e.path()), DeviceKind.FILE_SHARE, 0, 512,
                    "NFS export " + e.path() + " of " + params.server() + " (" + clients + ")",
                    identity(e.path())));
        }
        return out;
    }

    String identity(String export) {
        return "nfs:" + params.server() + ":" + export;
    }

    @Override
    public StorageDevice openDevice(String deviceId) {
        ensureOpen();
        String export = pathOf(deviceId);
        NfsMount m = NfsMount.mount(params, export);
        DeviceInfo info = new DeviceInfo(name, deviceId, DeviceKind.FILE_SHARE, 0, 512,
                "NFS export " + export + " of " + params.server(), identity(export));
        NasExport d = new NasExport(info, m, params.uri(export), open::remove);
        open.add(d);
        if (closed) {
            d.close();
            ensureOpen();
        }
        return d;
    }

    /** @return the device id of an export path */
    static String idOf(String export) {
        String p = export.startsWith("/") ? export.substring(1) : export;
        return p.isEmpty() ? ":" : p.replace('/', ':');
    }

    /** @return the export path of a device id */
    static String pathOf(String id) {
        if (id == null || id.isEmpty() || id.contains("/") || id.contains("..")
                || id.chars().anyMatch(c -> c < 0x20 || c == 0x7f)) {
            throw new StorageException(ErrorCode.INVALID_NAME, "'" + io.strata.api.Names.printable(String.valueOf(id))
                    + "' is not an export id (the export's path with ':' for '/', e.g. srv:vm for /srv/vm)");
        }
        return id.equals(":") ? "/" : "/" + id.replace(':', '/');
    }

    private void ensureOpen() {
        if (closed) {
            throw new StorageException(ErrorCode.DEVICE_UNAVAILABLE, "resource " + name + " is detached");
        }
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        for (NasExport d : Set.copyOf(open)) {
            d.close();
        }
        onClose.accept(this);
    }
}

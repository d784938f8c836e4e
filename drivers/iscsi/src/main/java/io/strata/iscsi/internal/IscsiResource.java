package io.strata.iscsi.internal;

import io.strata.api.ErrorCode;
import io.strata.api.Names;
import io.strata.api.StorageException;
import io.strata.api.device.DeviceInfo;
import io.strata.api.device.DeviceKind;
import io.strata.api.device.DeviceState;
import io.strata.api.device.PathInfo;
import io.strata.api.device.StorageDevice;
import io.strata.api.device.StorageResource;
import io.strata.multipath.Multipath;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An attached iscsi resource: the sessions {@link Discovery} keeps and one {@link Multipath}
 * that groups their paths by LUN identity, one device per identity. Device ids are the LUN's
 * designator ({@code naa.…}); the identity is {@code wwid:} and the designator.
 */
final class IscsiResource implements StorageResource {
    private static final Logger LOG = LoggerFactory.getLogger(IscsiResource.class);

    /** What the first path to a device told about it. */
    private record Device(String id, IscsiPath.LunInfo info, long size, int sectorSize) {
    }

    private final String name;
    private final Map<String, String> parameters;
    private final Discovery discovery;
    private final Multipath multipath;
    private final Map<String, Device> devices = new ConcurrentHashMap<>();
    private final Consumer<IscsiResource> onClose;
    private int handles = 1;
    private boolean closed;

    IscsiResource(String name, Map<String, String> parameters, IscsiParams params, Consumer<IscsiResource> onClose) {
        this.name = name;
        this.parameters = Map.copyOf(parameters);
        this.onClose = onClose;
        this.discovery = new Discovery(name, params);
        Multipath mp = null;
        try {
            mp = new Multipath(name, this.parameters);
            this.multipath = mp;
            add(discovery.refresh());
        } catch (RuntimeException e) {
            if (mp != null) {
                mp.close();
            }
            discovery.close();
            throw e;
        }
        LOG.info("resource {}: {} device(s) over {} path(s)", name, devices.size(), discovery.paths().size());
    }

    private synchronized void add(List<IscsiPath> found) {
        for (IscsiPath p : found) {
            String id = Inquiry.deviceId(p.info().designator());
            Names.check("device", id);
            Device known = devices.get(id);
            if (known != null && known.size() != p.size()) {
                LOG.warn("resource {}: path {} reports {} bytes for device {}, other paths {}", name, p.id(), p.size(),
                        id, known.size());
            }
            devices.putIfAbsent(id, new Device(id, p.info(), p.size(), p.sectorSize()));
            multipath.add(id, p);
        }
    }

    /** Takes one more handle on the resource (a repeated attach); {@link #close} drops one. */
    synchronized boolean retain() {
        if (closed) {
            return false;
        }
        handles++;
        return true;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public String driverType() {
        return IscsiDriver.TYPE;
    }

    @Override
    public Map<String, String> parameters() {
        return parameters;
    }

    @Override
    public List<DeviceInfo> devices() {
        checkOpen();
        add(discovery.refresh());
        List<PathInfo> paths = paths();
        List<DeviceInfo> out = new ArrayList<>();
        for (Device d : devices.values()) {
            out.add(info(d, paths));
        }
        out.sort(Comparator.comparing(DeviceInfo::id));
        return List.copyOf(out);
    }

    private DeviceInfo info(Device d, List<PathInfo> paths) {
        List<PathInfo> mine = paths.stream().filter(p -> p.device().equals(d.id())).toList();
        long online = mine.stream().filter(p -> p.state() == DeviceState.ONLINE && p.enabled()).count();
        DeviceState state = mine.isEmpty() || online == 0 ? DeviceState.OFFLINE
                : online == mine.size() ? DeviceState.ONLINE : DeviceState.DEGRADED;
        int n = mine.size();
        String description = (d.info().vendor() + " " + d.info().product()).trim() + " " + n
                + (n == 1 ? " path " : " paths ") + state;
        return new DeviceInfo(name, d.id(), DeviceKind.BLOCK, d.size(), d.sectorSize(), description,
                d.info().identity());
    }

    @Override
    public StorageDevice openDevice(String deviceId) {
        checkOpen();
        Device d = devices.get(deviceId);
        if (d == null) {
            throw new StorageException(ErrorCode.DEVICE_NOT_FOUND, "resource " + name + " has no device '"
                    + Names.printable(String.valueOf(deviceId)) + "'");
        }
        return multipath.open(info(d, paths()));
    }

    @Override
    public List<PathInfo> paths() {
        return multipath.paths();
    }

    @Override
    public void setPathEnabled(String pathId, boolean enabled) {
        checkOpen();
        multipath.setPathEnabled(pathId, enabled);
    }

    @Override
    public void reconfigure(Map<String, String> changes) {
        checkOpen();
        multipath.reconfigure(changes);
    }

    /** Runs the multipath checker now (tests, and callers that want a fast failback). */
    void checkNow() {
        multipath.checkNow();
    }

    /** @return the paths by id; for tests */
    Map<String, IscsiPath> pathTransports() {
        return discovery.paths();
    }

    private synchronized void checkOpen() {
        if (closed) {
            throw new StorageException(ErrorCode.DEVICE_UNAVAILABLE, "resource " + name + " is closed");
        }
    }

    synchronized boolean isClosed() {
        return closed;
    }

    @Override
    public void close() {
        synchronized (this) {
            if (closed || --handles > 0) {
                return;
            }
            closed = true;
        }
        try {
            multipath.close();
        } catch (RuntimeException e) {
            LOG.warn("resource {}: closing multipath: {}", name, e.getMessage());
        }
        discovery.close();
        onClose.accept(this);
    }

    @Override
    public String toString() {
        return "IscsiResource[" + name + "]";
    }
}

package io.strata.fc.internal;

import io.strata.api.ErrorCode;
import io.strata.api.Names;
import io.strata.api.StorageException;
import io.strata.api.device.DeviceInfo;
import io.strata.api.device.DeviceKind;
import io.strata.api.device.PathInfo;
import io.strata.api.device.StorageDevice;
import io.strata.api.device.StorageResource;
import io.strata.multipath.Multipath;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * An attached {@code fc} resource: the disks behind the chosen HBA ports, one
 * {@link FcPath} per SCSI disk {@code H:C:T:L}, grouped by identity into devices by
 * {@link Multipath}.
 *
 * <p>Discovery runs at attach, at every {@link #devices()} and {@link #openDevice}, and
 * after a scan or rescan; each one brings the multipath layer in line with sysfs: new paths
 * are added, vanished ones removed, and a path whose address now leads to another LUN, node
 * or size is replaced.
 *
 * <p>{@link #reconfigure} takes, besides the multipath parameters:
 * <ul>
 * <li>{@code scan=all} (or {@code scan=host3,host5}): the kernel scans the HBA ports for new
 *     LUNs ({@code "- - -"} to {@code class/scsi_host/hostN/scan}), then discovery runs;</li>
 * <li>{@code rescan=<device id>} (or {@code rescan=all}): the kernel reads the LUN's size and
 *     identification again on each of its paths ({@code "1"} to {@code H:C:T:L/rescan}), then
 *     discovery runs.</li>
 * </ul>
 */
final class FcResource implements StorageResource {
    static final String SCAN = "scan";
    static final String RESCAN = "rescan";
    private static final System.Logger LOG = System.getLogger(FcResource.class.getName());

    private final String name;
    private final Map<String, String> parameters;
    private final FcParams params;
    private final FcSysfs sysfs;
    private final Multipath multipath;
    /** The paths handed to the multipath layer, by id. Guarded by itself. */
    private final Map<String, FcPath> paths = new TreeMap<>();
    private volatile boolean closed;

    FcResource(String name, Map<String, String> parameters, FcParams params) {
        this.name = name;
        this.parameters = Map.copyOf(parameters);
        this.params = params;
        this.sysfs = new FcSysfs(params.sysfs(), params.dev());
        FcSysfs.Discovery first = discover();
        this.multipath = new Multipath(name, params.multipath());
        try {
            sync(first);
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public String driverType() {
        return FcDriver.TYPE;
    }

    @Override
    public Map<String, String> parameters() {
        return parameters;
    }

    /** @return a fresh discovery of the chosen HBA ports */
    private FcSysfs.Discovery discover() {
        FcSysfs.Discovery d = sysfs.discover(params.hosts());
        if (d.hosts().isEmpty()) {
            throw new StorageException(ErrorCode.DEVICE_UNAVAILABLE, "resource " + name + ": "
                    + (params.hosts().isEmpty() ? "this host has no Fibre Channel HBA port"
                            : "none of the HBA ports " + String.join(",", new TreeSet<>(params.hosts())) + " exists")
                    + " (" + params.sysfs().resolve("class/fc_host") + ")");
        }
        return d;
    }

    /** Brings the multipath layer in line with a discovery. */
    private void sync(FcSysfs.Discovery d) {
        Map<String, ScsiPath> found = new HashMap<>();
        d.paths().forEach(p -> found.put(p.id(), p));
        synchronized (paths) {
            if (closed) {
                throw new StorageException(ErrorCode.DEVICE_UNAVAILABLE, "resource " + name + " is closed");
            }
            for (FcPath old : new ArrayList<>(paths.values())) {
                ScsiPath now = found.get(old.id());
                if (now == null || !same(old.scsiPath(), now)) {
                    LOG.log(System.Logger.Level.INFO, "resource " + name + ": path " + old.id() + " to "
                            + old.scsiPath().deviceId() + (now == null ? " is gone" : " changed") + "; removing it");
                    paths.remove(old.id());
                    try {
                        multipath.remove(old.id()); // closes it
                    } finally {
                        old.close();
                    }
                }
            }
            for (ScsiPath p : d.paths()) {
                if (!paths.containsKey(p.id())) {
                    FcPath path = new FcPath(p);
                    try {
                        multipath.add(p.deviceId(), path);
                    } catch (StorageException e) {
                        // e.g. a sector size unlike the other paths': leave this path out, keep the rest
                        path.close();
                        LOG.log(System.Logger.Level.WARNING, "resource " + name + ": path " + p.id()
                                + " is left out: " + e.getMessage());
                        continue;
                    }
                    paths.put(p.id(), path);
                    LOG.log(System.Logger.Level.INFO, "resource " + name + ": path " + p.id() + " (" + p.transport()
                            + ", " + p.node() + ") leads to " + p.deviceId());
                }
            }
        }
    }

    /** @return whether a path found again is still the same: same LUN, node and geometry */
    private static boolean same(ScsiPath a, ScsiPath b) {
        return a.identity().equals(b.identity()) && a.node().equals(b.node()) && a.size() == b.size()
                && a.sectorSize() == b.sectorSize() && a.transport().equals(b.transport());
    }

    /** Discovers and brings the multipath layer in line; the paths found. */
    private List<ScsiPath> refresh() {
        FcSysfs.Discovery d = discover();
        sync(d);
        return d.paths();
    }

    @Override
    public List<DeviceInfo> devices() {
        return describe(refresh());
    }

    private List<DeviceInfo> describe(List<ScsiPath> found) {
        Map<String, List<ScsiPath>> byDevice = new TreeMap<>();
        for (ScsiPath p : found) {
            byDevice.computeIfAbsent(p.deviceId(), k -> new ArrayList<>()).add(p);
        }
        List<DeviceInfo> out = new ArrayList<>();
        for (Map.Entry<String, List<ScsiPath>> e : byDevice.entrySet()) {
            List<ScsiPath> ps = e.getValue();
            ScsiPath first = ps.get(0);
            long size = ps.stream().mapToLong(ScsiPath::size).min().orElse(first.size());
            String product = (first.vendor() + " " + first.model()).strip();
            out.add(new DeviceInfo(name, e.getKey(), DeviceKind.BLOCK, size, first.sectorSize(),
                    (product.isEmpty() ? "FC LUN" : product) + ", " + ps.size() + (ps.size() == 1 ? " path" : " paths"),
                    first.identity()));
        }
        return out;
    }

    @Override
    public StorageDevice openDevice(String deviceId) {
        DeviceInfo info = devices().stream().filter(d -> d.id().equals(deviceId)).findFirst()
                .orElseThrow(() -> new StorageException(ErrorCode.DEVICE_NOT_FOUND, "resource " + name
                        + " has no device '" + Names.printable(String.valueOf(deviceId)) + "'"));
        return multipath.open(info);
    }

    @Override
    public List<PathInfo> paths() {
        return multipath.paths();
    }

    /** Runs one multipath checker round now (tests, and whoever holds this class). */
    void checkNow() {
        multipath.checkNow();
    }

    @Override
    public void setPathEnabled(String pathId, boolean enabled) {
        multipath.setPathEnabled(pathId, enabled);
    }

    /**
     * Changes multipath parameters, and runs {@code scan} and {@code rescan} (see the class
     * comment). Everything is checked before anything is done.
     */
    @Override
    public void reconfigure(Map<String, String> changes) {
        Map<String, String> rest = new LinkedHashMap<>(Objects.requireNonNull(changes, "changes"));
        String scan = rest.remove(SCAN);
        String rescan = rest.remove(RESCAN);
        for (String own : FcParams.OWN.keySet()) {
            if (rest.containsKey(own)) {
                throw FcParams.invalid(name, own, "cannot change while the resource is attached; "
                        + "detach and attach it again");
            }
        }
        FcParams.knownOnly(name, rest.keySet(), Set.of(SCAN, RESCAN));
        List<FcHost> scanHosts = scan == null ? List.of() : scanHosts(scan.trim());
        List<ScsiPath> rescanPaths = rescan == null ? List.of() : rescanPaths(rescan.trim());
        if (!rest.isEmpty()) {
            multipath.reconfigure(rest);
        }
        if (scan != null) {
            for (FcHost h : scanHosts) {
                sysfs.scan(h);
            }
            LOG.log(System.Logger.Level.INFO, "resource " + name + ": scanned " + scanHosts.size() + " HBA port(s)");
        }
        for (ScsiPath p : rescanPaths) {
            sysfs.rescan(p);
        }
        if (scan != null || rescan != null) {
            refresh();
        }
    }

    private List<FcHost> scanHosts(String value) {
        List<FcHost> hosts = discover().hosts();
        if (value.equals("all")) {
            return hosts;
        }
        Set<String> wanted;
        try {
            wanted = FcParams.hosts(name, value);
        } catch (StorageException e) {
            throw FcParams.invalid(name, SCAN, "is 'all' or HBA ports such as host3,host5, not '"
                    + Names.printable(value) + "'");
        }
        List<FcHost> out = new ArrayList<>();
        Set<String> missing = new TreeSet<>(wanted);
        for (FcHost h : hosts) {
            if (missing.remove(h.name())) {
                out.add(h);
            }
        }
        if (!missing.isEmpty() || wanted.isEmpty()) {
            throw FcParams.invalid(name, SCAN, "names " + (wanted.isEmpty() ? "no HBA port" : String.join(",", missing))
                    + ", not among this resource's HBA ports (" + String.join(",",
                            hosts.stream().map(FcHost::name).toList()) + ")");
        }
        return out;
    }

    private List<ScsiPath> rescanPaths(String value) {
        List<ScsiPath> found = refresh();
        if (value.equals("all")) {
            return found;
        }
        List<ScsiPath> out = found.stream().filter(p -> p.deviceId().equals(value)).toList();
        if (out.isEmpty()) {
            throw new StorageException(ErrorCode.DEVICE_NOT_FOUND, "resource " + name + ": parameter '" + RESCAN
                    + "' names device '" + Names.printable(value) + "', which the resource does not have");
        }
        return out;
    }

    @Override
    public void close() {
        List<FcPath> toClose;
        synchronized (paths) {
            closed = true;
            toClose = new ArrayList<>(paths.values());
            paths.clear();
        }
        if (multipath != null) {
            try {
                multipath.close();
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.WARNING, "resource " + name + ": closing its multipath layer failed: " + e);
            }
        }
        toClose.forEach(FcPath::close);
    }
}

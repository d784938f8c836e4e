package io.strata.shell.internal;

import io.strata.api.Capability;
import io.strata.api.ErrorCode;
import io.strata.api.Names;
import io.strata.api.StorageException;
import io.strata.api.device.DeviceInfo;
import io.strata.api.device.DeviceKind;
import io.strata.api.format.CheckReport;
import io.strata.api.format.Provisioning;
import io.strata.api.format.VirtualDisk;
import io.strata.api.fs.Datastore;
import io.strata.api.service.Availability;
import io.strata.api.service.DatastoreInfo;
import io.strata.api.service.DatastoreService;
import io.strata.api.service.PluginInfo;
import io.strata.api.service.PluginKind;
import io.strata.api.service.ResourceInfo;
import io.strata.api.service.ResourceService;
import io.strata.api.service.SnapshotInfo;
import io.strata.api.service.SnapshotService;
import io.strata.api.service.TaskInfo;
import io.strata.api.service.TaskService;
import io.strata.api.service.TaskState;
import io.strata.api.service.VolumeInfo;
import io.strata.api.service.VolumeRef;
import io.strata.api.service.VolumeService;
import io.strata.api.service.VolumeState;
import io.strata.api.service.VolumeUsage;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Collectors;

/**
 * Hand-written fakes of the services, holding a small host: a local
 * resource with one directory device, the {@code local} datastore and two
 * volumes, no snapshots and no tasks. They throw the errors the service
 * contracts promise, with messages in the style the core uses.
 */
final class Fakes {
    static final Instant CREATED = Instant.parse("2026-11-21T10:00:00Z");

    final Resources resources = new Resources();
    final Datastores datastores = new Datastores();
    final Volumes volumes = new Volumes();
    final Snapshots snapshots = new Snapshots();
    final Tasks tasks = new Tasks();

    Fakes() {
        resources.plugins.add(new PluginInfo(PluginKind.DRIVER, "local",
                "Local directories, file-backed LUNs and block devices",
                EnumSet.of(Capability.FILE_SHARES, Capability.BLOCK_DEVICES, Capability.DEVICE_DISCOVERY),
                "io.strata.driver.local"));
        resources.plugins.add(new PluginInfo(PluginKind.FILESYSTEM, "dir", "A datastore in a local directory",
                EnumSet.of(Capability.SPARSE_FILES, Capability.LOCAL_PATHS), "io.strata.fs.dir"));
        resources.plugins.add(new PluginInfo(PluginKind.FORMAT, "vhd", "Microsoft VHD, fixed and dynamic",
                EnumSet.of(Capability.THIN, Capability.THICK, Capability.RESIZE), "io.strata.format.vhd"));
        resources.resources.put("host", new ResourceInfo("host", "local", Map.of("path", "/var/lib/strata"),
                Availability.ONLINE, ""));
        resources.devices.add(new DeviceInfo("host", "data", DeviceKind.FILE_SHARE, 107374182400L, 0,
                "directory /var/lib/strata"));
        datastores.map.put("local", new DatastoreInfo("local", "dir", "host/data", Availability.ONLINE, "",
                107374182400L, 53687091200L, 11811160064L, 1074790400L, 2, "/var/lib/strata/local", Map.of()));
        volumes.put(new VolumeInfo("local", "vm1", "vhd", Provisioning.THIN, 10737418240L, 2097152L,
                "vm1.vhd", "/var/lib/strata/local/vm1.vhd", VolumeState.IN_USE, CREATED));
        volumes.put(new VolumeInfo("local", "vm2", "raw", Provisioning.THICK, 1073741824L, 1073741824L,
                "vm2.img", "/var/lib/strata/local/vm2.img", VolumeState.READY, CREATED));
    }

    final class Resources implements ResourceService {
        final List<PluginInfo> plugins = new ArrayList<>();
        final Map<String, ResourceInfo> resources = new TreeMap<>();
        /** Runs at the start of {@link #add}, when set (to look at the calling thread). */
        volatile Runnable onAdd;
        final List<DeviceInfo> devices = new ArrayList<>();
        final Set<String> inUse = new HashSet<>(Set.of("host"));

        @Override
        public List<PluginInfo> plugins() {
            return List.copyOf(plugins);
        }

        @Override
        public List<ResourceInfo> resources() {
            return List.copyOf(resources.values());
        }

        @Override
        public ResourceInfo resource(String name) {
            ResourceInfo r = resources.get(name);
            if (r == null) {
                throw new StorageException(ErrorCode.RESOURCE_NOT_FOUND, "resource " + name + " does not exist");
            }
            return r;
        }

        @Override
        public ResourceInfo add(String name, String driver, Map<String, String> parameters) {
            Runnable hook = onAdd;
            if (hook != null) {
                hook.run();
            }
            if (resources.containsKey(name)) {
                throw new StorageException(ErrorCode.ALREADY_EXISTS, "resource " + name + " already exists");
            }
            if (plugins.stream().noneMatch(p -> p.kind() == PluginKind.DRIVER && p.type().equals(driver))) {
                throw new StorageException(ErrorCode.DRIVER_NOT_FOUND, "no storage driver of type " + driver
                        + " is installed");
            }
            ResourceInfo r = new ResourceInfo(name, driver, parameters, Availability.ONLINE, "");
            resources.put(name, r);
            return r;
        }

        @Override
        public void remove(String name) {
            resource(name);
            if (inUse.contains(name)) {
                throw new StorageException(ErrorCode.RESOURCE_IN_USE, "resource " + name
                        + " carries datastore local");
            }
            resources.remove(name);
        }

        @Override
        public List<DeviceInfo> devices(String resource) {
            if (resource != null) {
                resource(resource);
            }
            return devices.stream().filter(d -> resource == null || d.resource().equals(resource))
                    .collect(Collectors.toList());
        }

        final List<io.strata.api.service.ResourcePath> paths = new ArrayList<>();

        @Override
        public List<io.strata.api.service.ResourcePath> paths(String resource, String device) {
            if (resource != null) {
                resource(resource);
            }
            return paths.stream().filter(p -> resource == null || p.resource().equals(resource))
                    .filter(p -> device == null || p.path().device().equals(device)).toList();
        }

        @Override
        public void setPathEnabled(String resource, String pathId, boolean enabled) {
            resource(resource);
            for (int i = 0; i < paths.size(); i++) {
                io.strata.api.service.ResourcePath rp = paths.get(i);
                io.strata.api.device.PathInfo p = rp.path();
                if (rp.resource().equals(resource) && p.id().equals(pathId)) {
                    paths.set(i, new io.strata.api.service.ResourcePath(resource, new io.strata.api.device.PathInfo(
                            p.device(), p.id(), p.transport(), p.state(), enabled, enabled && p.active(), p.ios(),
                            p.errors(), p.inFlight())));
                    return;
                }
            }
            throw new StorageException(ErrorCode.DEVICE_NOT_FOUND, "resource " + resource + " has no path " + pathId);
        }

        @Override
        public ResourceInfo update(String name, Map<String, String> changes) {
            ResourceInfo r = resource(name);
            Map<String, String> merged = new TreeMap<>(r.parameters());
            merged.putAll(changes);
            ResourceInfo u = new ResourceInfo(name, r.driver(), merged, r.state(), r.message());
            resources.put(name, u);
            return u;
        }
    }

    final class Datastores implements DatastoreService {
        final Map<String, DatastoreInfo> map = new TreeMap<>();
        String lastDevice;
        Map<String, String> lastOptions;
        boolean lastForce;

        @Override
        public List<DatastoreInfo> list() {
            return List.copyOf(map.values());
        }

        @Override
        public DatastoreInfo info(String name) {
            DatastoreInfo d = map.get(name);
            if (d == null) {
                throw new StorageException(ErrorCode.DATASTORE_NOT_FOUND, "datastore " + name + " does not exist");
            }
            return d;
        }

        @Override
        public DatastoreInfo create(String name, String filesystem, String device, Map<String, String> options,
                boolean force) {
            if (map.containsKey(name)) {
                throw new StorageException(ErrorCode.ALREADY_EXISTS, "datastore " + name + " already exists");
            }
            lastDevice = device;
            lastOptions = options;
            lastForce = force;
            DatastoreInfo d = new DatastoreInfo(name, filesystem, device, Availability.ONLINE, "", 1073741824L,
                    1006632960L, 0, 0, 0, "/mnt/" + name, options);
            map.put(name, d);
            return d;
        }

        @Override
        public void remove(String name) {
            info(name);
            if (volumes.inUse().stream().anyMatch(r -> r.datastore().equals(name))) {
                throw new StorageException(ErrorCode.VOLUME_IN_USE, "datastore " + name + " has open volumes");
            }
            map.remove(name);
        }

        @Override
        public Datastore datastore(String name) {
            throw new UnsupportedOperationException();
        }

        /** The report {@link #check} gives per datastore; without one, the layer has no checker. */
        final Map<String, CheckReport> checks = new TreeMap<>();
        /** What {@link #grow} makes of a datastore; without one, the layer cannot grow. */
        final Map<String, DatastoreInfo> grown = new TreeMap<>();
        Boolean lastRepair;

        @Override
        public CheckReport check(String name, boolean repair) {
            DatastoreInfo d = info(name);
            lastRepair = repair;
            CheckReport r = checks.get(name);
            if (r == null) {
                throw new StorageException(ErrorCode.UNSUPPORTED, "filesystem '" + d.filesystem() + "' of datastore '"
                        + name + "' has no checker");
            }
            return r;
        }

        @Override
        public DatastoreInfo grow(String name) {
            DatastoreInfo d = info(name);
            DatastoreInfo g = grown.get(name);
            if (g == null) {
                throw new StorageException(ErrorCode.UNSUPPORTED, "filesystem '" + d.filesystem() + "' of datastore '"
                        + name + "' cannot grow");
            }
            map.put(name, g);
            return g;
        }
    }

    final class Volumes implements VolumeService {
        final Map<String, VolumeInfo> map = new TreeMap<>();
        Path lastImport;
        String lastImportFormat;

        void put(VolumeInfo v) {
            map.put(v.ref().toString(), v);
        }

        List<VolumeRef> inUse() {
            return map.values().stream().filter(v -> v.state() == VolumeState.IN_USE).map(VolumeInfo::ref)
                    .collect(Collectors.toList());
        }

        @Override
        public List<VolumeInfo> list(String datastore) {
            if (datastore != null) {
                datastores.info(datastore);
            }
            return map.values().stream().filter(v -> datastore == null || v.datastore().equals(datastore))
                    .collect(Collectors.toList());
        }

        @Override
        public VolumeInfo info(VolumeRef ref) {
            datastores.info(ref.datastore());
            VolumeInfo v = map.get(ref.toString());
            if (v == null) {
                throw new StorageException(ErrorCode.VOLUME_NOT_FOUND, "volume " + ref + " does not exist");
            }
            return v;
        }

        @Override
        public VolumeInfo create(VolumeRef ref, long virtualSize, String format, Provisioning provisioning) {
            DatastoreInfo d = datastores.info(ref.datastore());
            if (map.containsKey(ref.toString())) {
                throw new StorageException(ErrorCode.ALREADY_EXISTS, "volume " + ref + " already exists");
            }
            checkFormat(format);
            if (provisioning != Provisioning.THIN && virtualSize > d.free()) {
                throw new StorageException(ErrorCode.DATASTORE_FULL, "datastore " + d.name() + " has "
                        + d.free() + " bytes free, volume " + ref + " needs " + virtualSize);
            }
            String file = ref.volume() + extension(format);
            VolumeInfo v = new VolumeInfo(ref.datastore(), ref.volume(), format, provisioning, virtualSize,
                    provisioning == Provisioning.THIN ? 512 * 3 : virtualSize, file, d.path() + "/" + file,
                    VolumeState.READY, CREATED);
            put(v);
            return v;
        }

        @Override
        public VolumeInfo resize(VolumeRef ref, long newSize) {
            VolumeInfo v = info(ref);
            if (newSize < v.virtualSize()) {
                throw new StorageException(ErrorCode.INVALID_SIZE, "volume " + ref + " is " + v.virtualSize()
                        + " bytes; shrinking to " + newSize + " is not supported");
            }
            VolumeInfo n = new VolumeInfo(v.datastore(), v.name(), v.format(), v.provisioning(), newSize,
                    v.allocated(), v.file(), v.path(), v.state(), v.created());
            put(n);
            return n;
        }

        @Override
        public void delete(VolumeRef ref) {
            VolumeInfo v = info(ref);
            if (v.state() == VolumeState.IN_USE) {
                throw new StorageException(ErrorCode.VOLUME_IN_USE, "volume " + ref + " is open (1 writer)");
            }
            List<String> clones = snapshots.clonesOf.entrySet().stream()
                    .filter(e -> e.getKey().startsWith(ref + "@")).flatMap(e -> e.getValue().stream()).sorted()
                    .collect(Collectors.toList());
            if (!clones.isEmpty()) {
                throw new StorageException(ErrorCode.VOLUME_IN_USE, "volume " + ref + " is the base of linked clones "
                        + String.join(", ", clones));
            }
            map.remove(ref.toString());
        }

        @Override
        public VolumeInfo importImage(VolumeRef ref, Path source, String format) {
            lastImport = source;
            lastImportFormat = format;
            if (!source.toString().endsWith(".vhd")) {
                throw new StorageException(ErrorCode.CORRUPT_IMAGE, source + " is not a VHD image: bad footer cookie");
            }
            VolumeInfo v = new VolumeInfo(ref.datastore(), ref.volume(), "vhd", Provisioning.THIN, 1048576L,
                    4096L, ref.volume() + ".vhd", "/var/lib/strata/local/" + ref.volume() + ".vhd",
                    VolumeState.READY, CREATED);
            put(v);
            return v;
        }

        @Override
        public VirtualDisk open(VolumeRef ref, boolean readOnly) {
            throw new UnsupportedOperationException();
        }

        /** The arguments of the last clone, in the order of {@link #clone}. */
        List<Object> lastClone;
        /** What reclaim returns per volume ref; 0 when absent. */
        final Map<String, Long> reclaimable = new HashMap<>();
        /** What check returns per volume ref without and with repair; one clean report when absent. */
        final Map<String, List<CheckReport>> checks = new HashMap<>();
        final Map<String, List<CheckReport>> repairs = new HashMap<>();
        /** What usage returns per volume ref; everything unique when absent. */
        final Map<String, VolumeUsage> usages = new HashMap<>();

        @Override
        public VolumeInfo clone(VolumeRef source, String snapshot, VolumeRef target, boolean linked, String format,
                Provisioning provisioning) {
            lastClone = java.util.Arrays.asList(source, snapshot, target, linked, format, provisioning);
            VolumeInfo src = info(source);
            if (snapshot != null) {
                snapshots.find(source, snapshot);
            }
            DatastoreInfo d = datastores.info(target.datastore());
            if (map.containsKey(target.toString())) {
                throw new StorageException(ErrorCode.ALREADY_EXISTS, "volume " + target + " already exists");
            }
            if (linked && !target.datastore().equals(source.datastore())) {
                throw new StorageException(ErrorCode.INVALID_ARGUMENT, "a linked clone must be in its base's datastore "
                        + source.datastore() + ", not " + target.datastore());
            }
            String fmt = format == null ? src.format() : format;
            checkFormat(fmt);
            Provisioning p = linked ? Provisioning.THIN : provisioning == null ? src.provisioning() : provisioning;
            long allocated = linked ? 4096 : p == Provisioning.THIN ? src.allocated() : src.virtualSize();
            String file = target.volume() + extension(fmt);
            VolumeInfo v = new VolumeInfo(target.datastore(), target.volume(), fmt, p, src.virtualSize(), allocated,
                    file, d.path() + "/" + file, VolumeState.READY, CREATED);
            put(v);
            if (linked && snapshot != null) {
                snapshots.clonesOf.computeIfAbsent(source + "@" + snapshot, k -> new ArrayList<>()).add(target.toString());
            }
            return v;
        }

        @Override
        public long reclaim(VolumeRef ref) {
            VolumeInfo v = info(ref);
            if (v.state() == VolumeState.IN_USE) {
                throw new StorageException(ErrorCode.VOLUME_IN_USE, "volume " + ref + " is open (1 writer)");
            }
            if (v.format().equals("raw")) {
                throw new StorageException(ErrorCode.UNSUPPORTED, "volume " + ref
                        + " is raw; space reclamation needs a vhd or qcow2 image");
            }
            return reclaimable.getOrDefault(ref.toString(), 0L);
        }

        @Override
        public List<CheckReport> check(VolumeRef ref, boolean repair) {
            VolumeInfo v = info(ref);
            if (repair && v.state() == VolumeState.IN_USE) {
                throw new StorageException(ErrorCode.VOLUME_IN_USE, "volume " + ref
                        + " is open (1 writer); repair needs it closed");
            }
            List<CheckReport> r = (repair ? repairs : checks).get(ref.toString());
            return r != null ? r : List.of(new CheckReport(v.file(), List.of(), List.of(), List.of(), 0));
        }

        @Override
        public VolumeUsage usage(VolumeRef ref) {
            VolumeInfo v = info(ref);
            VolumeUsage u = usages.get(ref.toString());
            return u != null ? u : new VolumeUsage(ref, v.allocated(), 0, "", List.of());
        }
    }

    static void checkFormat(String format) {
        if (!List.of("vhd", "raw", "qcow2").contains(format)) {
            throw new StorageException(ErrorCode.FORMAT_NOT_FOUND, "no disk format of type " + format
                    + " is installed");
        }
    }

    static String extension(String format) {
        return format.equals("raw") ? ".img" : "." + format;
    }

    /**
     * Snapshots kept per volume in creation order (parents before children), each
     * a frozen file {@code <volume>.<snapshot>.<ext>}; the volume's own file stays
     * its current image. Times start at {@link #CREATED} and step by one minute.
     */
    final class Snapshots implements SnapshotService {
        final Map<String, Map<String, SnapshotInfo>> byVolume = new HashMap<>();
        /** Linked clones per {@code volume@snapshot}. */
        final Map<String, List<String>> clonesOf = new HashMap<>();
        int chainLimit = 32;
        Instant clock = CREATED;
        /** How the next deletion's task ends: state and message. */
        TaskState deleteOutcome = TaskState.SUCCEEDED;
        String deleteMessage = "merged 65536 bytes";

        private Map<String, SnapshotInfo> of(VolumeRef ref) {
            return byVolume.computeIfAbsent(ref.toString(), k -> new LinkedHashMap<>());
        }

        SnapshotInfo find(VolumeRef ref, String name) {
            SnapshotInfo s = of(ref).get(name);
            if (s == null) {
                throw new StorageException(ErrorCode.SNAPSHOT_NOT_FOUND, "volume " + ref + " has no snapshot " + name);
            }
            return s;
        }

        @Override
        public SnapshotInfo create(VolumeRef ref, String name) {
            VolumeInfo v = volumes.info(ref);
            Names.check("snapshot", name);
            if (v.format().equals("raw")) {
                throw new StorageException(ErrorCode.UNSUPPORTED, "volume " + ref + " is raw, which has no snapshots");
            }
            Map<String, SnapshotInfo> m = of(ref);
            if (m.containsKey(name)) {
                throw new StorageException(ErrorCode.ALREADY_EXISTS, "snapshot " + name + " of volume " + ref
                        + " already exists");
            }
            List<SnapshotInfo> path = m.values().stream().filter(SnapshotInfo::current).collect(Collectors.toList());
            int images = path.size() + 2;
            if (images > chainLimit) {
                throw new StorageException(ErrorCode.CHAIN_TOO_LONG, "volume " + ref + " would have a chain of "
                        + images + " images; the limit is " + chainLimit);
            }
            String parent = path.isEmpty() ? "" : path.get(path.size() - 1).name();
            clock = clock.plus(Duration.ofMinutes(1));
            SnapshotInfo s = new SnapshotInfo(ref, name, parent, v.name() + "." + name + extension(v.format()), clock,
                    v.allocated(), true);
            m.put(name, s);
            volumes.put(new VolumeInfo(v.datastore(), v.name(), v.format(), v.provisioning(), v.virtualSize(), 4096,
                    v.file(), v.path(), v.state(), v.created()));
            return s;
        }

        @Override
        public List<SnapshotInfo> list(VolumeRef ref) {
            volumes.info(ref);
            return List.copyOf(of(ref).values());
        }

        @Override
        public void revert(VolumeRef ref, String snapshot) {
            VolumeInfo v = volumes.info(ref);
            SnapshotInfo target = find(ref, snapshot);
            if (v.state() == VolumeState.IN_USE) {
                throw new StorageException(ErrorCode.VOLUME_IN_USE, "volume " + ref + " is open (1 writer)");
            }
            Map<String, SnapshotInfo> m = of(ref);
            Set<String> onPath = new HashSet<>();
            for (SnapshotInfo s = target; s != null; s = m.get(s.parent())) {
                onPath.add(s.name());
            }
            m.replaceAll((n, s) -> new SnapshotInfo(s.volume(), s.name(), s.parent(), s.file(), s.created(),
                    s.allocated(), onPath.contains(n)));
        }

        @Override
        public TaskInfo delete(VolumeRef ref, String snapshot) {
            volumes.info(ref);
            SnapshotInfo s = find(ref, snapshot);
            List<String> clones = clonesOf.getOrDefault(ref + "@" + snapshot, List.of());
            if (!clones.isEmpty()) {
                throw new StorageException(ErrorCode.VOLUME_IN_USE, "snapshot " + snapshot + " of " + ref
                        + " is the base of linked clones " + String.join(", ", clones));
            }
            TaskInfo t = tasks.start("snapshot-delete", ref + "@" + snapshot);
            tasks.then(t, 0.5, TaskState.RUNNING, "");
            tasks.then(t, 1.0, deleteOutcome, deleteMessage);
            if (deleteOutcome == TaskState.SUCCEEDED) {
                tasks.onSuccess.put(t.id(), () -> {
                    Map<String, SnapshotInfo> m = of(ref);
                    m.remove(snapshot);
                    m.replaceAll((n, c) -> c.parent().equals(snapshot) ? new SnapshotInfo(c.volume(), c.name(),
                            s.parent(), c.file(), c.created(), c.allocated(), c.current()) : c);
                });
            }
            return t;
        }
    }

    /**
     * Tasks with scripted progress: each {@link #await} reports the next scripted
     * state of the task, then the last one again.
     */
    final class Tasks implements TaskService {
        final Map<String, TaskInfo> map = new LinkedHashMap<>();
        final Map<String, Deque<TaskInfo>> upcoming = new HashMap<>();
        final Map<String, Runnable> onSuccess = new HashMap<>();
        final List<Duration> awaited = new ArrayList<>();
        private int next = 1;

        TaskInfo start(String kind, String target) {
            TaskInfo t = new TaskInfo("t" + next++, kind, target, TaskState.RUNNING, 0.0, "", snapshots.clock, null);
            map.put(t.id(), t);
            return t;
        }

        void then(TaskInfo t, double progress, TaskState state, String message) {
            boolean done = state != TaskState.RUNNING && state != TaskState.QUEUED;
            upcoming.computeIfAbsent(t.id(), k -> new ArrayDeque<>()).add(new TaskInfo(t.id(), t.kind(), t.target(),
                    state, progress, message, t.started(), done ? t.started().plusSeconds(30) : null));
        }

        @Override
        public List<TaskInfo> list() {
            List<TaskInfo> l = new ArrayList<>(map.values());
            java.util.Collections.reverse(l);
            return l;
        }

        @Override
        public TaskInfo get(String id) {
            TaskInfo t = map.get(id);
            if (t == null) {
                throw new StorageException(ErrorCode.TASK_NOT_FOUND, "no task '" + id + "'");
            }
            return t;
        }

        @Override
        public TaskInfo await(String id, Duration timeout) {
            awaited.add(timeout);
            get(id);
            Deque<TaskInfo> q = upcoming.getOrDefault(id, new ArrayDeque<>());
            if (!q.isEmpty()) {
                TaskInfo t = q.poll();
                map.put(id, t);
                if (t.state() == TaskState.SUCCEEDED && onSuccess.containsKey(id)) {
                    onSuccess.remove(id).run();
                }
            }
            return map.get(id);
        }

        @Override
        public TaskInfo cancel(String id) {
            TaskInfo t = get(id);
            if (!t.done()) {
                upcoming.put(id, new ArrayDeque<>(List.of(new TaskInfo(id, t.kind(), t.target(), TaskState.CANCELLED,
                        t.progress(), "", t.started(), t.started().plusSeconds(5)))));
            }
            return t;
        }
    }
}

package io.strata.shell.internal;

import io.strata.api.Capability;
import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.device.DeviceInfo;
import io.strata.api.device.DeviceKind;
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
import io.strata.api.service.VolumeInfo;
import io.strata.api.service.VolumeRef;
import io.strata.api.service.VolumeService;
import io.strata.api.service.VolumeState;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Collectors;

/**
 * Hand-written fakes of the three services, holding a small host: a local
 * resource with one directory device, the {@code local} datastore and two
 * volumes. They throw the errors the service contracts promise, with
 * messages in the style the core uses.
 */
final class Fakes {
    static final Instant CREATED = Instant.parse("2026-11-21T10:00:00Z");

    final Resources resources = new Resources();
    final Datastores datastores = new Datastores();
    final Volumes volumes = new Volumes();

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
            if (!format.equals("vhd") && !format.equals("raw")) {
                throw new StorageException(ErrorCode.FORMAT_NOT_FOUND, "no disk format of type " + format
                        + " is installed");
            }
            if (provisioning != Provisioning.THIN && virtualSize > d.free()) {
                throw new StorageException(ErrorCode.DATASTORE_FULL, "datastore " + d.name() + " has "
                        + d.free() + " bytes free, volume " + ref + " needs " + virtualSize);
            }
            String file = ref.volume() + (format.equals("vhd") ? ".vhd" : ".img");
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
    }
}

package io.strata.fs.ext4.internal;

import io.strata.api.Capability;
import io.strata.api.ErrorCode;
import io.strata.api.Names;
import io.strata.api.StorageException;
import io.strata.api.device.BlockDevice;
import io.strata.api.device.DeviceKind;
import io.strata.api.device.StorageDevice;
import io.strata.api.fs.Datastore;
import io.strata.api.fs.DatastoreFilesystem;
import io.strata.posix.Errno;
import io.strata.posix.LocalDirectoryDatastore;
import io.strata.posix.Posix;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.BooleanSupplier;
import java.util.regex.Pattern;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.Designate;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/**
 * The {@code ext4} layer: formats a block device or file-backed LUN with
 * mkfs.ext4 and mounts it (through a loop device for a file) under the mount
 * root, one directory per datastore. The datastore's {@link Datastore#close()}
 * unmounts and detaches the loop device, so nothing stays attached when the
 * bundle goes away; mounting again after a restart is idempotent.
 *
 * <p>The filesystem records the {@link BlockDevice#identity() identity} of its device in
 * {@value DeviceRecord#FILE} in its root ({@link DeviceRecord}): written by mkfs when
 * formatting, checked read-only with debugfs before every mount (a device with another
 * identity is refused with {@code DEVICE_UNAVAILABLE}, nothing written), checked again
 * once mounted, and written then when a filesystem made before has none (adoption).
 */
@Component(service = DatastoreFilesystem.class, property = DatastoreFilesystem.TYPE_PROPERTY + "=" + Ext4Filesystem.TYPE,
        configurationPid = Ext4Filesystem.PID)
@Designate(ocd = Ext4Filesystem.Config.class)
public final class Ext4Filesystem implements DatastoreFilesystem {
    static final String TYPE = "ext4";
    static final String PID = "io.strata.fs.ext4";

    private static final Duration MKFS_TIMEOUT = Duration.ofMinutes(30);
    private static final Duration TOOL_TIMEOUT = Duration.ofMinutes(2);
    private static final Pattern LABEL = Pattern.compile("[A-Za-z0-9._-]{1,16}");
    private static final System.Logger LOG = System.getLogger(Ext4Filesystem.class.getName());

    /** Configuration, PID {@value #PID}. */
    @ObjectClassDefinition(name = "Strata ext4 filesystem layer",
            description = "Where ext4 datastores are mounted")
    public @interface Config {
        /** @return the mount root; property {@code mount.root} */
        @AttributeDefinition(name = "Mount root", description = "Directory holding one mount point per ext4 "
                + "datastore; empty means ${karaf.data}/strata/mounts")
        String mount_root() default "";
    }

    private final Path mountRoot;
    private final Tools tools;
    private final BooleanSupplier isRoot;
    private final Path mountinfo;
    /** Open handles per mount point: the last one closed unmounts. */
    private final Map<Path, Integer> handles = new HashMap<>();
    private final List<Datastore> open = new ArrayList<>();

    /**
     * @param config the configuration
     */
    @Activate
    public Ext4Filesystem(Config config) {
        this(mountRoot(config.mount_root()), new Tools(), Posix::isRoot, Path.of("/proc/self/mountinfo"));
    }

    Ext4Filesystem(Path mountRoot, Tools tools, BooleanSupplier isRoot, Path mountinfo) {
        this.mountRoot = mountRoot.toAbsolutePath().normalize();
        this.tools = tools;
        this.isRoot = isRoot;
        this.mountinfo = mountinfo;
    }

    static Path mountRoot(String configured) {
        if (configured != null && !configured.isBlank()) {
            return Path.of(configured.trim());
        }
        String data = System.getProperty("karaf.data");
        if (data == null || data.isBlank()) {
            data = System.getProperty("java.io.tmpdir");
        }
        return Path.of(data, "strata", "mounts");
    }

    /** @return where datastores are mounted */
    Path mountRoot() {
        return mountRoot;
    }

    @Override
    public String type() {
        return TYPE;
    }

    @Override
    public String description() {
        return "ext4 on a local disk or file-backed LUN (mkfs.ext4, loop device, mount); needs root";
    }

    @Override
    public Set<Capability> capabilities() {
        return Collections.unmodifiableSet(EnumSet.of(Capability.FORMAT, Capability.SPARSE_FILES,
                Capability.PREALLOCATE, Capability.PUNCH_HOLE, Capability.FILE_LOCKS, Capability.LOCAL_PATHS));
    }

    @Override
    public DeviceKind deviceKind() {
        return DeviceKind.BLOCK;
    }

    private static Path devicePath(StorageDevice device, String action) {
        if (!(device instanceof BlockDevice) || device.localPath().isEmpty()) {
            throw new StorageException(ErrorCode.INVALID_ARGUMENT, "cannot " + action + " ext4 on "
                    + device.info().ref() + ": it is not a local block device or file-backed LUN");
        }
        return device.localPath().get();
    }

    private void requireRoot(String action) {
        if (!isRoot.getAsBoolean()) {
            throw new StorageException(ErrorCode.PERMISSION_DENIED, action + " ext4 needs root");
        }
    }

    @Override
    public void format(StorageDevice device, Map<String, String> options, boolean force) {
        Path path = devicePath(device, "format");
        Map<String, String> opts = options == null ? Map.of() : options;
        for (String k : opts.keySet()) {
            if (!k.equals("label")) {
                throw new StorageException(ErrorCode.INVALID_ARGUMENT, "ext4 format of " + device.info().ref()
                        + ": unknown option '" + Names.printable(k) + "' (known: label)");
            }
        }
        String label = opts.get("label");
        if (label != null && !LABEL.matcher(label).matches()) {
            throw new StorageException(ErrorCode.INVALID_ARGUMENT, "ext4 format of " + device.info().ref()
                    + ": option 'label' must be 1 to 16 of [A-Za-z0-9._-]");
        }
        requireRoot("formatting");
        synchronized (this) {
            List<MountTable.Mount> mounts = MountTable.read(mountinfo);
            for (String source : sourcesOf(path)) {
                List<MountTable.Mount> in = MountTable.of(mounts, source, majorMinor(source));
                if (!in.isEmpty()) {
                    throw new StorageException(ErrorCode.VOLUME_IN_USE, "device " + device.info().ref() + " is mounted at "
                            + in.get(0).mountPoint() + "; unmount it (remove its datastore) before formatting");
                }
            }
            String found = probe(path);
            if (found != null && !force) {
                throw new StorageException(ErrorCode.DEVICE_HAS_FILESYSTEM, "device " + device.info().ref() + " ("
                        + path + ") already holds " + found + "; format with force to overwrite it");
            }
            List<String> args = new ArrayList<>(List.of("-q", "-F"));
            if (label != null) {
                args.add("-L");
                args.add(label);
            }
            // the record of the device goes in with mkfs itself: no mount needed to write it
            Optional<String> identity = DeviceRecord.identityOf(device);
            Path staged = identity.map(id -> DeviceRecord.stage(id, device.info().ref())).orElse(null);
            if (staged != null) {
                args.add("-d");
                args.add(staged.toString());
            } else {
                LOG.log(System.Logger.Level.WARNING, "device " + device.info().ref() + " reports no identity: the ext4 "
                        + "filesystem made on it cannot tell later whether it is mounted from the same device");
            }
            args.add(path.toString());
            try {
                tools.require(MKFS_TIMEOUT, "formatting " + device.info().ref() + " with ext4", "mkfs.ext4",
                        args.toArray(String[]::new));
            } finally {
                DeviceRecord.delete(staged);
            }
        }
    }

    /**
     * Reads the device record of an unmounted ext4 filesystem with debugfs, read-only: the
     * device is not written, not even the superblock a mount would update.
     *
     * @return the record's text, or empty when the filesystem has none
     */
    Optional<String> readRecord(String source) {
        Tools.Result r = tools.run(TOOL_TIMEOUT, "debugfs", "-R", "cat /" + DeviceRecord.FILE, source);
        if (r.exit() == 0 && !r.out().isBlank()) {
            return Optional.of(r.out());
        }
        if (r.exit() == 0 && r.err().contains("File not found by ext2_lookup")) {
            return Optional.empty();
        }
        // not the answer of a filesystem that simply has no record: refuse rather than guess
        throw new StorageException(ErrorCode.EXTERNAL_TOOL_FAILED, "reading the device record of " + source
                + ": debugfs exited with " + r.exit() + ": " + r.message());
    }

    /**
     * Refuses a device whose identity is not the one the filesystem recorded.
     *
     * @param record the record's text, if the filesystem has one
     * @param written false before mounting (then nothing has been written), true after
     */
    private static void compare(String datastoreName, StorageDevice device, String identity, Optional<String> record,
            boolean written, String source) {
        if (record.isEmpty()) {
            return;
        }
        Optional<String> recorded = DeviceRecord.identityIn(record.get());
        if (recorded.isEmpty() || recorded.get().equals(identity)) {
            return;
        }
        throw new StorageException(ErrorCode.DEVICE_UNAVAILABLE, "datastore " + datastoreName + ": device "
                + device.info().ref() + " (identity " + identity + ") is not the device this ext4 filesystem was made on"
                + " (identity " + recorded.get() + ", recorded for " + DeviceRecord.deviceIn(record.get()) + " in /"
                + DeviceRecord.FILE + "); refusing to mount it" + (written ? " (it was unmounted again)"
                        : ", nothing was written")
                + ". If the filesystem was copied or moved to this device on purpose, remove the record (debugfs -w -R 'rm /"
                + DeviceRecord.FILE + "' " + source + ") and mount again: the filesystem is then adopted");
    }

    /** After mounting: checks the record (a crash may have left it in the journal only), or adopts the filesystem. */
    private static void verifyOrAdopt(String datastoreName, StorageDevice device, Path mountPoint, String source) {
        Optional<String> identity = DeviceRecord.identityOf(device);
        Optional<String> record = DeviceRecord.read(mountPoint);
        if (identity.isEmpty()) {
            if (record.isPresent()) {
                LOG.log(System.Logger.Level.WARNING, "datastore " + datastoreName + ": device " + device.info().ref()
                        + " reports no identity, so it cannot be checked against the one recorded in the filesystem ("
                        + DeviceRecord.identityIn(record.get()).orElse("none") + ")");
            }
            return;
        }
        compare(datastoreName, device, identity.get(), record, true, source);
        if (record.isEmpty() || DeviceRecord.identityIn(record.get()).isEmpty()) {
            DeviceRecord.write(mountPoint, identity.get(), device.info().ref());
            LOG.log(System.Logger.Level.INFO, "datastore " + datastoreName + ": the ext4 filesystem on " + device.info().ref()
                    + " had no device record; it now records identity " + identity.get());
        }
    }

    /**
     * Low-level probe with blkid (no cache): exit 0 found something, 2 found nothing,
     * 8 found several ambivalent signatures.
     *
     * @return a description of what the device holds ("an ext4 filesystem",
     *         "a gpt partition table"), or null when it holds nothing recognisable
     */
    String probe(Path path) {
        Tools.Result r = tools.run(TOOL_TIMEOUT, "blkid", "-p", "-o", "export", path.toString());
        switch (r.exit()) {
            case 0: {
                Map<String, String> tags = tags(r.out());
                if (tags.containsKey("TYPE")) {
                    return article(tags.get("TYPE")) + " filesystem";
                }
                if (tags.containsKey("PTTYPE")) {
                    return article(tags.get("PTTYPE")) + " partition table";
                }
                return "a signature blkid recognises (" + r.out().strip().replace('\n', ' ') + ")";
            }
            case 2:
                return null;
            case 8:
                return "several ambivalent signatures (see wipefs -n " + path + ")";
            default:
                throw new StorageException(ErrorCode.EXTERNAL_TOOL_FAILED,
                        "probing " + path + ": blkid exited with " + r.exit() + ": " + r.message());
        }
    }

    /** @return the filesystem type blkid finds, or null */
    private String fsType(Path path) {
        Tools.Result r = tools.run(TOOL_TIMEOUT, "blkid", "-p", "-o", "export", path.toString());
        if (r.exit() == 0) {
            return tags(r.out()).get("TYPE");
        }
        if (r.exit() == 2 || r.exit() == 8) {
            return null;
        }
        throw new StorageException(ErrorCode.EXTERNAL_TOOL_FAILED,
                "probing " + path + ": blkid exited with " + r.exit() + ": " + r.message());
    }

    private static String article(String word) {
        return ("aeiou".indexOf(Character.toLowerCase(word.charAt(0))) >= 0 ? "an " : "a ") + word;
    }

    private static Map<String, String> tags(String export) {
        Map<String, String> m = new LinkedHashMap<>();
        for (String line : export.split("\n")) {
            int eq = line.indexOf('=');
            if (eq > 0) {
                m.put(line.substring(0, eq), line.substring(eq + 1));
            }
        }
        return m;
    }

    /** @return the device nodes through which the path may be mounted: its loop devices for a file, itself otherwise */
    private List<String> sourcesOf(Path path) {
        if (Files.isRegularFile(path)) {
            return loopsOf(path);
        }
        try {
            return List.of(path.toRealPath().toString());
        } catch (IOException e) {
            return List.of(path.toString());
        }
    }

    /** @return the loop devices backed by this file ({@code losetup -j}) */
    List<String> loopsOf(Path file) {
        Tools.Result r = tools.require(TOOL_TIMEOUT, "looking for loop devices of " + file, "losetup", "-j", file.toString());
        List<String> loops = new ArrayList<>();
        for (String line : r.out().split("\n")) {
            int colon = line.indexOf(':');
            if (line.startsWith("/dev/") && colon > 0) {
                loops.add(line.substring(0, colon));
            }
        }
        return loops;
    }

    /** @return "major:minor" of a device node from sysfs, or null */
    private static String majorMinor(String node) {
        try {
            return Files.readString(Path.of("/sys/class/block", Path.of(node).getFileName().toString(), "dev")).trim();
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    @Override
    public Datastore mount(String datastoreName, StorageDevice device, Map<String, String> options) {
        Names.check("datastore", datastoreName);
        Path path = devicePath(device, "mount");
        if (options != null && !options.isEmpty()) {
            throw new StorageException(ErrorCode.INVALID_ARGUMENT, "datastore " + datastoreName
                    + ": the ext4 layer takes no mount options, got " + options.keySet());
        }
        requireRoot("mounting");
        synchronized (this) {
            Path mountPoint = mountRoot.resolve(datastoreName);
            try {
                Files.createDirectories(mountPoint);
                mountPoint = mountPoint.toRealPath(); // mountinfo shows canonical paths
            } catch (IOException e) {
                throw Errno.exception(e, "create mount point", mountPoint);
            }
            boolean isFile = Files.isRegularFile(path);
            if (!isFile && !Files.exists(path)) {
                throw new StorageException(ErrorCode.DEVICE_UNAVAILABLE,
                        "datastore " + datastoreName + ": " + path + " does not exist");
            }
            List<MountTable.Mount> mounts = MountTable.read(mountinfo);
            List<String> sources = sourcesOf(path);
            var current = MountTable.at(mounts, mountPoint);
            String source;
            if (current.isPresent()) {
                source = current.get().source();
                String mm = current.get().majorMinor();
                boolean ours = sources.contains(source) || sources.stream().anyMatch(x -> mm.equals(majorMinor(x)));
                if (!ours) {
                    throw new StorageException(ErrorCode.DEVICE_UNAVAILABLE, "datastore " + datastoreName
                            + ": mount point " + mountPoint + " is already used by " + source);
                }
                LOG.log(System.Logger.Level.INFO, "datastore " + datastoreName + " is already mounted at " + mountPoint);
                verifyOrAdopt(datastoreName, device, mountPoint, source);
            } else {
                for (String s : sources) {
                    List<MountTable.Mount> elsewhere = MountTable.of(mounts, s, majorMinor(s));
                    if (!elsewhere.isEmpty()) {
                        throw new StorageException(ErrorCode.VOLUME_IN_USE, "datastore " + datastoreName + ": device "
                                + device.info().ref() + " is already mounted at " + elsewhere.get(0).mountPoint());
                    }
                }
                if (isFile) {
                    if (!sources.isEmpty()) {
                        source = sources.get(0);
                    } else {
                        source = tools.require(TOOL_TIMEOUT, "attaching a loop device to " + path, "losetup",
                                "--find", "--show", path.toString()).out().strip();
                    }
                } else {
                    source = sources.get(0);
                }
                boolean mounted = false;
                try {
                    String type = fsType(Path.of(source));
                    if (!TYPE.equals(type)) {
                        throw new StorageException(ErrorCode.CORRUPT_IMAGE, "datastore " + datastoreName + ": device "
                                + device.info().ref() + " holds " + (type == null ? "no filesystem" : article(type) + " filesystem")
                                + ", not ext4; format it first");
                    }
                    Optional<String> identity = DeviceRecord.identityOf(device);
                    if (identity.isPresent()) {
                        // before mounting, which writes to the device even when nothing else does
                        compare(datastoreName, device, identity.get(), readRecord(source), false, source);
                    }
                    tools.require(TOOL_TIMEOUT, "mounting datastore " + datastoreName, "mount", "-t", TYPE,
                            source, mountPoint.toString());
                    mounted = true;
                    verifyOrAdopt(datastoreName, device, mountPoint, source);
                } catch (RuntimeException e) {
                    if (mounted) {
                        unmount(mountPoint, isFile ? source : null, path);
                    } else if (isFile) {
                        detach(source, path); // attached now, or a stale loop nobody mounts
                    }
                    throw e;
                }
            }
            Path mp = mountPoint;
            String src = source;
            Datastore[] self = new Datastore[1];
            LocalDirectoryDatastore ds;
            try {
                ds = new LocalDirectoryDatastore(datastoreName, TYPE, mp, () -> release(self[0], mp, isFile ? src : null, path));
            } catch (RuntimeException e) {
                if (handles.getOrDefault(mp, 0) == 0) {
                    unmount(mp, isFile ? src : null, path);
                }
                throw e;
            }
            self[0] = ds;
            handles.merge(mp, 1, Integer::sum);
            open.add(ds);
            return ds;
        }
    }

    private synchronized void release(Datastore ds, Path mountPoint, String loop, Path file) {
        open.remove(ds);
        int left = handles.merge(mountPoint, -1, Integer::sum);
        if (left > 0) {
            return;
        }
        handles.remove(mountPoint);
        unmount(mountPoint, loop, file);
    }

    private void unmount(Path mountPoint, String loop, Path file) {
        if (MountTable.at(MountTable.read(mountinfo), mountPoint).isPresent()) {
            Tools.Result r = tools.run(TOOL_TIMEOUT, "umount", mountPoint.toString());
            if (r.exit() != 0) {
                // something outside Strata still uses it; detach it from the tree now, the kernel
                // finishes when the last user goes, and the loop device then frees itself (autoclear)
                LOG.log(System.Logger.Level.WARNING, "umount " + mountPoint + " failed (" + r.message()
                        + "); unmounting lazily");
                Tools.Result lazy = tools.run(TOOL_TIMEOUT, "umount", "-l", mountPoint.toString());
                if (lazy.exit() != 0) {
                    LOG.log(System.Logger.Level.ERROR, "cannot unmount " + mountPoint + ": " + lazy.message());
                    return;
                }
            }
        }
        try {
            Files.deleteIfExists(mountPoint); // an empty directory: nothing can be written to the root fs by mistake
        } catch (IOException e) {
            LOG.log(System.Logger.Level.DEBUG, "mount point " + mountPoint + " kept: " + e);
        }
        if (loop != null) {
            detach(loop, file);
        }
    }

    private void detach(String loop, Path file) {
        // the number may have been freed and reused by someone else since: detach only our own
        if (!loopsOf(file).contains(loop)) {
            return;
        }
        Tools.Result r = tools.run(TOOL_TIMEOUT, "losetup", "-d", loop);
        if (r.exit() != 0) {
            LOG.log(System.Logger.Level.WARNING, "cannot detach " + loop + ": " + r.message());
        }
    }

    /** Releases every device this component mounted, so an uninstalled bundle leaves nothing attached. */
    @Deactivate
    void deactivate() {
        List<Datastore> all;
        synchronized (this) {
            all = List.copyOf(open);
        }
        for (Datastore ds : all) {
            ds.close();
        }
    }
}

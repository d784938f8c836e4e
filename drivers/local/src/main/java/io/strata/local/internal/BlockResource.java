package io.strata.local.internal;

import io.strata.api.ErrorCode;
import io.strata.api.Names;
import io.strata.api.StorageException;
import io.strata.api.device.DeviceInfo;
import io.strata.api.device.DeviceKind;
import io.strata.api.device.StorageDevice;
import io.strata.posix.Posix;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * kind=block: the host's whole disks, discovered in /sys/block at every
 * {@link #devices()} call. A disk is addressed by its stable /dev/disk/by-id name
 * ({@code wwn-0x5000c500a1b2c3d4}), or by its kernel name ({@code vdb}) when udev made
 * no by-id link for it; its identity comes from sysfs (see {@link #identity}).
 */
final class BlockResource extends LocalResource {
    static final Set<String> PARAMETERS = Set.of("kind", "devices", "direct", "io.timeout.ms");
    /** Kernel names of virtual or removable-media devices, left out unless named in {@code devices}. */
    static final Pattern VIRTUAL = Pattern.compile("(loop|ram|zram|dm-|nbd|sr|fd|md)\\d*.*");
    /** A kernel name (sdb, loop3) or a /dev/disk/by-id name (wwn-0x5000c5, nvme-eui.0025, usb-X_Y-0:0). */
    private static final Pattern DEVICE_NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.:+-]*");
    /** by-id links of partitions, and links named after what a disk holds rather than the disk. */
    private static final Pattern NOT_A_DISK_LINK = Pattern.compile(".*-part\\d+|(lvm-pv-uuid|dm|md|bcache)-.*");
    private static final System.Logger LOG = System.getLogger(BlockResource.class.getName());

    private final Path sysBlock;
    private final Path dev;
    private final Set<String> only;
    private final IoOptions io;

    /** A discovered disk: its kernel name, its by-id name if any, and its description. */
    record Disk(String kernelName, String byId, DeviceInfo info) {
    }

    BlockResource(String name, Map<String, String> parameters, Path sysBlock, Path dev) {
        super(name, parameters);
        Params p = new Params(name, parameters);
        p.allowOnly("block", PARAMETERS);
        this.sysBlock = sysBlock;
        this.dev = dev;
        this.io = p.io();
        String list = p.get("devices");
        if (list == null) {
            only = null;
        } else {
            only = new LinkedHashSet<>();
            for (String n : list.split(",")) {
                String k = n.trim();
                if (!DEVICE_NAME.matcher(k).matches() || k.length() > 128) {
                    throw p.invalid("devices", "holds '" + Names.printable(k)
                            + "', which is neither a kernel device name such as sdb or loop3 nor a /dev/disk/by-id name");
                }
                only.add(k);
            }
        }
        if (!Files.isDirectory(sysBlock)) {
            throw new StorageException(ErrorCode.DEVICE_UNAVAILABLE,
                    "resource " + name + ": " + sysBlock + " is missing; is sysfs mounted?");
        }
    }

    @Override
    public List<DeviceInfo> devices() {
        return discover().stream().map(Disk::info).toList();
    }

    List<Disk> discover() {
        Map<String, String> byId = byIdNames(dev.resolve("disk/by-id"));
        List<Disk> result = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(sysBlock)) {
            for (Path p : ds) {
                String k = p.getFileName().toString();
                String link = byId.get(k);
                boolean wanted = only != null ? only.contains(k) || (link != null && only.contains(link))
                        : !VIRTUAL.matcher(k).matches();
                if (!wanted) {
                    continue;
                }
                long sectors = readLong(p.resolve("size"));
                if (sectors <= 0) {
                    continue; // no medium, or an unbound loop/nbd device
                }
                long lbs = readLong(p.resolve("queue/logical_block_size"));
                int sectorSize = lbs > 0 ? (int) lbs : 512;
                String id = link != null ? link : k;
                result.add(new Disk(k, link, new DeviceInfo(name(), id, DeviceKind.BLOCK, sectors * 512, sectorSize,
                        describe(p, k, link), identity(p, link))));
            }
        } catch (IOException e) {
            throw new StorageException(ErrorCode.DEVICE_UNAVAILABLE,
                    "resource " + name() + ": cannot list " + sysBlock + ": " + e.getMessage(), e);
        }
        result.sort(Comparator.comparing(d -> d.info().id()));
        return result;
    }

    /**
     * @return kernel name to the by-id name that addresses it: several links usually name one
     *         disk, and the one made of the disk's world-wide name is preferred, see {@link #rank}
     */
    static Map<String, String> byIdNames(Path byIdDir) {
        Map<String, String> best = new HashMap<>();
        if (!Files.isDirectory(byIdDir)) {
            return best; // no udev (a container, an initramfs): kernel names only
        }
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(byIdDir)) {
            for (Path link : ds) {
                String n = link.getFileName().toString();
                if (NOT_A_DISK_LINK.matcher(n).matches() || !DEVICE_NAME.matcher(n).matches()
                        || !Files.isSymbolicLink(link)) {
                    continue;
                }
                Path target;
                try {
                    target = Files.readSymbolicLink(link).getFileName();
                } catch (IOException e) {
                    continue;
                }
                if (target == null) {
                    continue;
                }
                best.merge(target.toString(), n, (a, b) -> better(a, b) ? a : b);
            }
        } catch (IOException e) {
            LOG.log(System.Logger.Level.WARNING, "cannot list " + byIdDir + ": " + e.getMessage());
        }
        return best;
    }

    private static boolean better(String a, String b) {
        int ra = rank(a);
        int rb = rank(b);
        return ra != rb ? ra < rb : a.compareTo(b) <= 0;
    }

    /**
     * Which by-id link names a disk: the world-wide name ({@code wwn-}, {@code nvme-eui.},
     * {@code nvme-uuid.}, SCSI NAA {@code scsi-3}) before model-and-serial names ({@code ata-},
     * {@code nvme-}, {@code virtio-}, {@code scsi-}), before the rest ({@code usb-}, …);
     * alphabetical within a rank, so the choice is the same on every boot.
     */
    static int rank(String n) {
        if (n.startsWith("wwn-")) {
            return 0;
        }
        if (n.startsWith("nvme-eui.") || n.startsWith("nvme-uuid.") || n.startsWith("nvme-nvme.")) {
            return 1;
        }
        if (n.startsWith("scsi-3")) {
            return 2;
        }
        if (n.startsWith("ata-") || n.startsWith("nvme-") || n.startsWith("virtio-")) {
            return 3;
        }
        if (n.startsWith("scsi-")) {
            return 4;
        }
        return 5;
    }

    /**
     * The identity of a disk, from sysfs: {@code wwid:} its world-wide id
     * ({@code /sys/block/X/wwid} for NVMe, {@code device/wwid} for SCSI), else {@code serial:}
     * its serial number ({@code serial} for virtio, {@code device/serial}), else for a loop
     * device the identity of its backing file ({@code uuid:} of a file-backed LUN, or
     * {@code inode:<st_dev>:<st_ino>}), else {@code by-id:} its by-id name; "" when nothing is known.
     */
    static String identity(Path sys, String byIdName) {
        for (String f : List.of("wwid", "device/wwid")) {
            String v = clean(readString(sys.resolve(f)));
            if (!v.isEmpty()) {
                return "wwid:" + v;
            }
        }
        for (String f : List.of("serial", "device/serial")) {
            String v = clean(readString(sys.resolve(f)));
            if (!v.isEmpty()) {
                return "serial:" + v;
            }
        }
        String backing = readString(sys.resolve("loop/backing_file"));
        if (!backing.isEmpty() && !backing.endsWith("(deleted)")) {
            Path file = Path.of(backing);
            Optional<String> lun = LunIdentity.DEFAULT.read(file);
            if (lun.isPresent()) {
                return lun.get();
            }
            try {
                return "inode:" + Files.getAttribute(file, "unix:dev") + ":" + Files.getAttribute(file, "unix:ino");
            } catch (IOException | RuntimeException e) {
                // below
            }
        }
        return byIdName != null ? "by-id:" + byIdName : "";
    }

    /** Trims, collapses runs of blanks (t10 ids pad with spaces) and replaces anything unprintable. */
    static String clean(String s) {
        StringBuilder b = new StringBuilder();
        for (char c : s.strip().replaceAll("\\s+", " ").toCharArray()) {
            b.append(c >= 0x20 && c < 0x7f ? c : '_');
        }
        return b.toString();
    }

    private String describe(Path sys, String k, String byIdName) {
        StringBuilder b = new StringBuilder(byIdName != null
                ? dev.resolve("disk/by-id").resolve(byIdName) + " (" + k + ")" : dev.resolve(k).toString());
        String vendor = readString(sys.resolve("device/vendor"));
        if (vendor.startsWith("0x")) {
            vendor = ""; // virtio and NVMe give a PCI vendor id, which tells a user nothing
        }
        String model = readString(sys.resolve("device/model"));
        String text = (vendor + " " + model).trim();
        if (!text.isEmpty()) {
            b.append(' ').append(text);
        }
        if ("1".equals(readString(sys.resolve("ro")))) {
            b.append(" (read-only)");
        }
        return b.toString();
    }

    @Override
    public StorageDevice openDevice(String deviceId) {
        List<Disk> disks = discover();
        Disk disk = disks.stream().filter(d -> d.info().id().equals(deviceId)).findFirst().orElse(null);
        if (disk == null) {
            // a datastore configured before disks were addressed by-id names its disk by kernel name
            disk = disks.stream().filter(d -> d.kernelName().equals(deviceId)).findFirst().orElse(null);
            if (disk == null) {
                throw new StorageException(ErrorCode.DEVICE_NOT_FOUND,
                        "resource " + name() + " has no device '" + Names.printable(String.valueOf(deviceId)) + "'");
            }
            LOG.log(System.Logger.Level.INFO, "device " + name() + "/" + deviceId + " is addressed by its kernel name;"
                    + " its stable name is " + disk.info().ref());
        }
        DeviceInfo discovered = disk.info();
        Path node = disk.byId() != null ? dev.resolve("disk/by-id").resolve(disk.byId()) : dev.resolve(disk.kernelName());
        Path real;
        try {
            real = node.toRealPath(); // the ioctls open without following links
        } catch (IOException e) {
            throw new StorageException(ErrorCode.DEVICE_UNAVAILABLE,
                    "device " + discovered.ref() + ": " + node + " does not exist", e);
        }
        long size;
        int sectorSize;
        try {
            size = Posix.blockDeviceSize(real);
            sectorSize = Posix.logicalSectorSize(real);
        } catch (StorageException e) {
            if (e.code() == ErrorCode.PERMISSION_DENIED) {
                String why = Posix.isRoot() ? " is refused even to root (device cgroup or security policy)"
                        : " needs root";
                throw new StorageException(ErrorCode.PERMISSION_DENIED,
                        "opening block device " + node + why + " (" + e.getMessage() + ")", e);
            }
            if (e.code() == ErrorCode.FILE_NOT_FOUND) {
                throw new StorageException(ErrorCode.DEVICE_UNAVAILABLE,
                        "device " + discovered.ref() + ": " + node + " does not exist", e);
            }
            throw e;
        }
        DeviceInfo info = new DeviceInfo(name(), discovered.id(), DeviceKind.BLOCK, size, sectorSize,
                discovered.description(), discovered.identity());
        boolean ro = "1".equals(readString(sysBlock.resolve(disk.kernelName()).resolve("ro")));
        return LocalBlockDevice.open(info, node, ro, io);
    }

    private static String readString(Path p) {
        try {
            return Files.readString(p).trim();
        } catch (IOException | RuntimeException e) {
            return "";
        }
    }

    private static long readLong(Path p) {
        try {
            return Long.parseLong(readString(p));
        } catch (NumberFormatException e) {
            return -1;
        }
    }
}

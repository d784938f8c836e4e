package io.strata.local.internal;

import io.strata.api.ErrorCode;
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
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * kind=block: the host's whole disks, discovered in /sys/block at every
 * {@link #devices()} call; device id = kernel name (sda, vdb, nvme0n1).
 */
final class BlockResource extends LocalResource {
    static final Set<String> PARAMETERS = Set.of("kind", "devices");
    /** Kernel names of virtual or removable-media devices, left out unless named in {@code devices}. */
    static final Pattern VIRTUAL = Pattern.compile("(loop|ram|zram|dm-|nbd|sr|fd|md)\\d*.*");
    private static final Pattern KERNEL_NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_-]*");

    private final Path sysBlock;
    private final Path dev;
    private final Set<String> only;

    BlockResource(String name, Map<String, String> parameters, Path sysBlock, Path dev) {
        super(name, parameters);
        Params p = new Params(name, parameters);
        p.allowOnly("block", PARAMETERS);
        this.sysBlock = sysBlock;
        this.dev = dev;
        String list = p.get("devices");
        if (list == null) {
            only = null;
        } else {
            only = new LinkedHashSet<>();
            for (String n : list.split(",")) {
                String k = n.trim();
                if (!KERNEL_NAME.matcher(k).matches() || k.length() > 64) {
                    throw p.invalid("devices", "holds '" + io.strata.api.Names.printable(k)
                            + "', which is not a kernel device name such as sdb or loop3");
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
        List<DeviceInfo> result = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(sysBlock)) {
            for (Path p : ds) {
                String k = p.getFileName().toString();
                boolean wanted = only != null ? only.contains(k) : !VIRTUAL.matcher(k).matches();
                if (!wanted) {
                    continue;
                }
                long sectors = readLong(p.resolve("size"));
                if (sectors <= 0) {
                    continue; // no medium, or an unbound loop/nbd device
                }
                long lbs = readLong(p.resolve("queue/logical_block_size"));
                int sectorSize = lbs > 0 ? (int) lbs : 512;
                result.add(new DeviceInfo(name(), k, DeviceKind.BLOCK, sectors * 512, sectorSize, describe(p, k)));
            }
        } catch (IOException e) {
            throw new StorageException(ErrorCode.DEVICE_UNAVAILABLE,
                    "resource " + name() + ": cannot list " + sysBlock + ": " + e.getMessage(), e);
        }
        result.sort(Comparator.comparing(DeviceInfo::id));
        return result;
    }

    private String describe(Path sys, String k) {
        StringBuilder b = new StringBuilder(dev.resolve(k).toString());
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
        DeviceInfo discovered = find(deviceId);
        Path node = dev.resolve(deviceId);
        long size;
        int sectorSize;
        try {
            size = Posix.blockDeviceSize(node);
            sectorSize = Posix.logicalSectorSize(node);
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
        DeviceInfo info = new DeviceInfo(name(), deviceId, DeviceKind.BLOCK, size, sectorSize,
                discovered.description());
        boolean ro = "1".equals(readString(sysBlock.resolve(deviceId).resolve("ro")));
        return new ChannelBlockDevice(info, node, ro);
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

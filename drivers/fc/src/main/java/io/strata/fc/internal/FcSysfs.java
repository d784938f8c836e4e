package io.strata.fc.internal;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads the Fibre Channel view of a Linux host from sysfs, and asks the kernel to scan.
 *
 * <ul>
 * <li>HBA ports: {@code class/fc_host/hostN/} ({@code port_name}, {@code node_name},
 *     {@code port_state}, {@code speed}).</li>
 * <li>Remote ports: {@code class/fc_remote_ports/rport-H:C-N/} ({@code port_name},
 *     {@code node_name}, {@code port_state}, {@code roles}, {@code scsi_target_id}); only
 *     {@code FCP Target} ports lead to LUNs.</li>
 * <li>SCSI devices: {@code bus/scsi/devices/H:C:T:L}, a link to
 *     {@code devices/…/hostH/rport-H:C-N/targetH:C:T/H:C:T:L}, whose resolved path names
 *     the remote port; {@code type} 0 (direct access) only; {@code vendor}, {@code model},
 *     {@code vpd_pg83}, {@code wwid}, {@code state}; the disk in {@code block/sdX/}
 *     ({@code size} in 512-byte units, {@code queue/logical_block_size}). Without
 *     {@code bus/scsi/devices}, {@code class/scsi_disk/H:C:T:L/device} is followed instead.</li>
 * <li>The node of disk {@code sdX} is {@code <dev>/sdX}.</li>
 * </ul>
 * Nothing here is cached: every call reads sysfs again.
 */
final class FcSysfs {
    private static final System.Logger LOG = System.getLogger(FcSysfs.class.getName());
    private static final Pattern HOST = Pattern.compile("host(\\d{1,9})");
    private static final Pattern RPORT = Pattern.compile("rport-(\\d{1,9}):(\\d{1,9})-(\\d{1,9})");

    private final Path sysfs;
    private final Path dev;
    /** Paths already reported as unusable, so that each is logged once, not at every discovery. */
    private final Set<String> reported = new HashSet<>();

    /**
     * @param sysfs where sysfs is mounted, {@code /sys}
     * @param dev where device nodes are, {@code /dev}
     */
    FcSysfs(Path sysfs, Path dev) {
        this.sysfs = sysfs;
        this.dev = dev;
    }

    Path root() {
        return sysfs;
    }

    /**
     * What one discovery found.
     *
     * @param hosts the HBA ports looked at, by name
     * @param paths the usable paths to disks, sorted by address
     */
    record Discovery(List<FcHost> hosts, List<ScsiPath> paths) {
    }

    /**
     * @param hostFilter host names to look at ({@code host3}), empty for every FC host
     * @return the HBA ports, sorted by number
     * @throws StorageException {@code DEVICE_UNAVAILABLE} when the host has no FC HBA at all
     */
    List<FcHost> hosts(Set<String> hostFilter) {
        Path dir = sysfs.resolve("class/fc_host");
        if (!Files.isDirectory(dir)) {
            throw new StorageException(ErrorCode.DEVICE_UNAVAILABLE, "this host has no Fibre Channel HBA ("
                    + dir + " is missing: no FC driver loaded)");
        }
        List<FcHost> hosts = new ArrayList<>();
        for (Path h : list(dir)) {
            String name = h.getFileName().toString();
            Matcher m = HOST.matcher(name);
            if (!m.matches() || (!hostFilter.isEmpty() && !hostFilter.contains(name))) {
                continue;
            }
            hosts.add(new FcHost(name, Integer.parseInt(m.group(1)), h, read(h.resolve("port_name")).orElse("?"),
                    read(h.resolve("node_name")).orElse("?"), read(h.resolve("port_state")).orElse("Unknown"),
                    read(h.resolve("speed")).orElse("unknown")));
        }
        hosts.sort(Comparator.comparingInt(FcHost::number));
        return hosts;
    }

    /** @return the remote ports of these hosts, by name */
    TreeMap<String, RemotePort> remotePorts(Collection<FcHost> hosts) {
        Set<Integer> numbers = new HashSet<>();
        hosts.forEach(h -> numbers.add(h.number()));
        TreeMap<String, RemotePort> ports = new TreeMap<>();
        for (Path r : list(sysfs.resolve("class/fc_remote_ports"))) {
            String name = r.getFileName().toString();
            Matcher m = RPORT.matcher(name);
            if (!m.matches() || !numbers.contains(Integer.parseInt(m.group(1)))) {
                continue;
            }
            int target;
            try {
                target = Integer.parseInt(read(r.resolve("scsi_target_id")).orElse("-1"));
            } catch (NumberFormatException e) {
                target = -1;
            }
            ports.put(name, new RemotePort(name, Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2)), r,
                    read(r.resolve("port_name")).orElse("?"), read(r.resolve("node_name")).orElse("?"),
                    read(r.resolve("port_state")).orElse("Unknown"), read(r.resolve("roles")).orElse(""), target));
        }
        return ports;
    }

    /**
     * Finds every disk reachable through the chosen HBA ports.
     *
     * @param hostFilter host names to look at, empty for every FC host
     * @return the hosts and the paths
     */
    synchronized Discovery discover(Set<String> hostFilter) {
        List<FcHost> hosts = hosts(hostFilter);
        TreeMap<Integer, FcHost> byNumber = new TreeMap<>();
        hosts.forEach(h -> byNumber.put(h.number(), h));
        TreeMap<String, RemotePort> rports = remotePorts(hosts);
        List<ScsiPath> paths = new ArrayList<>();
        for (Device d : scsiDevices()) {
            FcHost host = byNumber.get(d.hctl.host());
            if (host != null) {
                path(d, host, rports).ifPresent(paths::add);
            }
        }
        paths.sort(Comparator.comparing(ScsiPath::hctl));
        return new Discovery(List.copyOf(hosts), List.copyOf(paths));
    }

    /** A SCSI device entry: its address and its directory through the link. */
    private record Device(Hctl hctl, Path dir) {
    }

    private List<Device> scsiDevices() {
        List<Device> found = new ArrayList<>();
        Path bus = sysfs.resolve("bus/scsi/devices");
        if (Files.isDirectory(bus)) {
            for (Path p : list(bus)) {
                Hctl.parse(p.getFileName().toString()).ifPresent(h -> found.add(new Device(h, p)));
            }
            return found;
        }
        for (Path p : list(sysfs.resolve("class/scsi_disk"))) {
            Hctl.parse(p.getFileName().toString()).ifPresent(h -> found.add(new Device(h, p.resolve("device"))));
        }
        return found;
    }

    private Optional<ScsiPath> path(Device d, FcHost host, TreeMap<String, RemotePort> rports) {
        Path dir = d.dir;
        String type = read(dir.resolve("type")).orElse("");
        if (!type.equals("0")) {
            return Optional.empty(); // not a direct-access disk: tape, changer, enclosure, array controller (0x0c)
        }
        RemotePort rport = remotePort(d, rports);
        if (rport == null || !rport.isTarget()) {
            return unusable(d, "no FC target port leads to it");
        }
        Optional<String> identity = identity(dir);
        if (identity.isEmpty()) {
            return unusable(d, "it reports no identity (no NAA, EUI-64 or T10 designator in vpd_pg83, no wwid)");
        }
        String block = blockName(dir);
        if (block == null) {
            return unusable(d, "no disk driver is bound to it (no block device)");
        }
        Path queue = dir.resolve("block").resolve(block);
        long sectors = number(read(queue.resolve("size")).orElse(""), -1);
        int sectorSize = (int) number(read(queue.resolve("queue/logical_block_size")).orElse(""), 512);
        if (sectors < 0 || sectorSize < 512 || Integer.bitCount(sectorSize) != 1) {
            return unusable(d, "its size or logical block size is unreadable in " + queue);
        }
        Path node = dev.resolve(block);
        if (!Files.exists(node)) {
            return unusable(d, "its node " + node + " is missing");
        }
        reported.remove(d.hctl.pathId());
        return Optional.of(new ScsiPath(d.hctl, dir, identity.get(), read(dir.resolve("vendor")).orElse(""),
                read(dir.resolve("model")).orElse(""), block, node, sectors * 512, sectorSize, host, rport));
    }

    private Optional<ScsiPath> unusable(Device d, String why) {
        if (reported.add(d.hctl.pathId())) {
            LOG.log(System.Logger.Level.INFO, "FC disk " + d.hctl + " is not offered: " + why);
        }
        return Optional.empty();
    }

    /** The rport the device sits under in the device tree, else the one bound to its target id. */
    private static RemotePort remotePort(Device d, TreeMap<String, RemotePort> rports) {
        try {
            for (Path part : d.dir.toRealPath()) {
                RemotePort r = rports.get(part.toString());
                if (r != null) {
                    return r;
                }
            }
        } catch (IOException e) {
            return null; // vanished meanwhile
        }
        for (RemotePort r : rports.values()) {
            if (r.host() == d.hctl.host() && r.channel() == d.hctl.channel() && r.targetId() == d.hctl.target()) {
                return r;
            }
        }
        return null;
    }

    private static Optional<String> identity(Path dir) {
        try {
            Optional<String> id = LunIdentity.fromVpd83(Files.readAllBytes(dir.resolve("vpd_pg83")));
            if (id.isPresent()) {
                return id;
            }
        } catch (IOException e) {
            // no page 0x83 from this device (or an old kernel): try wwid
        }
        return LunIdentity.fromWwid(read(dir.resolve("wwid")).orElse(null));
    }

    /** @return the disk's kernel name from {@code block/sdX}, or the old {@code block:sdX} link */
    private static String blockName(Path dir) {
        List<Path> entries = list(dir.resolve("block"));
        if (!entries.isEmpty()) {
            return entries.get(0).getFileName().toString();
        }
        for (Path p : list(dir)) {
            String n = p.getFileName().toString();
            if (n.startsWith("block:")) {
                return n.substring("block:".length());
            }
        }
        return null;
    }

    /**
     * Asks the kernel to look for new LUNs behind a host ({@code "- - -"} to
     * {@code class/scsi_host/hostN/scan}: every channel, target and LUN). Returns when the
     * kernel finished scanning.
     */
    void scan(FcHost host) {
        write(sysfs.resolve("class/scsi_host").resolve(host.name()).resolve("scan"), "- - -", "scan " + host.name());
    }

    /** Asks the kernel to read a device's size and identification again ({@code "1"} to its {@code rescan}). */
    void rescan(ScsiPath path) {
        write(path.deviceDir().resolve("rescan"), "1", "rescan SCSI device " + path.hctl());
    }

    private static void write(Path attribute, String value, String what) {
        try {
            // no CREATE: a missing attribute must never become a new file in sysfs
            Files.writeString(attribute, value, StandardCharsets.US_ASCII, StandardOpenOption.WRITE,
                    StandardOpenOption.TRUNCATE_EXISTING);
        } catch (NoSuchFileException e) {
            throw new StorageException(ErrorCode.DEVICE_UNAVAILABLE,
                    "cannot " + what + ": " + attribute + " is missing", e);
        } catch (AccessDeniedException e) {
            throw new StorageException(ErrorCode.PERMISSION_DENIED, "cannot " + what + ": writing " + attribute
                    + " needs root", e);
        } catch (IOException e) {
            throw new StorageException(ErrorCode.IO_ERROR, "cannot " + what + ": writing " + attribute + " failed: "
                    + e.getMessage(), e);
        }
    }

    /** @return a sysfs attribute's text without surrounding white space, empty when unreadable */
    static Optional<String> read(Path attribute) {
        try {
            return Optional.of(Files.readString(attribute, StandardCharsets.ISO_8859_1).strip());
        } catch (IOException | RuntimeException e) {
            return Optional.empty();
        }
    }

    private static long number(String s, long dflt) {
        try {
            return s.isEmpty() ? dflt : Long.parseLong(s);
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    /** @return a directory's entries sorted by name; empty when it is missing */
    private static List<Path> list(Path dir) {
        List<Path> out = new ArrayList<>();
        try (DirectoryStream<Path> s = Files.newDirectoryStream(dir)) {
            s.forEach(out::add);
        } catch (IOException e) {
            return List.of();
        }
        out.sort(Comparator.comparing(p -> p.getFileName().toString()));
        return out;
    }
}

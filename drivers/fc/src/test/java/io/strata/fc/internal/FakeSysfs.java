package io.strata.fc.internal;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.Map;
import java.util.stream.Stream;

/**
 * A fake sysfs and {@code /dev} in a test directory, laid out as Linux lays out a host with
 * Fibre Channel HBAs, as far as the driver reads it:
 *
 * <pre>
 * sys/devices/pci0000:00/0000:00:0N.0/hostH/
 *     fc_host/hostH/{port_name,node_name,port_state,speed,port_id}   (+ device -&gt; ../../../hostH)
 *     scsi_host/hostH/{scan,proc_name}
 *     rport-H:C-R/fc_remote_ports/rport-H:C-R/{port_name,node_name,port_state,roles,scsi_target_id}
 *     rport-H:C-R/targetH:C:T/H:C:T:L/{type,vendor,model,state,wwid,vpd_pg83,rescan,delete}
 *     rport-H:C-R/targetH:C:T/H:C:T:L/block/sdX/{size,dev,queue/logical_block_size,queue/discard_max_bytes}
 *     rport-H:C-R/targetH:C:T/H:C:T:L/scsi_disk/H:C:T:L/   (+ device -&gt; ../../../H:C:T:L)
 * sys/class/fc_host/hostH          -&gt; ../../devices/…/hostH/fc_host/hostH
 * sys/class/scsi_host/hostH        -&gt; ../../devices/…/hostH/scsi_host/hostH
 * sys/class/fc_remote_ports/rport-H:C-R -&gt; ../../devices/…/rport-H:C-R/fc_remote_ports/rport-H:C-R
 * sys/class/scsi_disk/H:C:T:L      -&gt; ../../devices/…/H:C:T:L/scsi_disk/H:C:T:L
 * sys/class/block/sdX, sys/block/sdX -&gt; …/H:C:T:L/block/sdX
 * sys/bus/scsi/devices/{hostH,targetH:C:T,H:C:T:L} -&gt; ../../../devices/…
 * dev/sdX                           a hard link to the LUN's backing file luns/NAME.img
 * </pre>
 * Every path to one LUN gets its own node, all hard links to the same backing file, so that
 * data written through one node is read through the others, and removing one node leaves the
 * others working, as with real disks.
 */
final class FakeSysfs {
    static final int MIB = 1 << 20;
    private final Path root;
    private final Path sys;
    private final Path dev;
    private final Map<Integer, Path> hostDirs = new HashMap<>();
    private final Map<String, Path> rportDirs = new HashMap<>();

    FakeSysfs(Path root) {
        this(root, root.resolve("dev"));
    }

    /** @param dev where nodes go; {@code /dev} for tests with real loop devices (then no node is made) */
    FakeSysfs(Path root, Path dev) {
        this.root = root;
        this.sys = root.resolve("sys");
        this.dev = dev;
        try {
            Files.createDirectories(sys.resolve("class/fc_host"));
            Files.createDirectories(sys.resolve("class/scsi_host"));
            Files.createDirectories(sys.resolve("class/fc_remote_ports"));
            Files.createDirectories(sys.resolve("class/scsi_disk"));
            Files.createDirectories(sys.resolve("class/block"));
            Files.createDirectories(sys.resolve("block"));
            Files.createDirectories(sys.resolve("bus/scsi/devices"));
            Files.createDirectories(dev);
            Files.createDirectories(root.resolve("luns"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    Path sys() {
        return sys;
    }

    Path dev() {
        return dev;
    }

    /** @return the attach parameters that point the driver at this tree */
    Map<String, String> params() {
        return Map.of("sysfs", sys.toString(), "dev", dev.toString());
    }

    /** Adds an FC HBA port {@code hostN}, {@code Online} unless told. */
    FakeSysfs addHost(int n, String portName) {
        Path h = sys.resolve("devices/pci0000:00/0000:00:0" + n + ".0/host" + n);
        hostDirs.put(n, h);
        Path fc = h.resolve("fc_host/host" + n);
        write(fc.resolve("port_name"), portName);
        write(fc.resolve("node_name"), portName.replaceFirst("^0x2", "0x1"));
        write(fc.resolve("port_state"), "Online");
        write(fc.resolve("speed"), "16 Gbit");
        write(fc.resolve("port_id"), "0x0" + n + "0100");
        link(fc.resolve("device"), h);
        Path sh = h.resolve("scsi_host/host" + n);
        write(sh.resolve("scan"), "");
        write(sh.resolve("proc_name"), "qla2xxx");
        link(sh.resolve("device"), h);
        link(sys.resolve("class/fc_host/host" + n), fc);
        link(sys.resolve("class/scsi_host/host" + n), sh);
        link(sys.resolve("bus/scsi/devices/host" + n), h);
        return this;
    }

    /** Adds a remote port {@code rport-H:C-R} bound to target id T, with the given roles. */
    FakeSysfs addRport(int host, int channel, int number, int target, String portName, String roles) {
        String name = "rport-" + host + ":" + channel + "-" + number;
        Path r = hostDirs.get(host).resolve(name);
        rportDirs.put(name, r);
        Path cls = r.resolve("fc_remote_ports/" + name);
        write(cls.resolve("port_name"), portName);
        write(cls.resolve("node_name"), portName.replaceFirst("^0x5", "0x4"));
        write(cls.resolve("port_state"), "Online");
        write(cls.resolve("roles"), roles);
        write(cls.resolve("scsi_target_id"), roles.contains("FCP Target") ? String.valueOf(target) : "-1");
        write(cls.resolve("dev_loss_tmo"), "30");
        link(cls.resolve("device"), r);
        link(sys.resolve("class/fc_remote_ports/" + name), cls);
        if (roles.contains("FCP Target")) {
            Path t = r.resolve("target" + host + ":" + channel + ":" + target);
            mkdirs(t);
            link(sys.resolve("bus/scsi/devices/target" + host + ":" + channel + ":" + target), t);
        }
        return this;
    }

    /** What one SCSI device shows. */
    static final class Lun {
        final String hctl;
        final String block;
        String lunName = "lun";
        int type;
        String vendor = "STRATA";
        String model = "FAKE-FC";
        String wwid;
        byte[] vpd83;
        long size = 4 * MIB;
        int sectorSize = 512;
        boolean makeNode = true;

        Lun(String hctl, String block) {
            this.hctl = hctl;
            this.block = block;
        }

        /** The backing file shared by every path with this name. */
        Lun backing(String name) {
            this.lunName = name;
            return this;
        }

        Lun type(int t) {
            this.type = t;
            return this;
        }

        Lun wwid(String w) {
            this.wwid = w;
            return this;
        }

        Lun vpd83(byte[] page) {
            this.vpd83 = page;
            return this;
        }

        Lun size(long bytes) {
            this.size = bytes;
            return this;
        }

        Lun existingNode() {
            this.makeNode = false;
            return this;
        }
    }

    static Lun lun(String hctl, String block) {
        return new Lun(hctl, block);
    }

    /** @return the directory of a SCSI device, {@code …/targetH:C:T/H:C:T:L} */
    Path deviceDir(String hctl) {
        return sys.resolve("bus/scsi/devices/" + hctl);
    }

    /** Adds a SCSI device under the rport bound to its target, its disk and its node. */
    FakeSysfs addLun(Lun l) {
        String[] a = l.hctl.split(":");
        String prefix = "rport-" + a[0] + ":" + a[1] + "-";
        Path rport = null;
        for (Map.Entry<String, Path> e : rportDirs.entrySet()) {
            if (e.getKey().startsWith(prefix)
                    && Files.isDirectory(e.getValue().resolve("target" + a[0] + ":" + a[1] + ":" + a[2]))) {
                rport = e.getValue();
            }
        }
        if (rport == null) {
            throw new IllegalStateException("no rport bound to target " + l.hctl);
        }
        Path d = rport.resolve("target" + a[0] + ":" + a[1] + ":" + a[2]).resolve(l.hctl);
        write(d.resolve("type"), String.valueOf(l.type));
        write(d.resolve("vendor"), String.format("%-8s", l.vendor));
        write(d.resolve("model"), String.format("%-16s", l.model));
        write(d.resolve("rev"), "0001");
        write(d.resolve("state"), "running");
        write(d.resolve("rescan"), "");
        write(d.resolve("delete"), "");
        if (l.wwid != null) {
            write(d.resolve("wwid"), l.wwid);
        }
        if (l.vpd83 != null) {
            writeBytes(d.resolve("vpd_pg83"), l.vpd83);
        }
        link(sys.resolve("bus/scsi/devices/" + l.hctl), d);
        if (l.type != 0) {
            return this; // no disk driver for other types (sg only)
        }
        Path sd = d.resolve("scsi_disk/" + l.hctl);
        link(sd.resolve("device"), d);
        link(sys.resolve("class/scsi_disk/" + l.hctl), sd);
        Path b = d.resolve("block/" + l.block);
        write(b.resolve("size"), String.valueOf(l.size / 512));
        write(b.resolve("dev"), "8:" + (l.block.charAt(l.block.length() - 1) - 'a') * 16);
        write(b.resolve("queue/logical_block_size"), String.valueOf(l.sectorSize));
        write(b.resolve("queue/discard_max_bytes"), "4194304");
        link(sys.resolve("class/block/" + l.block), b);
        link(sys.resolve("block/" + l.block), b);
        if (l.makeNode) {
            Path backing = root.resolve("luns/" + l.lunName + ".img");
            try {
                if (!Files.exists(backing)) {
                    try (RandomAccessFile f = new RandomAccessFile(backing.toFile(), "rw")) {
                        f.setLength(l.size);
                    }
                }
                Files.createLink(dev.resolve(l.block), backing);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return this;
    }

    /** @return the backing file of a LUN */
    Path backing(String lunName) {
        return root.resolve("luns/" + lunName + ".img");
    }

    /** Removes a SCSI device as the kernel does when a LUN goes away, and its node as udev does. */
    void removeLun(String hctl) {
        Path d = deviceDir(hctl);
        try {
            Path real = d.toRealPath();
            try (Stream<Path> blocks = Files.list(real.resolve("block"))) {
                for (Path b : blocks.toList()) {
                    String name = b.getFileName().toString();
                    Files.deleteIfExists(sys.resolve("class/block/" + name));
                    Files.deleteIfExists(sys.resolve("block/" + name));
                    Files.deleteIfExists(dev.resolve(name));
                }
            } catch (NoSuchFileException e) {
                // not a disk
            }
            Files.deleteIfExists(sys.resolve("class/scsi_disk/" + hctl));
            Files.delete(d);
            deleteTree(real);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    void setHostState(int host, String state) {
        write(hostDirs.get(host).resolve("fc_host/host" + host + "/port_state"), state);
    }

    void setRportState(String rport, String state) {
        write(rportDirs.get(rport).resolve("fc_remote_ports/" + rport + "/port_state"), state);
    }

    void setDeviceState(String hctl, String state) {
        write(deviceDir(hctl).resolve("state"), state);
    }

    /** @return what was last written to an attribute, e.g. a host's {@code scan} */
    String read(Path attribute) {
        try {
            return Files.readString(attribute);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    Path scanFile(int host) {
        return sys.resolve("class/scsi_host/host" + host + "/scan");
    }

    // VPD page 0x83 ------------------------------------------------------------------------

    /** @return a designation descriptor: code set, association, designator type, designator */
    static byte[] designator(int codeSet, int association, int type, byte[] value) {
        byte[] d = new byte[4 + value.length];
        d[0] = (byte) codeSet;
        d[1] = (byte) ((association << 4) | type);
        d[3] = (byte) value.length;
        System.arraycopy(value, 0, d, 4, value.length);
        return d;
    }

    /** @return an NAA designator of the logical unit */
    static byte[] naa(String hex) {
        return designator(1, 0, 3, HexFormat.of().parseHex(hex));
    }

    /** @return an EUI-64 designator of the logical unit */
    static byte[] eui(String hex) {
        return designator(1, 0, 2, HexFormat.of().parseHex(hex));
    }

    /** @return a T10 vendor id designator of the logical unit */
    static byte[] t10(String text) {
        return designator(2, 0, 1, text.getBytes(StandardCharsets.US_ASCII));
    }

    /** @return an NAA designator of the target port (association 1): not the LU's name */
    static byte[] portNaa(String hex) {
        return designator(1, 1, 3, HexFormat.of().parseHex(hex));
    }

    /** @return a relative target port designator (type 4, association 1) */
    static byte[] relativePort(int n) {
        return designator(1, 1, 4, new byte[] {0, 0, 0, (byte) n});
    }

    /** @return VPD page 0x83 holding these descriptors */
    static byte[] vpd83(byte[]... descriptors) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int len = 0;
        for (byte[] d : descriptors) {
            len += d.length;
        }
        out.write(0);
        out.write(0x83);
        out.write(len >> 8);
        out.write(len & 0xff);
        for (byte[] d : descriptors) {
            out.writeBytes(d);
        }
        return out.toByteArray();
    }

    // ---------------------------------------------------------------------------------------

    static void write(Path file, String text) {
        try {
            Files.createDirectories(file.getParent());
            Files.writeString(file, text + (text.isEmpty() ? "" : "\n"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void writeBytes(Path file, byte[] b) {
        try {
            Files.createDirectories(file.getParent());
            Files.write(file, b);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void mkdirs(Path dir) {
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Makes {@code link} a relative symbolic link to {@code target}, as sysfs's links are. */
    private static void link(Path link, Path target) {
        try {
            Files.createDirectories(link.getParent());
            Files.createDirectories(target);
            Files.createSymbolicLink(link, link.getParent().relativize(target));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void deleteTree(Path dir) throws IOException {
        try (Stream<Path> all = Files.walk(dir)) {
            for (Path p : all.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}

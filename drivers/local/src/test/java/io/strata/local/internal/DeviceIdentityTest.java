package io.strata.local.internal;

import static io.strata.local.internal.LocalDriverTest.assertCode;
import static io.strata.local.internal.LocalDriverTest.run;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.strata.api.ErrorCode;
import io.strata.api.device.BlockDevice;
import io.strata.api.device.DeviceInfo;
import io.strata.api.device.StorageResource;
import io.strata.posix.Posix;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Stable identities: file-backed LUNs (UUID kept with the file), disks (by-id names, sysfs ids). */
class DeviceIdentityTest {
    @TempDir
    Path tmp;
    final LocalDriver driver = new LocalDriver();

    private static boolean hasXattr(Path f) throws IOException {
        return Files.getFileAttributeView(f, UserDefinedFileAttributeView.class).list().contains("strata.lun-id");
    }

    private String openIdentity(StorageResource r) {
        try (BlockDevice d = (BlockDevice) r.openDevice("lun")) {
            return d.identity().orElseThrow();
        }
    }

    @Test
    void aFileLunKeepsItsIdentityAcrossReopenAndReattach() throws IOException {
        Path f = tmp.resolve("lun0.img");
        StorageResource r = driver.attach("lun0", Map.of("kind", "file-lun", "path", f.toString(), "size", "1M"));
        String id = r.devices().get(0).identity();
        assertTrue(id.matches("uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"), id);
        assertTrue(hasXattr(f), "kept in the extended attribute " + LunIdentity.XATTR_NAME);
        assertFalse(Files.exists(LunIdentity.sidecar(f)), "no sidecar where the filesystem has xattrs");
        assertEquals(id, openIdentity(r));
        assertEquals(id, openIdentity(r), "same on reopen");
        StorageResource again = new LocalDriver().attach("lun0", Map.of("kind", "file-lun", "path", f.toString()));
        assertEquals(id, again.devices().get(0).identity(), "same after attaching again (a restart)");
        assertEquals(id, openIdentity(again));

        // renamed, it is the same LUN; a plain copy is another one
        Path moved = tmp.resolve("moved.img");
        Files.move(f, moved);
        assertEquals(id, openIdentity(driver.attach("m", Map.of("kind", "file-lun", "path", moved.toString()))));
        Path copy = Files.copy(moved, tmp.resolve("copy.img"));
        String copied = openIdentity(driver.attach("c", Map.of("kind", "file-lun", "path", copy.toString())));
        assertTrue(copied.startsWith("uuid:"));
        assertNotEquals(id, copied);

        // a new LUN made where an old one was gets a new identity
        Files.delete(moved);
        StorageResource fresh = driver.attach("m", Map.of("kind", "file-lun", "path", moved.toString(), "size", "1M"));
        assertNotEquals(id, fresh.devices().get(0).identity());
    }

    @Test
    void aLunMadeBeforeIdentitiesGetsOneOnFirstOpen() throws IOException {
        Path f = tmp.resolve("old.img");
        try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
            raf.setLength(1 << 20);
        }
        StorageResource r = driver.attach("old", Map.of("kind", "file-lun", "path", f.toString(), "create", "false"));
        assertEquals("", r.devices().get(0).identity(), "listing writes nothing");
        assertFalse(hasXattr(f));
        String id = openIdentity(r);
        assertTrue(id.startsWith("uuid:"), id);
        assertEquals(id, r.devices().get(0).identity());
        assertEquals(id, openIdentity(r));
    }

    @Test
    void withoutExtendedAttributesTheIdentityGoesToASidecarFile() throws IOException {
        LunIdentity noXattr = new LunIdentity(false);
        Path f = tmp.resolve("nfs.img");
        FileLunResource r = new FileLunResource("nfs", Map.of("kind", "file-lun", "path", f.toString(), "size", "1M"),
                noXattr);
        Path side = LunIdentity.sidecar(f);
        assertEquals(tmp.resolve("nfs.img.id"), side);
        String id = r.devices().get(0).identity();
        assertEquals(id, "uuid:" + Files.readString(side).strip());
        assertFalse(hasXattr(f));
        try (BlockDevice d = (BlockDevice) r.openDevice("lun")) {
            assertEquals(id, d.identity().orElseThrow());
        }
        // an old LUN without either gets a sidecar on first open, the same one afterwards
        Path old = tmp.resolve("old.img");
        Files.write(old, new byte[4096]);
        FileLunResource o = new FileLunResource("o", Map.of("kind", "file-lun", "path", old.toString()), noXattr);
        String first = noXattr.ensure(old);
        assertEquals(first, noXattr.ensure(old));
        assertTrue(Files.isRegularFile(LunIdentity.sidecar(old)));
        assertEquals(first, o.devices().get(0).identity());
        // the extended attribute, where there is one, wins over a sidecar
        String viaXattr = LunIdentity.DEFAULT.create(old);
        assertNotEquals(first, viaXattr);
        assertEquals(viaXattr, LunIdentity.DEFAULT.read(old).orElseThrow());
        // garbage is not an identity
        Files.writeString(side, "not a uuid\n");
        assertTrue(noXattr.read(f).isEmpty());
        assertCode(ErrorCode.IO_ERROR, () -> noXattr.ensure(f));
    }

    // ---- block devices: /dev/disk/by-id names and sysfs identities

    private static Path fakeDisk(Path sys, String name, long sectors) throws IOException {
        Path d = Files.createDirectories(sys.resolve(name));
        Files.writeString(d.resolve("size"), sectors + "\n");
        Files.createDirectories(d.resolve("queue"));
        Files.writeString(d.resolve("queue/logical_block_size"), "512\n");
        Files.writeString(d.resolve("ro"), "0\n");
        Files.createDirectories(d.resolve("device"));
        return d;
    }

    private static void link(Path byId, String name, String kernel) throws IOException {
        Files.createDirectories(byId);
        Files.createSymbolicLink(byId.resolve(name), Path.of("../../" + kernel));
    }

    @Test
    void disksAreAddressedByTheirByIdNameAndIdentifiedFromSysfs() throws IOException {
        Path sys = tmp.resolve("sys/block");
        Path dev = tmp.resolve("dev");
        Path byId = dev.resolve("disk/by-id");
        Path sda = fakeDisk(sys, "sda", 2048);
        Files.writeString(sda.resolve("device/wwid"), "naa.5000c500a1b2c3d4\n");
        Files.writeString(sda.resolve("device/vendor"), "ATA     \n");
        Files.writeString(sda.resolve("device/model"), "Disk One\n");
        link(byId, "ata-Disk_One_S123", "sda");
        link(byId, "wwn-0x5000c500a1b2c3d4", "sda");
        link(byId, "wwn-0x5000c500a1b2c3d4-part1", "sda1");
        link(byId, "lvm-pv-uuid-abc", "sda");
        Path nvme = fakeDisk(sys, "nvme0n1", 4096);
        Files.writeString(nvme.resolve("wwid"), "eui.0025388b91b1d1c2\n");
        Files.writeString(nvme.resolve("device/serial"), "S3Z8NB0K123456      \n");
        link(byId, "nvme-Samsung_SSD_970_S3Z8NB0K123456", "nvme0n1");
        link(byId, "nvme-eui.0025388b91b1d1c2", "nvme0n1");
        Path vdb = fakeDisk(sys, "vdb", 100);
        Files.writeString(vdb.resolve("serial"), "data-disk\n");
        link(byId, "virtio-data-disk", "vdb");
        fakeDisk(sys, "vdc", 100); // no serial, no link: kernel name, no identity
        Path sdb = fakeDisk(sys, "sdb", 100);
        Files.writeString(sdb.resolve("device/wwid"), "t10.ATA     QEMU HARDDISK                           QM00001\n");

        StorageResource r = new LocalDriver(sys, dev).attach("disks", Map.of());
        List<DeviceInfo> devs = r.devices();
        assertEquals(List.of("nvme-eui.0025388b91b1d1c2", "sdb", "vdc", "virtio-data-disk", "wwn-0x5000c500a1b2c3d4"),
                devs.stream().map(DeviceInfo::id).toList());
        assertEquals(List.of("wwid:eui.0025388b91b1d1c2", "wwid:t10.ATA QEMU HARDDISK QM00001", "", "serial:data-disk",
                "wwid:naa.5000c500a1b2c3d4"), devs.stream().map(DeviceInfo::identity).toList());
        assertEquals(byId.resolve("wwn-0x5000c500a1b2c3d4") + " (sda) ATA Disk One", devs.get(4).description());
        assertEquals(dev.resolve("vdc").toString(), devs.get(2).description());

        // devices= takes kernel names and by-id names alike
        LocalDriver d = new LocalDriver(sys, dev);
        assertEquals(List.of("virtio-data-disk", "wwn-0x5000c500a1b2c3d4"), d.attach("x",
                Map.of("devices", "sda,virtio-data-disk")).devices().stream().map(DeviceInfo::id).toList());
        assertTrue(assertCode(ErrorCode.INVALID_ARGUMENT, () -> d.attach("x", Map.of("devices", "../sda")))
                .getMessage().contains("'devices'"));
        assertCode(ErrorCode.DEVICE_NOT_FOUND, () -> r.openDevice("sdz"));
    }

    @Test
    void theWorldWideNameLinkIsPreferred() {
        List<String> order = List.of("wwn-0x50", "nvme-eui.00", "scsi-36001", "ata-X_Y", "scsi-SATA_X", "usb-X-0:0");
        for (int i = 0; i + 1 < order.size(); i++) {
            assertTrue(BlockResource.rank(order.get(i)) < BlockResource.rank(order.get(i + 1)), order.get(i));
        }
        assertEquals("a b_c", BlockResource.clean("  a \t  b\u0001c \n"));
    }

    @Test
    void aLoopDeviceIsReachedThroughItsByIdLinkOrItsKernelName() throws Exception {
        assumeTrue(Posix.isRoot(), "losetup needs root");
        Path lun = tmp.resolve("lun.img");
        StorageResource fileLun = driver.attach("f", Map.of("kind", "file-lun", "path", lun.toString(), "size", "4M"));
        String lunIdentity = fileLun.devices().get(0).identity();
        String loop = run("losetup", "--find", "--show", lun.toString()).trim();
        try {
            String k = Path.of(loop).getFileName().toString();
            // a /dev of our own whose by-id link points at the real loop device
            Path dev = tmp.resolve("dev");
            Files.createDirectories(dev.resolve("disk/by-id"));
            Files.createSymbolicLink(dev.resolve("disk/by-id/wwn-0xtest"), Path.of(loop));
            LocalDriver d = new LocalDriver(Path.of("/sys/block"), dev);
            StorageResource r = d.attach("loops", Map.of("devices", k));
            DeviceInfo info = r.devices().get(0);
            assertEquals("wwn-0xtest", info.id());
            assertEquals(lunIdentity, info.identity(), "a loop over a file-backed LUN is that LUN");
            byte[] data = new byte[4096];
            new Random(9).nextBytes(data);
            try (BlockDevice b = (BlockDevice) r.openDevice("wwn-0xtest")) {
                assertEquals(dev.resolve("disk/by-id/wwn-0xtest"), b.localPath().orElseThrow());
                assertEquals(lunIdentity, b.identity().orElseThrow());
                b.write(ByteBuffer.wrap(data), 8192);
                b.flush();
            }
            // a datastore configured with the kernel name still finds its disk
            try (BlockDevice b = (BlockDevice) r.openDevice(k)) {
                assertEquals("wwn-0xtest", b.info().id());
                ByteBuffer back = ByteBuffer.allocate(4096);
                b.read(back, 8192);
                assertArrayEquals(data, back.array());
            }
        } finally {
            run("losetup", "-d", loop);
        }
    }
}

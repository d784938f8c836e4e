package io.strata.local.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.strata.api.Capability;
import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.device.BlockDevice;
import io.strata.api.device.DeviceInfo;
import io.strata.api.device.DeviceKind;
import io.strata.api.device.FileShare;
import io.strata.api.device.StorageResource;
import io.strata.posix.Posix;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

class LocalDriverTest {
    @TempDir
    Path tmp;
    final LocalDriver driver = new LocalDriver();

    static StorageException assertCode(ErrorCode code, Executable e) {
        StorageException ex = assertThrows(StorageException.class, e);
        assertEquals(code, ex.code(), ex.getMessage());
        return ex;
    }

    @Test
    void declaresTypeCapabilitiesAndParameters() {
        assertEquals("local", driver.type());
        assertEquals(java.util.Set.of(Capability.DEVICE_DISCOVERY, Capability.BLOCK_DEVICES,
                Capability.FILE_SHARES, Capability.DEVICE_CREATE, Capability.UNCACHED_IO, Capability.IO_TIMEOUT,
                Capability.DEVICE_STATE), driver.capabilities());
        // no hardware behind them: honestly not offered
        assertFalse(driver.capabilities().contains(Capability.COMPARE_AND_WRITE));
        assertFalse(driver.capabilities().contains(Capability.PERSISTENT_RESERVATIONS));
        assertEquals(List.of("kind", "path", "create", "size", "devices", "direct", "io.timeout.ms"),
                List.copyOf(driver.parameters().keySet()));
    }

    @Test
    void directoryIsCreatedAndOfferedAsOneShare() {
        Path d = tmp.resolve("a/b/ds");
        StorageResource r = driver.attach("home", Map.of("kind", "directory", "path", d.toString()));
        assertTrue(Files.isDirectory(d));
        assertEquals("local", r.driverType());
        List<DeviceInfo> devs = r.devices();
        assertEquals(1, devs.size());
        assertEquals("dir", devs.get(0).id());
        assertEquals(DeviceKind.FILE_SHARE, devs.get(0).kind());
        assertTrue(devs.get(0).size() > 0);
        try (FileShare s = (FileShare) r.openDevice("dir")) {
            assertEquals(d, s.localPath().orElseThrow());
            assertEquals(d.toUri().toString(), s.uri());
            assertTrue(s.uri().startsWith("file:///"));
        }
        // attach is idempotent
        driver.attach("home", Map.of("kind", "directory", "path", d.toString())).devices();
        assertCode(ErrorCode.DEVICE_NOT_FOUND, () -> r.openDevice("../etc"));
    }

    @Test
    void directoryParameterErrorsNameTheParameter() throws IOException {
        assertTrue(assertCode(ErrorCode.INVALID_ARGUMENT, () -> driver.attach("r", Map.of("kind", "directory")))
                .getMessage().contains("'path'"));
        assertTrue(assertCode(ErrorCode.INVALID_ARGUMENT,
                () -> driver.attach("r", Map.of("kind", "directory", "path", "relative/dir"))).getMessage().contains("'path'"));
        assertTrue(assertCode(ErrorCode.INVALID_ARGUMENT,
                () -> driver.attach("r", Map.of("kind", "directory", "path", "/x", "create", "maybe"))).getMessage().contains("'create'"));
        assertTrue(assertCode(ErrorCode.INVALID_ARGUMENT,
                () -> driver.attach("r", Map.of("kind", "directory", "path", "/x", "sise", "1G"))).getMessage().contains("'sise'"));
        assertTrue(assertCode(ErrorCode.INVALID_ARGUMENT, () -> driver.attach("r", Map.of("kind", "tape")))
                .getMessage().contains("'kind'"));
        Path file = Files.writeString(tmp.resolve("f"), "x");
        assertCode(ErrorCode.INVALID_ARGUMENT, () -> driver.attach("r", Map.of("kind", "directory", "path", file.toString())));
        assertCode(ErrorCode.DEVICE_UNAVAILABLE, () -> driver.attach("r",
                Map.of("kind", "directory", "path", tmp.resolve("missing").toString(), "create", "false")));
        assertCode(ErrorCode.INVALID_NAME, () -> driver.attach("../r", Map.of("kind", "directory", "path", "/x")));
    }

    @Test
    void fileLunIsSparseKeepsItsSizeAndDoesSectorIo() throws IOException {
        Path f = tmp.resolve("luns/lun0.img");
        StorageResource r = driver.attach("lun0", Map.of("kind", "file-lun", "path", f.toString(), "size", "1G"));
        assertEquals(1L << 30, Files.size(f));
        assertTrue(Posix.allocatedBytes(f) < (1 << 20), "a new LUN file is sparse");
        DeviceInfo info = r.devices().get(0);
        assertTrue(info.identity().startsWith("uuid:"), info.identity());
        assertEquals(new DeviceInfo("lun0", "lun", DeviceKind.BLOCK, 1L << 30, 512, "file-backed LUN " + f,
                info.identity()), info);

        byte[] data = new byte[8192];
        new Random(3).nextBytes(data);
        try (BlockDevice d = (BlockDevice) r.openDevice("lun")) {
            assertEquals(f, d.localPath().orElseThrow());
            assertEquals(512, d.sectorSize());
            d.write(ByteBuffer.wrap(data), 1L << 20);
            d.flush();
            ByteBuffer back = ByteBuffer.allocate(data.length);
            d.read(back, 1L << 20);
            assertArrayEquals(data, back.array());
            assertCode(ErrorCode.INVALID_ARGUMENT, () -> d.read(ByteBuffer.allocate(512), 100));
            assertCode(ErrorCode.INVALID_ARGUMENT, () -> d.write(ByteBuffer.allocate(100), 0));
            assertCode(ErrorCode.OUT_OF_RANGE, () -> d.read(ByteBuffer.allocate(1024), (1L << 30) - 512));
            assertCode(ErrorCode.UNSUPPORTED, () -> d.unmap(0, 512));
            assertCode(ErrorCode.UNSUPPORTED, () -> d.compareAndWrite(ByteBuffer.allocate(512), ByteBuffer.allocate(512), 0));
            assertCode(ErrorCode.UNSUPPORTED, d::reservations);
            assertEquals(info.identity(), d.identity().orElseThrow());
        }
        // re-attach: without size, with the same size; never with another size
        driver.attach("lun0", Map.of("kind", "file-lun", "path", f.toString()));
        driver.attach("lun0", Map.of("kind", "file-lun", "path", f.toString(), "size", "1024M"));
        assertTrue(assertCode(ErrorCode.INVALID_ARGUMENT,
                () -> driver.attach("lun0", Map.of("kind", "file-lun", "path", f.toString(), "size", "2G")))
                .getMessage().contains("'size'"));
        assertEquals(1L << 30, Files.size(f));
    }

    @Test
    void fileLunParameterErrors() {
        String p = tmp.resolve("x.img").toString();
        assertTrue(assertCode(ErrorCode.INVALID_ARGUMENT, () -> driver.attach("l", Map.of("kind", "file-lun", "path", p)))
                .getMessage().contains("'size'"));
        assertCode(ErrorCode.INVALID_ARGUMENT, () -> driver.attach("l", Map.of("kind", "file-lun", "path", p, "size", "1000")));
        assertCode(ErrorCode.INVALID_ARGUMENT, () -> driver.attach("l", Map.of("kind", "file-lun", "path", p, "size", "lots")));
        assertCode(ErrorCode.INVALID_ARGUMENT, () -> driver.attach("l", Map.of("kind", "file-lun", "path", p, "size", "0")));
        assertCode(ErrorCode.INVALID_ARGUMENT, () -> driver.attach("l", Map.of("kind", "file-lun", "path", tmp.toString(), "size", "1M")));
        assertCode(ErrorCode.DEVICE_UNAVAILABLE, () -> driver.attach("l",
                Map.of("kind", "file-lun", "path", p, "size", "1M", "create", "false")));
        assertTrue(Files.notExists(Path.of(p)));
    }

    @Test
    void blockDiscoverySkipsVirtualDevicesUnlessNamed() throws IOException {
        Path sys = tmp.resolve("sys/block");
        fakeDisk(sys, "sda", 2048, 512, "ATA", "Disk One");
        fakeDisk(sys, "nvme0n1", 4096, 4096, null, null);
        fakeDisk(sys, "loop0", 100, 512, null, null);
        fakeDisk(sys, "loop1", 0, 512, null, null);
        fakeDisk(sys, "dm-0", 100, 512, null, null);
        fakeDisk(sys, "zram0", 100, 512, null, null);
        fakeDisk(sys, "sr0", 0, 2048, null, null);
        LocalDriver d = new LocalDriver(sys, tmp.resolve("dev"));
        List<DeviceInfo> devs = d.attach("disks", Map.of()).devices();
        assertEquals(List.of("nvme0n1", "sda"), devs.stream().map(DeviceInfo::id).toList());
        assertEquals(new DeviceInfo("disks", "sda", DeviceKind.BLOCK, 2048L * 512, 512,
                tmp.resolve("dev/sda") + " ATA Disk One", ""), devs.get(1));
        assertEquals(4096, devs.get(0).sectorSize());
        assertEquals(List.of("loop0"), d.attach("disks", Map.of("kind", "block", "devices", "loop0, loop1"))
                .devices().stream().map(DeviceInfo::id).toList());
        assertTrue(assertCode(ErrorCode.INVALID_ARGUMENT, () -> d.attach("disks", Map.of("devices", "../sda")))
                .getMessage().contains("'devices'"));
        assertCode(ErrorCode.INVALID_ARGUMENT, () -> d.attach("disks", Map.of("path", "/x")));
        assertCode(ErrorCode.DEVICE_NOT_FOUND, () -> d.attach("disks", Map.of()).openDevice("loop0"));
    }

    private static void fakeDisk(Path sys, String name, long sectors, int lbs, String vendor, String model)
            throws IOException {
        Path d = Files.createDirectories(sys.resolve(name));
        Files.writeString(d.resolve("size"), sectors + "\n");
        Files.createDirectories(d.resolve("queue"));
        Files.writeString(d.resolve("queue/logical_block_size"), lbs + "\n");
        Files.writeString(d.resolve("ro"), "0\n");
        if (vendor != null) {
            Files.createDirectories(d.resolve("device"));
            Files.writeString(d.resolve("device/vendor"), vendor + "    \n");
            Files.writeString(d.resolve("device/model"), model + "\n");
        }
    }

    @Test
    void realDisksAreDiscoveredAndSizedThroughIoctl() {
        assumeTrue(Posix.isRoot(), "opening block devices needs root");
        StorageResource r = driver.attach("host", Map.of());
        List<DeviceInfo> devs = r.devices();
        assumeFalse(devs.isEmpty(), "this host has no whole disk in /sys/block");
        DeviceInfo first = devs.get(0);
        BlockDevice opened;
        try {
            opened = (BlockDevice) r.openDevice(first.id());
        } catch (StorageException e) {
            // containers often deny even root access to the host's disks (device cgroup)
            assertEquals(ErrorCode.PERMISSION_DENIED, e.code(), e.getMessage());
            assertTrue(e.getMessage().contains("refused even to root"), e.getMessage());
            assumeTrue(false, "this host forbids opening " + first.id() + ": " + e.getMessage());
            return;
        }
        try (BlockDevice d = opened) {
            assertEquals(first.size(), d.size(), "ioctl BLKGETSIZE64 agrees with sysfs");
            assertEquals(first.sectorSize(), d.sectorSize(), "ioctl BLKSSZGET agrees with sysfs");
            ByteBuffer b = ByteBuffer.allocate(d.sectorSize());
            d.read(b, 0); // only ever read the host's real disks
            assertEquals(0, b.remaining());
        }
    }

    @Test
    void aLoopDeviceNamedExplicitlyDoesRealBlockIo() throws Exception {
        assumeTrue(Posix.isRoot(), "losetup needs root");
        Path img = tmp.resolve("loop.img");
        try (var raf = new java.io.RandomAccessFile(img.toFile(), "rw")) {
            raf.setLength(8L << 20);
        }
        String loop = run("losetup", "--find", "--show", img.toString()).trim();
        try {
            String k = Path.of(loop).getFileName().toString();
            StorageResource r = driver.attach("loops", Map.of("kind", "block", "devices", k));
            assertEquals(List.of(k), r.devices().stream().map(DeviceInfo::id).toList());
            byte[] data = new byte[4096];
            new Random(5).nextBytes(data);
            String identity = r.devices().get(0).identity();
            assertTrue(identity.startsWith("inode:"), "a loop device is the file behind it: " + identity);
            try (BlockDevice d = (BlockDevice) r.openDevice(k)) {
                assertEquals(8L << 20, d.size());
                assertEquals(512, d.sectorSize());
                assertEquals(identity, d.identity().orElseThrow());
                d.write(ByteBuffer.wrap(data), 4096);
                d.flush();
            }
            byte[] onDisk = new byte[4096];
            try (var raf = new java.io.RandomAccessFile(img.toFile(), "r")) {
                raf.seek(4096);
                raf.readFully(onDisk);
            }
            assertArrayEquals(data, onDisk);
        } finally {
            run("losetup", "-d", loop);
        }
    }

    @Test
    void withoutRootOpeningADiskIsPermissionDenied() {
        assumeFalse(Posix.isRoot(), "as root, opening succeeds");
        StorageResource r = driver.attach("host", Map.of());
        assumeFalse(r.devices().isEmpty(), "no disk to try");
        assertTrue(assertCode(ErrorCode.PERMISSION_DENIED, () -> r.openDevice(r.devices().get(0).id()))
                .getMessage().contains("needs root"));
    }

    static String run(String... cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertEquals(0, p.waitFor(), String.join(" ", cmd) + ": " + out);
        return out;
    }
}

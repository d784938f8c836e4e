package io.strata.fc.internal;

import static io.strata.fc.internal.FakeSysfs.lun;
import static io.strata.fc.internal.FcPathTest.assertCode;
import static io.strata.fc.internal.FcPathTest.random;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.api.ErrorCode;
import io.strata.api.device.BlockDevice;
import io.strata.api.device.DeviceInfo;
import io.strata.api.device.DeviceKind;
import io.strata.api.device.DeviceState;
import io.strata.api.device.PathInfo;
import io.strata.api.device.StorageResource;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A whole {@code fc} resource on a fake sysfs tree, with the multipath layer. */
class FcResourceTest {
    static final String DEV0 = "naa." + FcSysfsTest.NAA0;
    static final String DEV1 = "naa." + FcSysfsTest.NAA1;

    @TempDir(factory = TargetTempDirs.class)
    Path tmp;
    FakeSysfs fake;
    StorageResource resource;

    @BeforeEach
    void setUp() {
        fake = FcSysfsTest.twoByTwo(tmp);
        resource = attach(Map.of());
    }

    @AfterEach
    void tearDown() {
        resource.close();
    }

    /** Attaches with the checker effectively off (an hour apart): tests run rounds with checkNow. */
    StorageResource attach(Map<String, String> extra) {
        Map<String, String> p = new HashMap<>(fake.params());
        p.put("checker-interval", "3600");
        p.put("no-path-retry", "0");
        p.putAll(extra);
        return new FcDriver().attach("san1", p);
    }

    FcResource fc() {
        return (FcResource) resource;
    }

    static byte[] read(BlockDevice d, long offset, int n) {
        ByteBuffer b = ByteBuffer.allocate(n);
        d.read(b, offset);
        return b.array();
    }

    PathInfo path(String id) {
        return resource.paths().stream().filter(p -> p.id().equals(id)).findFirst().orElseThrow();
    }

    @Test
    void twoDevicesWithTwoPathsEach() {
        List<DeviceInfo> devices = resource.devices();
        assertEquals(List.of(DEV0, DEV1), devices.stream().map(DeviceInfo::id).toList());
        DeviceInfo d0 = devices.get(0);
        assertEquals(DeviceKind.BLOCK, d0.kind());
        assertEquals("wwid:" + DEV0, d0.identity());
        assertEquals(4 << 20, d0.size());
        assertEquals(512, d0.sectorSize());
        assertEquals("STRATA FAKE-FC, 2 paths", d0.description());
        assertEquals(8 << 20, devices.get(1).size());
        List<PathInfo> paths = resource.paths();
        assertEquals(List.of("host3:0:0:0", "host5:0:0:0", "host3:0:0:1", "host5:0:0:1"),
                paths.stream().map(PathInfo::id).toList());
        assertEquals("fc host3 " + FcSysfsTest.HBA3 + " -> " + FcSysfsTest.TGT_A, paths.get(0).transport());
        assertEquals(DEV0, paths.get(0).device());
        assertTrue(paths.stream().allMatch(p -> p.state() == DeviceState.ONLINE && p.enabled()));
    }

    @Test
    void whatTheDeviceWritesEveryPathReads() {
        try (BlockDevice d = (BlockDevice) resource.openDevice(DEV1)) {
            assertEquals("wwid:" + DEV1, d.identity().orElseThrow());
            byte[] data = random(64 << 10, 7);
            d.write(ByteBuffer.wrap(data), 1 << 20);
            d.flush();
            assertArrayEquals(data, read(d, 1 << 20, data.length));
            for (ScsiPath p : new FcSysfs(fake.sys(), fake.dev()).discover(Set.of()).paths()) {
                if (p.deviceId().equals(DEV1)) {
                    try (FcPath direct = new FcPath(p)) {
                        assertArrayEquals(data, FcPathTest.read(direct, 1 << 20, data.length), p.id());
                    }
                }
            }
            assertCode(ErrorCode.OUT_OF_RANGE, () -> d.read(ByteBuffer.allocate(1024), d.size() - 512));
            d.unmap(1 << 20, 64 << 10);
            assertArrayEquals(new byte[4096], read(d, 1 << 20, 4096));
        }
    }

    @Test
    void linkdownTakesAnHbasPathsOfflineAndIoGoesOn() {
        try (BlockDevice d = (BlockDevice) resource.openDevice(DEV0)) {
            fake.setHostState(3, "Linkdown");
            fc().checkNow();
            assertEquals(DeviceState.OFFLINE, path("host3:0:0:0").state());
            assertEquals(DeviceState.OFFLINE, path("host3:0:0:1").state());
            assertEquals(DeviceState.ONLINE, path("host5:0:0:0").state());
            long before = path("host3:0:0:0").ios();
            for (int i = 0; i < 20; i++) {
                byte[] data = random(4096, i);
                d.write(ByteBuffer.wrap(data), i * 4096L);
                assertArrayEquals(data, read(d, i * 4096L, 4096));
            }
            assertEquals(before, path("host3:0:0:0").ios(), "no I/O on the downed HBA");
            assertFalse(path("host3:0:0:0").active());
            assertTrue(path("host5:0:0:0").ios() >= 40);
            fake.setHostState(3, "Online");
            fc().checkNow();
            assertEquals(DeviceState.ONLINE, path("host3:0:0:0").state());
            assertEquals(DeviceState.ONLINE, path("host3:0:0:1").state());
            for (int i = 0; i < 20; i++) {
                d.read(ByteBuffer.allocate(4096), 0);
            }
        }
    }

    @Test
    void aBlockedRemotePortAndAnOfflineDeviceAreDownToo() {
        fake.setRportState("rport-5:0-0", "Blocked");
        fake.setDeviceState("3:0:0:1", "offline");
        fc().checkNow();
        assertEquals(DeviceState.OFFLINE, path("host5:0:0:0").state());
        assertEquals(DeviceState.OFFLINE, path("host5:0:0:1").state());
        assertEquals(DeviceState.OFFLINE, path("host3:0:0:1").state());
        assertEquals(DeviceState.ONLINE, path("host3:0:0:0").state());
        try (BlockDevice d = (BlockDevice) resource.openDevice(DEV1)) {
            assertCode(ErrorCode.DEVICE_UNAVAILABLE, () -> d.read(ByteBuffer.allocate(512), 0));
        }
        fake.setRportState("rport-5:0-0", "Online");
        fc().checkNow();
        assertEquals(DeviceState.ONLINE, path("host5:0:0:1").state());
    }

    @Test
    void aPathWhoseNodeVanishesFailsOver() throws Exception {
        try (BlockDevice d = (BlockDevice) resource.openDevice(DEV0)) {
            byte[] data = random(4096, 9);
            d.write(ByteBuffer.wrap(data), 0);
            Files.delete(fake.dev().resolve("sdb")); // host3:0:0:0
            for (int i = 0; i < 20; i++) {
                assertArrayEquals(data, read(d, 0, 4096));
            }
            fc().checkNow();
            assertEquals(DeviceState.OFFLINE, path("host3:0:0:0").state());
            assertEquals(DeviceState.ONLINE, path("host5:0:0:0").state());
            // the next discovery no longer offers it
            assertEquals("STRATA FAKE-FC, 1 path", resource.devices().get(0).description());
            assertFalse(resource.paths().stream().anyMatch(p -> p.id().equals("host3:0:0:0")));
            assertArrayEquals(data, read(d, 0, 4096));
        }
    }

    @Test
    void scanFindsNewLunsAndForgetsVanishedOnes() {
        String naa2 = "600a0b800026d63a0000a4c84e6dc3b2";
        fake.addLun(lun("3:0:0:5", "sdf").backing("lun5").wwid("naa." + naa2));
        fake.addLun(lun("5:0:0:5", "sdxf").backing("lun5").wwid("naa." + naa2));
        resource.reconfigure(Map.of("scan", "all"));
        assertEquals("- - -", fake.read(fake.scanFile(3)));
        assertEquals("- - -", fake.read(fake.scanFile(5)));
        assertTrue(resource.paths().stream().anyMatch(p -> p.id().equals("host5:0:0:5")));
        assertEquals(List.of(DEV0, DEV1, "naa." + naa2), resource.devices().stream().map(DeviceInfo::id).toList());
        try (BlockDevice d = (BlockDevice) resource.openDevice("naa." + naa2)) {
            d.write(ByteBuffer.wrap(random(512, 1)), 0);
        }
        fake.removeLun("3:0:0:1");
        fake.removeLun("5:0:0:1");
        resource.reconfigure(Map.of("scan", "host3"));
        assertEquals(List.of(DEV0, "naa." + naa2), resource.devices().stream().map(DeviceInfo::id).toList());
        assertFalse(resource.paths().stream().anyMatch(p -> p.device().equals(DEV1)));
        assertCode(ErrorCode.DEVICE_NOT_FOUND, () -> resource.openDevice(DEV1));
    }

    @Test
    void rescanAsksTheKernelOnEveryPathOfTheDevice() {
        resource.reconfigure(Map.of("rescan", DEV1));
        assertEquals("1", fake.read(fake.deviceDir("3:0:0:1").resolve("rescan")));
        assertEquals("1", fake.read(fake.deviceDir("5:0:0:1").resolve("rescan")));
        assertEquals("", fake.read(fake.deviceDir("3:0:0:0").resolve("rescan")));
        assertCode(ErrorCode.DEVICE_NOT_FOUND, () -> resource.reconfigure(Map.of("rescan", "naa.0000")));
    }

    @Test
    void reconfigureChecksEverythingFirst() {
        assertCode(ErrorCode.INVALID_ARGUMENT, () -> resource.reconfigure(Map.of("scan", "host9")));
        assertCode(ErrorCode.INVALID_ARGUMENT, () -> resource.reconfigure(Map.of("scan", "everything")));
        assertCode(ErrorCode.INVALID_ARGUMENT, () -> resource.reconfigure(Map.of("sysfs", "/sys")));
        assertCode(ErrorCode.INVALID_ARGUMENT, () -> resource.reconfigure(Map.of("polcy", "mru")));
        assertCode(ErrorCode.INVALID_ARGUMENT, () -> resource.reconfigure(Map.of("policy", "sideways", "scan", "all")));
        assertEquals("", fake.read(fake.scanFile(3)), "nothing was done");
        resource.reconfigure(Map.of("policy", "round-robin"));
    }

    @Test
    void pathsCanBeSetOfflineForMaintenance() {
        resource.setPathEnabled("host5:0:0:0", false);
        assertFalse(path("host5:0:0:0").enabled());
        try (BlockDevice d = (BlockDevice) resource.openDevice(DEV0)) {
            for (int i = 0; i < 10; i++) {
                d.read(ByteBuffer.allocate(512), 0);
            }
        }
        assertEquals(0, path("host5:0:0:0").ios());
        resource.setPathEnabled("host5:0:0:0", true);
        assertCode(ErrorCode.DEVICE_NOT_FOUND, () -> resource.setPathEnabled("host7:0:0:0", false));
    }

    @Test
    void onlyTheChosenHbaPorts() {
        try (StorageResource r = attach(Map.of("host", "5"))) {
            assertEquals(List.of("host5:0:0:0", "host5:0:0:1"), r.paths().stream().map(PathInfo::id).sorted().toList());
            assertEquals("STRATA FAKE-FC, 1 path", r.devices().get(0).description());
        }
    }
}

package io.strata.multipath;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.device.BlockDevice;
import io.strata.api.device.DeviceInfo;
import io.strata.api.device.DeviceKind;
import io.strata.api.device.DeviceState;
import io.strata.api.device.PathInfo;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;

class GroupingTest {
    @Test
    void pathsAreGroupedByDeviceAndListedSorted() {
        try (Fixture f = new Fixture(List.of("p2", "p1"))) {
            FakeLun other = new FakeLun("wwid:naa.6001405other", 512, 16);
            f.mp.add("lun1", new FakePath("q1", other));
            f.mp.add("lun1", new FakePath("q0", other));
            assertEquals(Set.of("lun0", "lun1"), f.mp.deviceIds());
            List<PathInfo> ps = f.mp.paths();
            assertEquals(List.of("lun0/p1", "lun0/p2", "lun1/q0", "lun1/q1"),
                    ps.stream().map(p -> p.device() + "/" + p.id()).toList());
            assertEquals("fake p1", ps.get(0).transport());
            assertTrue(ps.stream().allMatch(p -> p.enabled() && p.state() == DeviceState.ONLINE));
        }
    }

    @Test
    void pathWithAnotherIdentityIsRefused() {
        try (Fixture f = new Fixture(List.of("p1"))) {
            FakePath stranger = new FakePath("p9", new FakeLun("wwid:naa.6001405different", 512, 64));
            StorageException e = assertThrows(StorageException.class, () -> f.mp.add("lun0", stranger));
            assertEquals(ErrorCode.INVALID_ARGUMENT, e.code());
            assertTrue(e.getMessage().contains("p9") && e.getMessage().contains("wwid:naa.6001405different")
                    && e.getMessage().contains("lun0"), e.getMessage());
            assertEquals(1, f.mp.paths().size());
            assertFalse(stranger.closed, "a refused path stays the driver's");
        }
    }

    @Test
    void sameIdentityUnderAnotherDeviceAndDuplicatePathIdAreRefused() {
        try (Fixture f = new Fixture(List.of("p1"))) {
            StorageException e = assertThrows(StorageException.class,
                    () -> f.mp.add("lun7", new FakePath("p2", f.lun)));
            assertEquals(ErrorCode.INVALID_ARGUMENT, e.code());
            assertTrue(e.getMessage().contains("lun0"), e.getMessage());
            StorageException dup = assertThrows(StorageException.class,
                    () -> f.mp.add("lun0", new FakePath("p1", f.lun)));
            assertEquals(ErrorCode.INVALID_ARGUMENT, dup.code());
            assertEquals(Set.of("lun0"), f.mp.deviceIds());
        }
    }

    @Test
    void openGivesTheDeviceWithThePathsIdentity() {
        try (Fixture f = new Fixture(List.of("p1", "p2"))) {
            BlockDevice d = f.open();
            assertEquals(Optional.of(f.lun.identity), d.identity());
            assertEquals(f.lun.identity, d.info().identity());
            assertEquals(f.lun.size(), d.size());
            assertEquals(512, d.sectorSize());
            assertEquals(Optional.empty(), d.localPath());
            Fixture.writeSector(d, 3, 7);
            ByteBuffer back = ByteBuffer.allocate(512);
            d.read(back, 3 * 512);
            assertArrayEquals(Fixture.sectorOf(7).array(), back.array());
            assertEquals(0, back.remaining());
        }
    }

    @Test
    void unknownDeviceIsNotFoundAndRemovedPathsAreClosed() {
        try (Fixture f = new Fixture(List.of("p1", "p2"))) {
            StorageException e = assertThrows(StorageException.class,
                    () -> f.mp.open(new DeviceInfo("res1", "nope", DeviceKind.BLOCK, 0, 512, "")));
            assertEquals(ErrorCode.DEVICE_NOT_FOUND, e.code());
            f.mp.remove("p1");
            assertTrue(f.path("p1").closed);
            f.mp.remove("p2");
            assertTrue(f.mp.deviceIds().isEmpty());
            assertEquals(ErrorCode.DEVICE_NOT_FOUND, assertThrows(StorageException.class, f::open).code());
            // the device is gone, so the LUN may come back under another id
            f.mp.add("lun5", new FakePath("p3", f.lun));
            assertEquals(Set.of("lun5"), f.mp.deviceIds());
        }
    }

    @Test
    void requestsAreCheckedAndCloseEndsEverything() {
        Fixture f = new Fixture(List.of("p1", "p2"));
        BlockDevice d = f.open();
        assertEquals(ErrorCode.INVALID_ARGUMENT,
                assertThrows(StorageException.class, () -> d.read(ByteBuffer.allocate(512), 100)).code());
        assertEquals(ErrorCode.OUT_OF_RANGE,
                assertThrows(StorageException.class, () -> d.read(ByteBuffer.allocate(512), f.lun.size())).code());
        f.mp.close();
        assertTrue(f.path("p1").closed && f.path("p2").closed);
        assertEquals(ErrorCode.DEVICE_UNAVAILABLE,
                assertThrows(StorageException.class, () -> Fixture.writeSector(d, 0, 1)).code());
        f.close();
    }

    @Test
    void parametersAreDescribed() {
        assertEquals(Set.of("policy", "preferred", "failback", "no-path-retry", "checker-interval"),
                Multipath.PARAMETERS.keySet());
        assertTrue(Multipath.PARAMETERS.get("policy").contains("service-time"));
        Multipath.validate(Map.of("portal", "10.0.0.1:3260"));
    }
}

package io.strata.iscsi.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.api.Capability;
import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.device.BlockDevice;
import io.strata.api.device.DeviceInfo;
import io.strata.api.device.PathInfo;
import io.strata.api.device.PersistentReservations;
import io.strata.api.device.PersistentReservations.Type;
import io.strata.api.device.StorageResource;
import io.strata.testing.Tgt;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

/** The driver end to end (discovery, multipath, devices) against a real tgtd. */
class IscsiDriverTest {
    @TempDir
    Path tmp;
    TgtFixture tgt;
    final IscsiDriver driver = new IscsiDriver();
    final List<StorageResource> opened = new ArrayList<>();

    @BeforeEach
    void start() {
        tgt = TgtFixture.start(tmp);
    }

    @AfterEach
    void stop() {
        for (StorageResource r : opened) {
            r.close();
        }
        driver.deactivate();
        if (tgt != null) {
            tgt.close();
        }
    }

    static StorageException assertCode(ErrorCode code, Executable e) {
        StorageException ex = assertThrows(StorageException.class, e);
        assertEquals(code, ex.code(), ex.getMessage());
        return ex;
    }

    private StorageResource attach(String name, Map<String, String> extra) {
        Map<String, String> p = new HashMap<>(Map.of("portal", tgt.portals(), "timeout", "5",
                "checker-interval", "1"));
        p.putAll(extra);
        StorageResource r = driver.attach(name, p);
        opened.add(r);
        return r;
    }

    private DeviceInfo device(StorageResource r, long size) {
        return r.devices().stream().filter(d -> d.size() == size).findFirst().orElseThrow();
    }

    @Test
    void capabilitiesAndParameters() {
        assertEquals("iscsi", driver.type());
        assertTrue(driver.capabilities().contains(Capability.MULTIPATH));
        assertTrue(driver.capabilities().contains(Capability.PERSISTENT_RESERVATIONS));
        assertFalse(driver.capabilities().contains(Capability.COMPARE_AND_WRITE));
        assertTrue(driver.parameters().containsKey("portal"));
        assertTrue(driver.parameters().containsKey("policy"));
        assertCode(ErrorCode.INVALID_ARGUMENT, () -> driver.attach("r", Map.of()));
        assertCode(ErrorCode.INVALID_ARGUMENT, () -> driver.attach("r", Map.of("portal", "1.2.3.4:0")));
        assertCode(ErrorCode.INVALID_ARGUMENT, () -> driver.attach("r", Map.of("portal", "1.2.3.4", "bogus", "1")));
        assertCode(ErrorCode.INVALID_ARGUMENT, () -> driver.attach("r", Map.of("portal", "1.2.3.4",
                "chap-secret", "hush-hush-1234")));
        assertCode(ErrorCode.INVALID_ARGUMENT, () -> driver.attach("r", Map.of("portal", "1.2.3.4", "timeout", "0")));
    }

    @Test
    void discoversDevicesWithTwoPathsEach() {
        StorageResource r = attach("san", Map.of());
        List<DeviceInfo> devices = r.devices();
        assertEquals(2, devices.size(), devices.toString());
        for (DeviceInfo d : devices) {
            assertTrue(d.id().matches("naa\\.6[0-9a-f]{31}"), d.id());
            assertEquals("wwid:" + d.id(), d.identity());
            assertEquals(512, d.sectorSize());
            assertTrue(d.description().matches("IET VIRTUAL-DISK 2 paths ONLINE"), d.description());
        }
        assertEquals(TgtFixture.THICK_SIZE, devices.get(0).size() + devices.get(1).size() - TgtFixture.THIN_SIZE);
        List<PathInfo> paths = r.paths();
        assertEquals(4, paths.size());
        // attaching again with the same parameters gives the same resource
        assertSame(r, attach("san", Map.of()));
        assertCode(ErrorCode.DEVICE_NOT_FOUND, () -> r.openDevice("naa.nope"));
    }

    @Test
    void blockDeviceIoUnmapAndReservations() throws Exception {
        StorageResource r = attach("san", Map.of());
        try (BlockDevice thick = (BlockDevice) r.openDevice(device(r, TgtFixture.THICK_SIZE).id());
                BlockDevice thin = (BlockDevice) r.openDevice(device(r, TgtFixture.THIN_SIZE).id())) {
            assertEquals(TgtFixture.THICK_SIZE, thick.size());
            assertTrue(thick.identity().orElseThrow().startsWith("wwid:naa."));
            ExecutorService pool = Executors.newFixedThreadPool(8);
            try {
                List<Future<?>> fs = new ArrayList<>();
                for (int t = 0; t < 8; t++) {
                    int thread = t;
                    fs.add(pool.submit(() -> {
                        Random rnd = new Random(thread);
                        for (int i = 0; i < 50; i++) {
                            byte[] data = new byte[4096 * (1 + rnd.nextInt(16))];
                            rnd.nextBytes(data);
                            long off = thread * (4L << 20) + 4096L * rnd.nextInt(512);
                            thick.write(ByteBuffer.wrap(data), off);
                            ByteBuffer back = ByteBuffer.allocateDirect(data.length);
                            thick.read(back, off);
                            byte[] got = new byte[data.length];
                            back.flip().get(got);
                            assertArrayEquals(data, got);
                        }
                        return null;
                    }));
                }
                for (Future<?> f : fs) {
                    f.get();
                }
            } finally {
                pool.shutdownNow();
            }
            thick.flush();

            byte[] ones = new byte[65536];
            Arrays.fill(ones, (byte) 1);
            thin.write(ByteBuffer.wrap(ones), 0);
            thin.unmap(0, 65536);
            ByteBuffer back = ByteBuffer.allocate(65536);
            thin.read(back, 0);
            assertArrayEquals(new byte[65536], back.array());
            assertCode(ErrorCode.UNSUPPORTED, () -> thick.unmap(0, 4096));
            assertCode(ErrorCode.UNSUPPORTED, () -> thick.compareAndWrite(ByteBuffer.allocate(512),
                    ByteBuffer.allocate(512), 0));

            PersistentReservations pr = thick.reservations();
            pr.register(0xabc);
            assertTrue(pr.keys().contains(0xabcL), pr.keys().toString());
            pr.reserve(0xabc, Type.WRITE_EXCLUSIVE_REGISTRANTS_ONLY);
            assertEquals(new PersistentReservations.Reservation(0xabc, Type.WRITE_EXCLUSIVE_REGISTRANTS_ONLY),
                    pr.reservation().orElseThrow());
            thick.write(ByteBuffer.allocate(4096), 0);
            pr.release(0xabc, Type.WRITE_EXCLUSIVE_REGISTRANTS_ONLY);
            assertTrue(pr.reservation().isEmpty());
            pr.unregister(0xabc);
            assertFalse(pr.keys().contains(0xabcL));
        }
    }

    @Test
    void chapRightAndWrong() {
        Tgt.Target t = tgt.tgt.addTarget(2, "iqn.2026-12.test:chap");
        tgt.tgt.addLun(t, 1, "chap", 16L << 20, false);
        tgt.tgt.chap(t, "strata", "s3cret-s3cret-1");
        StorageResource ok = attach("chap-ok", Map.of("target", t.iqn(), "chap-user", "strata",
                "chap-secret", "s3cret-s3cret-1"));
        assertEquals(1, ok.devices().size());
        assertFalse(ok.toString().contains("s3cret"));
        StorageException e = assertCode(ErrorCode.PERMISSION_DENIED, () -> attach("chap-bad",
                Map.of("target", t.iqn(), "chap-user", "strata", "chap-secret", "wrong-wrong-wrong")));
        assertFalse(e.getMessage().contains("wrong-wrong-wrong"), e.getMessage());
        assertTrue(e.getMessage().contains("CHAP"), e.getMessage());
        e = assertCode(ErrorCode.PERMISSION_DENIED, () -> attach("chap-none", Map.of("target", t.iqn())));
    }

    @Test
    void noPortalAnswering() {
        tgt.tgt.block(Tgt.PORTAL_1);
        tgt.tgt.block(Tgt.PORTAL_2);
        StorageException e = assertCode(ErrorCode.DEVICE_UNAVAILABLE, () -> attach("gone",
                Map.of("timeout", "2")));
        assertTrue(e.getMessage().contains("no portal answers"), e.getMessage());
        tgt.tgt.unblock(Tgt.PORTAL_1);
        tgt.tgt.unblock(Tgt.PORTAL_2);
        tgt.close();
        e = assertCode(ErrorCode.DEVICE_UNAVAILABLE, () -> attach("gone", Map.of("timeout", "2")));
    }

    @Test
    void droppedSessionsUnderIoAreReconnectedWithoutErrors() throws Exception {
        StorageResource r = attach("san", Map.of("no-path-retry", "30"));
        IscsiResource ir = (IscsiResource) r;
        try (BlockDevice dev = (BlockDevice) r.openDevice(device(r, TgtFixture.THICK_SIZE).id())) {
            AtomicBoolean stop = new AtomicBoolean();
            ExecutorService pool = Executors.newFixedThreadPool(4);
            List<Future<Integer>> fs = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                int thread = t;
                fs.add(pool.submit(() -> {
                    Random rnd = new Random(thread);
                    int n = 0;
                    while (!stop.get()) {
                        byte[] data = new byte[4096];
                        rnd.nextBytes(data);
                        long off = thread * (1L << 20) + 4096L * rnd.nextInt(256);
                        dev.write(ByteBuffer.wrap(data), off);
                        ByteBuffer back = ByteBuffer.allocate(4096);
                        dev.read(back, off);
                        assertArrayEquals(data, back.array());
                        n++;
                    }
                    return n;
                }));
            }
            Thread.sleep(300);
            for (int round = 0; round < 3; round++) {
                for (int sid : tgt.tgt.sessions(tgt.target)) {
                    tgt.tgt.dropSession(tgt.target, sid);
                }
                Thread.sleep(200);
                ir.checkNow();
                Thread.sleep(300);
            }
            ir.checkNow();
            stop.set(true);
            int total = 0;
            for (Future<Integer> f : fs) {
                total += f.get();
            }
            pool.shutdownNow();
            assertTrue(total > 0);
            // the checker brings every path back (several rounds when a session is still logging in)
            for (int i = 0; i < 20 && r.paths().stream().anyMatch(
                    p -> p.state() != io.strata.api.device.DeviceState.ONLINE); i++) {
                Thread.sleep(250);
                ir.checkNow();
            }
            assertEquals(2, tgt.tgt.sessions(tgt.target).size());
            for (PathInfo p : r.paths()) {
                assertEquals(io.strata.api.device.DeviceState.ONLINE, p.state(), p.toString());
            }
        }
    }

    @Test
    void closeStopsEveryThread() throws Exception {
        StorageResource r = attach("san", Map.of());
        r.devices();
        assertTrue(Session.liveThreads() > 0);
        r.close();
        opened.remove(r);
        assertEquals(0, Session.liveThreads());
        assertEquals(0, tgt.tgt.sessions(tgt.target).size() == 0 ? 0 : waitNoSessions());
    }

    private int waitNoSessions() throws InterruptedException {
        for (int i = 0; i < 50 && !tgt.tgt.sessions(tgt.target).isEmpty(); i++) {
            Thread.sleep(100);
        }
        return tgt.tgt.sessions(tgt.target).size();
    }
}

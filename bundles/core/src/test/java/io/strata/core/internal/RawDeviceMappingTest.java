package io.strata.core.internal;

import static io.strata.core.internal.Assertions2.fails;
import static io.strata.core.internal.Fixture.ref;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.format.CheckReport;
import io.strata.api.format.VirtualDisk;
import io.strata.api.service.VolumeInfo;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Raw device mapping: a whole block device used as a volume, through the core with the test
 * driver's memory LUNs (whose bytes outlive a detach). The same with a real iSCSI LUN, an NBD
 * export, qemu-io and fio is in the integration tests (SanIT).
 */
class RawDeviceMappingTest {
    @TempDir
    Path tmp;
    Fixture f;
    Path lunPath;
    TestDriver san = new TestDriver("memsan");

    @BeforeEach
    void setUp() {
        f = Fixture.withDatastore(tmp);
        f.core.addDriver(san, "memsan", "io.strata.test.memsan");
        lunPath = tmp.resolve("san");
        f.resources.add("san", "memsan", Map.of("kind", "mem-luns", "path", lunPath.toString()));
    }

    @AfterEach
    void tearDown() {
        TestDriver.MemLun.ASYNC = null;
        f.close();
        TestDriver.MemLun.DATA.keySet().removeIf(k -> k.startsWith(lunPath.toString()));
        TestDriver.MemLun.IDENTITIES.keySet().removeIf(k -> k.startsWith(lunPath.toString()));
    }

    private byte[] lun(String id) {
        return TestDriver.MemLun.bytes(lunPath, id);
    }

    private static byte[] pattern(int length, int seed) {
        byte[] b = new byte[length];
        for (int i = 0; i < length; i++) {
            b[i] = (byte) (seed + i * 31);
        }
        return b;
    }

    @Test
    void theVolumesBytesAreTheDevicesBytes() {
        VolumeInfo v = f.core.mapDevice(ref("ds1/raw1"), "san", "m1");
        assertEquals("rdm", v.format());
        assertEquals(TestDriver.MemLun.SIZE, v.virtualSize());
        assertTrue(Files.exists(f.dsDir().resolve("raw1.rdm")), "the datastore keeps a mapping file");
        byte[] aligned = pattern(8192, 1);
        byte[] unaligned = pattern(1000, 7);
        try (VirtualDisk d = f.core.open(ref("ds1/raw1"), false)) {
            d.write(ByteBuffer.wrap(aligned), 4096);
            d.write(ByteBuffer.wrap(unaligned), 100_001); // spans sector edges: read-modify-write
            d.flush();
            ByteBuffer back = ByteBuffer.allocate(1000);
            d.read(back, 100_001);
            assertArrayEquals(unaligned, back.array());
        }
        assertArrayEquals(aligned, Arrays.copyOfRange(lun("m1"), 4096, 4096 + 8192), "bytes at the same offset on the LUN");
        assertArrayEquals(unaligned, Arrays.copyOfRange(lun("m1"), 100_001, 101_001));
        assertEquals(0, lun("m1")[100_000], "the bytes around an unaligned write are kept");
        assertEquals(0, lun("m1")[101_001]);
    }

    @Test
    void aDeviceIsMappedOnceAndNeverFormattedWhileMapped() {
        f.core.mapDevice(ref("ds1/raw1"), "san", "m1");
        fails(ErrorCode.RESOURCE_IN_USE, () -> f.core.mapDevice(ref("ds1/raw2"), "san", "m1"));
        String why = fails(ErrorCode.RESOURCE_IN_USE, () -> f.core.create("ds2", "dir", "san/m1", Map.of(), true))
                .getMessage();
        assertTrue(why.contains("ds1/raw1"), why);
        fails(ErrorCode.ALREADY_EXISTS, () -> f.core.mapDevice(ref("ds1/raw1"), "san", "m2"));
        fails(ErrorCode.INVALID_ARGUMENT, () -> f.core.mapDevice(ref("ds1/share"), "r1", "dir"));
        fails(ErrorCode.DEVICE_NOT_FOUND, () -> f.core.mapDevice(ref("ds1/x"), "san", "m9"));
        fails(ErrorCode.INVALID_NAME, () -> f.core.mapDevice(ref("ds1/x"), "san", "../m1"));
    }

    @Test
    void whatNeedsAnImageFormatIsRefusedAndDeleteLeavesTheDeviceAlone() {
        f.core.mapDevice(ref("ds1/raw1"), "san", "m1");
        try (VirtualDisk d = f.core.open(ref("ds1/raw1"), false)) {
            d.write(ByteBuffer.wrap(pattern(512, 3)), 0);
            d.flush();
        }
        SnapshotServiceImpl snaps = new SnapshotServiceImpl(f.core);
        fails(ErrorCode.UNSUPPORTED, () -> snaps.create(ref("ds1/raw1"), "s1"));
        fails(ErrorCode.UNSUPPORTED, () -> f.core.resize(ref("ds1/raw1"), 8 << 20));
        fails(ErrorCode.UNSUPPORTED, () -> f.core.clone(ref("ds1/raw1"), null, ref("ds1/c1"), true, null, null));
        f.core.delete(ref("ds1/raw1"));
        assertFalse(Files.exists(f.dsDir().resolve("raw1.rdm")));
        assertArrayEquals(pattern(512, 3), Arrays.copyOf(lun("m1"), 512), "deleting the mapping keeps the data");
        f.core.mapDevice(ref("ds1/again"), "san", "m1"); // free to map again
    }

    @Test
    void anExportedVolumeFailsWhileItsDriverIsGoneThenServesTheSameBytes() {
        f.core.mapDevice(ref("ds1/raw1"), "san", "m1");
        byte[] data = pattern(4096, 9);
        try (VirtualDisk d = f.core.open(ref("ds1/raw1"), false)) {
            d.write(ByteBuffer.wrap(data), 0);
            f.core.removeDriver(san);
            fails(ErrorCode.DEVICE_UNAVAILABLE, () -> d.read(ByteBuffer.allocate(4096), 0));
            fails(ErrorCode.DEVICE_UNAVAILABLE, () -> d.write(ByteBuffer.allocate(4096), 0));
            san = new TestDriver("memsan");
            f.core.addDriver(san, "memsan", "io.strata.test.memsan");
            ByteBuffer back = ByteBuffer.allocate(4096);
            d.read(back, 0); // the same handle: the device is opened again through the new driver
            assertArrayEquals(data, back.array());
        }
    }

    /**
     * readAsync and writeAsync of a mapped volume start on the device and return; the volume's
     * accounting and its gate end when the device completes them; a device gone when one starts
     * is opened again, one that goes while it runs fails it with DEVICE_UNAVAILABLE.
     */
    @Test
    void asyncIoStartsOnTheDeviceAndIsCountedWhenItCompletes() throws Exception {
        List<Runnable> held = new java.util.concurrent.CopyOnWriteArrayList<>();
        TestDriver.MemLun.ASYNC = held::add;
        f.core.mapDevice(ref("ds1/raw1"), "san", "m1");
        VolumeIoServiceImpl stats = new VolumeIoServiceImpl(f.core);
        byte[] data = pattern(4096, 5);
        try (VirtualDisk d = f.core.open(ref("ds1/raw1"), false)) {
            assertTrue(d.concurrentIo());
            ByteBuffer src = ByteBuffer.allocateDirect(4096).put(data).flip();
            CompletableFuture<Void> w = d.writeAsync(src, 8192);
            assertFalse(w.isDone(), "the write waits for the device");
            assertEquals(1, held.size());
            assertEquals(0, stats.stats(ref("ds1/raw1")).write().ops(), "counted when done, not when started");
            assertEquals(1, stats.stats(ref("ds1/raw1")).queueDepth());
            runAll(held);
            w.get(10, TimeUnit.SECONDS);
            assertEquals(1, stats.stats(ref("ds1/raw1")).write().ops());
            assertEquals(0, stats.stats(ref("ds1/raw1")).queueDepth());
            assertArrayEquals(data, Arrays.copyOfRange(lun("m1"), 8192, 8192 + 4096));

            ByteBuffer back = ByteBuffer.allocateDirect(4096);
            CompletableFuture<Void> r = d.readAsync(back, 8192);
            runAll(held);
            r.get(10, TimeUnit.SECONDS);
            byte[] got = new byte[4096];
            back.flip().get(got);
            assertArrayEquals(data, got);
            assertEquals(1, stats.stats(ref("ds1/raw1")).read().ops());

            // the driver goes while a read is under way: it fails; the next one reopens the device
            CompletableFuture<Void> lost = d.readAsync(ByteBuffer.allocateDirect(4096), 0);
            f.core.removeDriver(san);
            runAll(held);
            ExecutionException e = assertThrows(ExecutionException.class, () -> lost.get(10, TimeUnit.SECONDS));
            assertEquals(ErrorCode.DEVICE_UNAVAILABLE, ((StorageException) e.getCause()).code());
            san = new TestDriver("memsan");
            f.core.addDriver(san, "memsan", "io.strata.test.memsan");
            ByteBuffer again = ByteBuffer.allocateDirect(4096);
            CompletableFuture<Void> r2 = d.readAsync(again, 8192);
            runAll(held);
            r2.get(10, TimeUnit.SECONDS);
            again.flip().get(got);
            assertArrayEquals(data, got);
        }
        // every gate taken for the async I/O was given back: the volume can be deleted
        assertTimeoutPreemptively(java.time.Duration.ofSeconds(30), () -> f.core.delete(ref("ds1/raw1")));
    }

    private static void runAll(List<Runnable> held) {
        while (!held.isEmpty()) {
            held.remove(0).run();
        }
    }

    @Test
    void aReplacedLunOrADamagedMappingIsRefusedAndReportedByTheChecker() throws Exception {
        f.core.mapDevice(ref("ds1/raw1"), "san", "m1");
        f.core.mapDevice(ref("ds1/raw2"), "san", "m2");
        TestDriver.MemLun.IDENTITIES.put(lunPath + "/m1", "wwid:naa.0000000000000001");
        String why = fails(ErrorCode.DEVICE_UNAVAILABLE, () -> f.core.open(ref("ds1/raw1"), false)).getMessage();
        assertTrue(why.contains("no longer the LUN"), why);
        List<CheckReport> reports = f.core.check(ref("ds1/raw1"), false);
        assertFalse(reports.get(0).clean(), "the checker reports the replaced LUN");

        Files.writeString(f.dsDir().resolve("raw2.rdm"), "{\"strata-rdm\": 1, \"resource\": \"san\"}");
        fails(ErrorCode.CORRUPT_IMAGE, () -> f.core.open(ref("ds1/raw2"), false));
        assertFalse(f.core.check(ref("ds1/raw2"), false).get(0).clean());
    }
}

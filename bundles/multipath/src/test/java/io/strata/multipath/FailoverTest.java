package io.strata.multipath;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.device.BlockDevice;
import io.strata.api.device.DeviceState;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class FailoverTest {
    private static final int THREADS = 8;
    private static final int PER_THREAD = 150;

    private static byte[] pattern(int thread, int i) {
        byte[] b = new byte[Fixture.SECTOR];
        for (int k = 0; k < b.length; k++) {
            b[k] = (byte) (thread * 31 + i * 7 + k);
        }
        return b;
    }

    @Test
    void concurrentWritesSurviveAPathFailingMidIo() throws Exception {
        for (String policy : List.of("round-robin", "service-time", "mru")) {
            try (Fixture f = new Fixture(THREADS * PER_THREAD, List.of("a", "b", "c"), "policy", policy)) {
                BlockDevice d = f.open();
                AtomicInteger seen = new AtomicInteger();
                FakePath victim = f.path(policy.equals("mru") ? "a" : "b");
                // after some I/O the victim drops every I/O half way through
                for (FakePath p : f.paths) {
                    p.beforeIo = path -> {
                        if (seen.incrementAndGet() == THREADS * PER_THREAD / 3) {
                            victim.ioMode = FakePath.Mode.PARTIAL;
                        }
                    };
                }
                ExecutorService pool = Executors.newFixedThreadPool(THREADS);
                try {
                    List<Future<?>> jobs = new ArrayList<>();
                    for (int t = 0; t < THREADS; t++) {
                        int thread = t;
                        jobs.add(pool.submit(() -> {
                            for (int i = 0; i < PER_THREAD; i++) {
                                long sector = (long) thread * PER_THREAD + i;
                                d.write(ByteBuffer.wrap(pattern(thread, i)), sector * Fixture.SECTOR);
                            }
                            return null;
                        }));
                    }
                    for (Future<?> j : jobs) {
                        j.get(60, TimeUnit.SECONDS); // throws if any caller saw an error
                    }
                } finally {
                    pool.shutdownNow();
                }
                assertEquals(FakePath.Mode.PARTIAL, victim.ioMode, policy);
                assertEquals(DeviceState.OFFLINE, f.info(victim.id).state(), policy);
                assertTrue(f.info(victim.id).errors() >= 1, policy);
                assertEquals(DeviceState.DEGRADED, d.state(), policy);
                for (int t = 0; t < THREADS; t++) {
                    for (int i = 0; i < PER_THREAD; i++) {
                        ByteBuffer back = ByteBuffer.allocate(Fixture.SECTOR);
                        d.read(back, ((long) t * PER_THREAD + i) * Fixture.SECTOR);
                        assertArrayEquals(pattern(t, i), back.array(), policy + " thread " + t + " sector " + i);
                    }
                }
            }
        }
    }

    @Test
    void retriedIoStartsFromTheCallersBufferPositions() {
        try (Fixture f = new Fixture(List.of("a", "b"), "policy", "fixed")) {
            BlockDevice d = f.open();
            f.path("a").ioMode = FakePath.Mode.PARTIAL;
            ByteBuffer src = ByteBuffer.allocate(100 + 2 * Fixture.SECTOR + 50);
            for (int i = 0; i < src.capacity(); i++) {
                src.put(i, (byte) (i * 13));
            }
            src.position(100).limit(100 + 2 * Fixture.SECTOR);
            d.write(src, 4 * Fixture.SECTOR);
            assertEquals(100 + 2 * Fixture.SECTOR, src.position());
            byte[] expected = new byte[2 * Fixture.SECTOR];
            src.get(100, expected);
            assertArrayEquals(expected, f.lun.bytes(4 * Fixture.SECTOR, 2 * Fixture.SECTOR));
            assertEquals(1, f.info("a").errors());
            assertEquals(1, f.path("b").writes.get());
        }
    }

    @Test
    void retriedReadFillsTheBufferFromItsOriginalPosition() {
        try (Fixture f = new Fixture(List.of("a", "b"), "policy", "fixed")) {
            BlockDevice d = f.open();
            Fixture.writeSector(d, 2, 0x33);
            Fixture.writeSector(d, 3, 0x44);
            f.path("a").ioMode = FakePath.Mode.PARTIAL;
            ByteBuffer dst = ByteBuffer.allocate(10 + 2 * Fixture.SECTOR);
            dst.position(10);
            d.read(dst, 2 * Fixture.SECTOR);
            assertEquals(dst.capacity(), dst.position());
            for (int i = 0; i < 10; i++) {
                assertEquals(0, dst.get(i));
            }
            for (int i = 0; i < Fixture.SECTOR; i++) {
                assertEquals(0x33, dst.get(10 + i));
                assertEquals(0x44, dst.get(10 + Fixture.SECTOR + i));
            }
            assertEquals(1, f.info("a").errors());
        }
    }

    @Test
    void deviceErrorsArePassedUpAndNotRetried() {
        try (Fixture f = new Fixture(List.of("a", "b"), "policy", "fixed")) {
            BlockDevice d = f.open();
            StorageException medium = new StorageException(ErrorCode.IO_ERROR, "medium error at LBA 8");
            f.path("a").deviceError = medium;
            StorageException e = assertThrows(StorageException.class, () -> Fixture.writeSector(d, 8, 1));
            assertSame(medium, e);
            assertEquals(0, f.path("b").ios.get(), "not retried on another path");
            assertEquals(DeviceState.ONLINE, f.info("a").state());
            assertEquals(0, f.info("a").errors());
            assertEquals(DeviceState.ONLINE, d.state());
        }
    }

    @Test
    void flushAndCompareAndWriteFailOverToo() {
        try (Fixture f = new Fixture(List.of("a", "b"), "policy", "fixed")) {
            BlockDevice d = f.open();
            f.path("a").cawSupported = true;
            f.path("b").cawSupported = true;
            f.path("a").ioMode = FakePath.Mode.FAIL;
            d.flush();
            assertEquals(1, f.path("b").ios.get());
            ByteBuffer expected = ByteBuffer.allocate(Fixture.SECTOR);
            assertTrue(d.compareAndWrite(expected, Fixture.sectorOf(9), 0));
            assertEquals(0, expected.remaining());
            assertArrayEquals(Fixture.sectorOf(9).array(), f.lun.bytes(0, Fixture.SECTOR));
            assertEquals(false, d.compareAndWrite(ByteBuffer.allocate(Fixture.SECTOR), Fixture.sectorOf(1), 0));
        }
    }
}

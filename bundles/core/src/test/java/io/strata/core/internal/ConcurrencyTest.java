package io.strata.core.internal;

import static io.strata.core.internal.Fixture.ref;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.format.Provisioning;
import io.strata.api.service.VolumeInfo;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Operations racing each other on one datastore. */
class ConcurrencyTest {
    @TempDir
    Path tmp;
    Fixture f;
    ExecutorService pool;

    @BeforeEach
    void setUp() {
        f = Fixture.withDatastore(tmp);
        pool = Executors.newFixedThreadPool(4);
    }

    @AfterEach
    void tearDown() throws InterruptedException {
        pool.shutdownNow();
        pool.awaitTermination(10, TimeUnit.SECONDS);
        f.close();
    }

    private List<ErrorCode> race(List<Callable<Object>> tasks) throws Exception {
        CountDownLatch start = new CountDownLatch(1);
        List<Future<ErrorCode>> futures = new ArrayList<>();
        for (Callable<Object> t : tasks) {
            futures.add(pool.submit(() -> {
                start.await();
                try {
                    t.call();
                    return null;
                } catch (StorageException e) {
                    return e.code();
                }
            }));
        }
        start.countDown();
        List<ErrorCode> codes = new ArrayList<>();
        for (Future<ErrorCode> fu : futures) {
            codes.add(fu.get(30, TimeUnit.SECONDS));
        }
        return codes;
    }

    @RepeatedTest(5)
    @Timeout(60)
    void thickVolumesThatFitOnlyOneAtATimeNeverBothGetIn() throws Exception {
        long size = 40L << 20; // two of them exceed the 64 MiB datastore
        List<ErrorCode> codes = race(List.of(
                () -> f.core.create(ref("ds1/a"), size, "tst", Provisioning.THICK),
                () -> f.core.create(ref("ds1/b"), size, "tst", Provisioning.THICK_LAZY)));
        assertEquals(1, Collections.frequency(codes, null), codes.toString());
        assertEquals(1, Collections.frequency(codes, ErrorCode.DATASTORE_FULL), codes.toString());
        assertEquals(1, f.core.list("ds1").size());
    }

    @RepeatedTest(5)
    @Timeout(60)
    void oneNameOneVolume() throws Exception {
        List<Callable<Object>> tasks = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            String format = i % 2 == 0 ? "tst" : "raw";
            tasks.add(() -> f.core.create(ref("ds1/same"), 1 << 20, format, Provisioning.THIN));
        }
        List<ErrorCode> codes = race(tasks);
        assertEquals(1, Collections.frequency(codes, null), codes.toString());
        assertTrue(codes.stream().allMatch(c -> c == null || c == ErrorCode.ALREADY_EXISTS
                || c == ErrorCode.VOLUME_IN_USE), codes.toString());
        List<VolumeInfo> vols = f.core.list("ds1");
        assertEquals(1, vols.size());
        assertEquals(List.of(Catalog.FILE, MountedDatastore.RESERVE, vols.get(0).file()), f.core.datastore("ds1").list());
    }

    @RepeatedTest(5)
    @Timeout(60)
    void deleteRacingOpenLeavesOneWinner() throws Exception {
        f.core.create(ref("ds1/v"), 1 << 20, "tst", Provisioning.THIN);
        List<ErrorCode> codes = race(List.of(
                () -> {
                    f.core.delete(ref("ds1/v"));
                    return null;
                },
                () -> f.core.open(ref("ds1/v"), false)));
        if (codes.get(0) == null) {
            // deleted first: the open found nothing (or saw it being deleted)
            assertTrue(codes.get(1) == ErrorCode.VOLUME_NOT_FOUND || codes.get(1) == ErrorCode.VOLUME_IN_USE,
                    codes.toString());
            assertTrue(f.core.list("ds1").isEmpty());
        } else {
            assertEquals(ErrorCode.VOLUME_IN_USE, codes.get(0), codes.toString());
            assertEquals(null, codes.get(1));
            assertEquals(1, f.core.list("ds1").size());
        }
    }
}

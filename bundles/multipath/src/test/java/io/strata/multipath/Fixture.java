package io.strata.multipath;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.strata.api.device.BlockDevice;
import io.strata.api.device.DeviceInfo;
import io.strata.api.device.DeviceKind;
import io.strata.api.device.PathInfo;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;

/** One multipath instance on a manual clock with one LUN and its fake paths; closed by the test. */
final class Fixture implements AutoCloseable {
    static final int SECTOR = 512;
    /** Generous real-time limit for anything a test waits for. */
    static final long WAIT_MS = 20_000;

    final ManualClock clock = new ManualClock();
    final FakeLun lun;
    final Multipath mp;
    final List<FakePath> paths = new ArrayList<>();
    private final List<BlockDevice> handles = new ArrayList<>();

    /**
     * @param pathIds the paths to add to device {@code lun0}
     * @param params parameter name, value, name, value...; checker-interval defaults to 3600 so
     *        that only {@link Multipath#checkNow()} runs checks
     */
    Fixture(List<String> pathIds, String... params) {
        this(64, pathIds, params);
    }

    Fixture(int sectors, List<String> pathIds, String... params) {
        Map<String, String> p = new HashMap<>();
        p.put("checker-interval", "3600");
        for (int i = 0; i < params.length; i += 2) {
            p.put(params[i], params[i + 1]);
        }
        lun = new FakeLun("wwid:naa.6001405fake0001", SECTOR, sectors);
        mp = new Multipath("res1", p, clock);
        for (String id : pathIds) {
            FakePath fp = new FakePath(id, lun);
            paths.add(fp);
            mp.add("lun0", fp);
        }
    }

    FakePath path(String id) {
        for (FakePath p : paths) {
            if (p.id.equals(id)) {
                return p;
            }
        }
        throw new IllegalArgumentException(id);
    }

    BlockDevice open() {
        BlockDevice d = mp.open(new DeviceInfo("res1", "lun0", DeviceKind.BLOCK, lun.size(), SECTOR, "fake LUN"));
        handles.add(d);
        return d;
    }

    PathInfo info(String pathId) {
        for (PathInfo pi : mp.paths()) {
            if (pi.id().equals(pathId)) {
                return pi;
            }
        }
        throw new AssertionError("no path " + pathId + " in " + mp.paths());
    }

    /** Writes one sector filled with {@code value} at sector {@code sector}. */
    static void writeSector(BlockDevice d, long sector, int value) {
        d.write(sectorOf(value), sector * SECTOR);
    }

    static ByteBuffer sectorOf(int value) {
        byte[] b = new byte[SECTOR];
        Arrays.fill(b, (byte) value);
        return ByteBuffer.wrap(b);
    }

    /** Waits (real time, generous) until {@code condition} holds. */
    static void await(String what, BooleanSupplier condition) {
        long end = System.nanoTime() + WAIT_MS * 1_000_000L;
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() - end > 0) {
                fail("timed out waiting until " + what);
            }
            try {
                Thread.sleep(2);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                fail("interrupted");
            }
        }
        assertTrue(condition.getAsBoolean());
    }

    @Override
    public void close() {
        for (FakePath p : paths) {
            p.release();
        }
        for (BlockDevice d : handles) {
            d.close();
        }
        mp.close();
    }
}

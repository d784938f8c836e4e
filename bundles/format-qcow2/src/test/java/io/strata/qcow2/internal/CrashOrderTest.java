package io.strata.qcow2.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.api.format.CheckReport;
import io.strata.api.format.DiskSpec;
import io.strata.api.format.Provisioning;
import io.strata.api.format.VirtualDisk;
import io.strata.testing.MemoryFile;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Simulates a crash after every single file operation of a workload on a child image
 * (allocations with copy-on-write, new L2 tables, zeroing, trim, growth that moves the L1
 * table): each prefix of the operation log is replayed onto the image as it was. As a
 * power loss may also drop any write issued since the last flush, each prefix is also
 * replayed with random subsets of its unflushed tail. Every result must open, pass the
 * checker with no errors (leaks allowed), and return every write a completed flush covered.
 */
class CrashOrderTest {
    private static final long MIB = 1L << 20;

    private record Done(long offset, byte[] data, int flushedAt) {
    }

    @Test
    void everyPrefixOpensPassesTheCheckerAndKeepsFlushedWrites() {
        Qcow2Format format = new Qcow2Format();
        Fixtures.MemoryStore store = new Fixtures.MemoryStore();
        try (VirtualDisk base = format.create(store.file("base.qcow2"), new DiskSpec(8 * MIB, Provisioning.THIN))) {
            byte[] b = new byte[(int) (8 * MIB)];
            new Random(1).nextBytes(b);
            base.write(ByteBuffer.wrap(b), 0);
        }
        MemoryFile live = store.file("top.qcow2");
        format.createChild(live, "base.qcow2", store).close();
        MemoryFile start = live.copy();
        live.clearLog();

        List<Done> done = new ArrayList<>();
        long[][] plan = {{100, 300}, {MIB - 1000, 70_000}, {3 * MIB, 4096}, {5 * MIB + 7, 200_000},
            {7 * MIB + 65536, 65536}, {6 * MIB + 3, 10}};
        try (VirtualDisk d = format.open(live, false, store)) {
            int n = 0;
            for (long[] w : plan) {
                byte[] data = new byte[(int) w[1]];
                Arrays.fill(data, (byte) (++n * 31));
                d.write(ByteBuffer.wrap(data), w[0]);
                int flushedAt = Integer.MAX_VALUE;
                if (n % 2 == 0) {
                    d.flush();
                    flushedAt = live.log().size();
                }
                done.add(new Done(w[0], data, flushedAt));
                if (n == 3) {
                    d.writeZeroes(2 * MIB, 3 * 65536);
                    d.trim(4 * MIB, 2 * 65536 + 5);
                    d.resize(900L << 30); // a second L1 cluster: the table moves
                }
            }
            byte[] far = new byte[5000];
            Arrays.fill(far, (byte) 0x5a);
            d.write(ByteBuffer.wrap(far), 800L << 30);
            d.flush();
            done.add(new Done(800L << 30, far, live.log().size()));
        }
        List<MemoryFile.Op> log = live.log();
        assertTrue(log.size() > 30, "workload too small: " + log.size());
        Random rnd = new Random(99);
        int replays = 0;
        for (int k = 0; k <= log.size(); k++) {
            int lastFlush = -1;
            for (int i = 0; i < k; i++) {
                if (log.get(i).kind().equals("flush")) {
                    lastFlush = i;
                }
            }
            for (int variant = 0; variant < (k - lastFlush > 2 ? 3 : 1); variant++) {
                MemoryFile crashed = start.copy();
                for (int i = 0; i < k; i++) {
                    boolean unflushed = i > lastFlush;
                    if (variant == 0 || !unflushed || rnd.nextBoolean()) {
                        crashed.apply(log.get(i));
                    }
                }
                verify(format, store, crashed, done, k, variant);
                replays++;
            }
        }
        assertTrue(replays > log.size());
    }

    private static void verify(Qcow2Format format, Fixtures.MemoryStore store, MemoryFile crashed, List<Done> done,
            int k, int variant) {
        String where = "prefix " + k + " variant " + variant;
        try (VirtualDisk d = format.open(crashed, true, store)) {
            for (Done w : done) {
                if (k >= w.flushedAt() && w.offset() + w.data().length <= d.virtualSize()) {
                    byte[] got = new byte[w.data().length];
                    d.read(ByteBuffer.wrap(got), w.offset());
                    assertArrayEquals(w.data(), got, where + ": flushed write at " + w.offset() + " lost");
                }
            }
        } catch (RuntimeException e) {
            throw new AssertionError(where + " does not open: " + e.getMessage(), e);
        }
        CheckReport r = format.check(crashed, store, false);
        assertTrue(r.errors().isEmpty(), where + ": " + r.errors());
        if (!r.leaks().isEmpty()) {
            MemoryFile repaired = crashed.copy();
            CheckReport after = format.check(repaired, store, true);
            assertTrue(after.clean(), where + " after repair: " + after);
        }
    }
}

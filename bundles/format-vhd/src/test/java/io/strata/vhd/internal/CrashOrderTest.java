package io.strata.vhd.internal;

import io.strata.testing.MemoryFile;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.api.format.DiskSpec;
import io.strata.api.format.Provisioning;
import io.strata.api.format.VirtualDisk;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Simulates a kill -9 after every single file operation: each prefix of the
 * operations a workload issued is replayed onto the image as it was, and the
 * result must open, show every write either completely or not at all (never
 * garbage), keep every write that a flush covered, and have the old or the new
 * size around a resize.
 */
class CrashOrderTest {
    private static final long MIB = 1L << 20;

    private record Written(long offset, byte[] data, int logIndexWhenFlushed) {
    }

    @Test
    void everyPrefixOfTheWriteLogOpensConsistently() {
        VhdFormat format = new VhdFormat();
        MemoryFile live = new MemoryFile("c.vhd");
        long oldSize = 9 * MIB;
        long newSize = 3000 * MIB;
        format.create(live, new DiskSpec(oldSize, Provisioning.THIN)).close();
        MemoryFile base = live.copy();
        live.clearLog();

        List<long[]> plan = List.of(
                new long[] {0, 4096}, new long[] {2 * MIB - 100, 300}, new long[] {5 * MIB + 7, 10000},
                new long[] {3 * MIB + 100, 50}, new long[] {8 * MIB, 4096});
        List<Written> writes = new ArrayList<>();
        List<Integer> resizeDone = new ArrayList<>();
        try (VirtualDisk d = format.open(live, false)) {
            int n = 0;
            for (long[] w : plan) {
                byte[] data = new byte[(int) w[1]];
                Arrays.fill(data, (byte) (++n * 17));
                d.write(ByteBuffer.wrap(data), w[0]);
                int flushedAt = Integer.MAX_VALUE;
                if (n % 2 == 0) {
                    d.flush();
                    flushedAt = live.log().size();
                }
                writes.add(new Written(w[0], data, flushedAt));
                if (n == 3) {
                    d.resize(newSize);
                    resizeDone.add(live.log().size());
                }
            }
            byte[] late = new byte[4096];
            Arrays.fill(late, (byte) 99);
            d.write(ByteBuffer.wrap(late), 2000 * MIB);
            writes.add(new Written(2000 * MIB, late, Integer.MAX_VALUE));
        }
        List<MemoryFile.Op> log = live.log();
        assertTrue(log.size() > 20, "workload too small: " + log.size());

        for (int k = 0; k <= log.size(); k++) {
            MemoryFile crashed = base.copy();
            for (int i = 0; i < k; i++) {
                crashed.apply(log.get(i));
            }
            try (VirtualDisk d = format.open(crashed, true)) {
                long size = d.virtualSize();
                assertTrue(size == oldSize || size == newSize, "prefix " + k + ": size " + size);
                if (k >= resizeDone.get(0)) {
                    assertEquals(newSize, size, "prefix " + k + ": resize was complete");
                }
                for (Written w : writes) {
                    if (w.offset() + w.data().length > size) {
                        continue;
                    }
                    // a write that spans blocks is atomic per block, as a disk's is per sector
                    long pos = w.offset();
                    long end = w.offset() + w.data().length;
                    while (pos < end) {
                        long pieceEnd = Math.min(end, (pos / (2 * MIB) + 1) * 2 * MIB);
                        int from = (int) (pos - w.offset());
                        byte[] expect = Arrays.copyOfRange(w.data(), from, from + (int) (pieceEnd - pos));
                        ByteBuffer b = ByteBuffer.allocate(expect.length);
                        d.read(b, pos);
                        boolean all = Arrays.equals(b.array(), expect);
                        boolean none = Arrays.equals(b.array(), new byte[expect.length]);
                        assertTrue(all || none, "prefix " + k + ": torn or garbage data at " + pos);
                        if (k >= w.logIndexWhenFlushed()) {
                            assertTrue(all, "prefix " + k + ": flushed write at " + pos + " lost");
                        }
                        pos = pieceEnd;
                    }
                }
            } catch (RuntimeException e) {
                throw new AssertionError("prefix " + k + " of " + log.size() + " (" + (k > 0 ? log.get(k - 1).kind()
                        + "@" + log.get(k - 1).position() : "start") + ") does not open: " + e.getMessage(), e);
            }
        }
        // and the full log gives the full data
        try (VirtualDisk d = format.open(live, true)) {
            for (Written w : writes) {
                ByteBuffer b = ByteBuffer.allocate(w.data().length);
                d.read(b, w.offset());
                assertArrayEquals(w.data(), b.array());
            }
        }
    }

    /**
     * The same for a differencing child: non-overlapping writes (partial sectors, new
     * and allocated blocks), a trim and a populate. At every prefix the chain opens,
     * the checker finds no error, every sector shows either what it had or what the
     * write put there (never zeros for a parent's data, never garbage), and every
     * write a completed flush covered is there.
     */
    @Test
    void everyPrefixOfAChildsWriteLogOpensAndChecksClean() {
        VhdFormat format = new VhdFormat();
        MemoryStore store = new MemoryStore();
        long size = 8 * MIB;
        byte[] parent = new byte[(int) size];
        try (VirtualDisk p = format.create(store.create("p.vhd"), new DiskSpec(size, Provisioning.THIN))) {
            byte[] data = DifferencingTest.pattern((int) (5 * MIB), 1);
            p.write(ByteBuffer.wrap(data), 0);
            System.arraycopy(data, 0, parent, 0, data.length);
        }
        MemoryFile live = store.create("c.vhd");
        format.createChild(live, "p.vhd", store).close();
        MemoryFile base = live.copy();
        live.clearLog();

        long[][] plan = {{100, 50}, {2 * MIB + 700, 3000}, {1324, 1000}, {6 * MIB + 1, 9000},
            {2 * MIB + 8000, 512}, {4 * MIB - 10, 20}};
        List<Written> writes = new ArrayList<>();
        int trimFlushed;
        try (VirtualDisk d = format.open(live, false, store)) {
            int n = 0;
            for (long[] w : plan) {
                byte[] data = DifferencingTest.pattern((int) w[1], ++n);
                d.write(ByteBuffer.wrap(data), w[0]);
                int flushedAt = Integer.MAX_VALUE;
                if (n % 2 == 0) {
                    d.flush();
                    flushedAt = live.log().size();
                }
                writes.add(new Written(w[0], data, flushedAt));
            }
            d.trim(4 * MIB + 4096, 2 * MIB); // parent has data in part of it: zeroed sectors in the child
            d.populate(0, 2 * MIB);
            d.flush();
            trimFlushed = live.log().size();
        }
        List<MemoryFile.Op> log = live.log();
        for (int k = 0; k <= log.size(); k++) {
            MemoryFile crashed = base.copy();
            for (int i = 0; i < k; i++) {
                crashed.apply(log.get(i));
            }
            try (VirtualDisk d = format.open(crashed, true, store)) {
                io.strata.api.format.CheckReport r = format.check(crashed, store, false);
                assertTrue(r.errors().isEmpty(), "prefix " + k + ": " + r);
                for (Written w : writes) {
                    long first = w.offset() & ~511L;
                    long end = (w.offset() + w.data().length + 511) & ~511L;
                    for (long sec = first; sec < end; sec += 512) {
                        byte[] now = new byte[512];
                        d.read(ByteBuffer.wrap(now), sec);
                        byte[] old = Arrays.copyOfRange(parent, (int) sec, (int) sec + 512);
                        byte[] neu = old.clone();
                        long from = Math.max(sec, w.offset());
                        long to = Math.min(sec + 512, w.offset() + w.data().length);
                        System.arraycopy(w.data(), (int) (from - w.offset()), neu, (int) (from - sec), (int) (to - from));
                        boolean isNew = Arrays.equals(now, neu);
                        if (sec >= 4 * MIB + 4096 && sec < 6 * MIB + 4096 && Arrays.equals(now, new byte[512])) {
                            continue; // trimmed
                        }
                        assertTrue(isNew || Arrays.equals(now, old), "prefix " + k + ": sector " + sec
                                + " is neither old nor new");
                        if (k >= w.logIndexWhenFlushed() || k >= trimFlushed) {
                            assertTrue(isNew, "prefix " + k + ": flushed write at " + w.offset() + " lost (sector "
                                    + sec + ")");
                        }
                    }
                }
                if (k >= trimFlushed) {
                    byte[] z = new byte[(int) (2 * MIB)];
                    ByteBuffer b = ByteBuffer.allocate(z.length);
                    d.read(b, 4 * MIB + 4096);
                    assertArrayEquals(z, b.array(), "prefix " + k + ": flushed trim lost");
                }
            } catch (RuntimeException e) {
                throw new AssertionError("prefix " + k + " of " + log.size() + " (" + (k > 0 ? log.get(k - 1).kind()
                        + "@" + log.get(k - 1).position() : "start") + "): " + e.getMessage(), e);
            }
        }
    }
}

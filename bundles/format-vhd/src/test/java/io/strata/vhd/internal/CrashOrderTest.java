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
}

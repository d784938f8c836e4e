package io.strata.vhd.internal;

import static io.strata.vhd.internal.DifferencingTest.pattern;
import static io.strata.vhd.internal.DifferencingTest.read;
import static io.strata.vhd.internal.DifferencingTest.write;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.api.format.CheckReport;
import io.strata.api.format.DiskSpec;
import io.strata.api.format.Provisioning;
import io.strata.api.format.VirtualDisk;
import io.strata.testing.MemoryFile;
import java.nio.ByteBuffer;
import java.util.Random;
import org.junit.jupiter.api.Test;

class TrimReclaimTest {
    private static final long MIB = 1L << 20;
    private final VhdFormat format = new VhdFormat();
    private final MemoryStore store = new MemoryStore();

    private static void trim(VirtualDisk d, byte[] model, long off, long len) {
        d.trim(off, len);
        java.util.Arrays.fill(model, (int) off, (int) (off + len), (byte) 0);
    }

    @Test
    void trimFreesWholeBlocksAndZerosTheRestOfADynamicDisk() {
        long size = 20 * MIB;
        byte[] model = new byte[(int) size];
        MemoryFile f = store.create("d.vhd");
        try (VirtualDisk d = format.create(f, new DiskSpec(size, Provisioning.THIN))) {
            write(d, model, 0, pattern((int) size, 1));
            assertEquals(10, ((DynamicVhdDisk) d).allocatedBlocks());
            trim(d, model, 3 * MIB, 6 * MIB); // frees blocks 2 and 3, zeros half of 1 and of 4
            assertEquals(8, ((DynamicVhdDisk) d).allocatedBlocks());
            trim(d, model, 12345, 100);
            trim(d, model, 18 * MIB, 2 * MIB); // the last block
            assertEquals(7, ((DynamicVhdDisk) d).allocatedBlocks());
            assertArrayEquals(model, read(d, 0, model.length));
        }
        try (VirtualDisk d = format.open(f, true)) {
            assertArrayEquals(model, read(d, 0, model.length));
        }
        CheckReport r = format.check(f, store, false);
        assertTrue(r.errors().isEmpty(), r.toString());
        assertFalse(r.leaks().isEmpty(), "freed blocks in the middle stay holes until reclaim: " + r);
        long before = f.size();
        try (VirtualDisk d = format.open(f, false)) {
            assertTrue(d.reclaim() > 0);
            assertArrayEquals(model, read(d, 0, model.length));
        }
        assertEquals(before - 3 * (2 * MIB + 4096), f.size(), "three block slots returned");
        assertTrue(format.check(f, store, false).clean(), format.check(f, store, false).toString());
        try (VirtualDisk d = format.open(f, true)) {
            assertArrayEquals(model, read(d, 0, model.length));
        }
    }

    @Test
    void reclaimFreesBlocksThatReadZerosAndCompacts() {
        long size = 16 * MIB;
        byte[] model = new byte[(int) size];
        MemoryFile f = store.create("d.vhd");
        try (VirtualDisk d = format.create(f, new DiskSpec(size, Provisioning.THIN))) {
            for (int b = 0; b < 8; b++) {
                write(d, model, b * 2 * MIB + 5, b % 3 == 0 ? pattern(5000, b) : new byte[5000]);
            }
            long allocatedBefore = f.allocatedBytes();
            long freed = d.reclaim();
            assertTrue(freed > 0 && freed <= allocatedBefore, "freed " + freed);
            assertEquals(3, ((DynamicVhdDisk) d).allocatedBlocks()); // blocks 0, 3, 6
            assertArrayEquals(model, read(d, 0, model.length));
            write(d, model, 9 * MIB, pattern(100, 9)); // allocation after compaction goes past the new end
            assertArrayEquals(model, read(d, 0, model.length));
            assertEquals(0, d.reclaim() > 0 ? 1 : 0, "nothing more to reclaim");
        }
        assertTrue(format.check(f, store, false).clean(), format.check(f, store, false).toString());
        try (VirtualDisk d = format.open(f, true)) {
            assertArrayEquals(model, read(d, 0, model.length));
        }
    }

    @Test
    void trimInAChildHidesTheParentOrFreesWhereTheParentIsEmpty() {
        long size = 12 * MIB;
        byte[] model = new byte[(int) size];
        try (VirtualDisk p = format.create(store.create("p.vhd"), new DiskSpec(size, Provisioning.THIN))) {
            write(p, model, 0, pattern((int) (6 * MIB), 3)); // blocks 0-2 in the parent, 3-5 empty
        }
        MemoryFile cf = store.create("c.vhd");
        try (VirtualDisk c = format.createChild(cf, "p.vhd", store)) {
            write(c, model, 0, pattern((int) size, 4)); // every block in the child
            DynamicVhdDisk dc = (DynamicVhdDisk) c;
            assertEquals(6, dc.allocatedBlocks());
            trim(c, model, 2 * MIB, 2 * MIB); // parent has data: zeroed, stays allocated
            trim(c, model, 8 * MIB, 2 * MIB); // parent empty: freed
            assertEquals(5, dc.allocatedBlocks());
            trim(c, model, 5 * MIB + 3, 1000); // partial
            assertArrayEquals(model, read(c, 0, model.length));
            c.flush();
        }
        try (VirtualDisk c = format.open(cf, false, store)) {
            assertArrayEquals(model, read(c, 0, model.length));
            // a block the child never held, over parent data: allocated with every bit set and zero data
            MemoryFile c2f = store.create("c2.vhd");
            try (VirtualDisk c2 = format.createChild(c2f, "p.vhd", store)) {
                byte[] m2 = new byte[(int) size];
                System.arraycopy(read(c2, 0, (int) size), 0, m2, 0, (int) size);
                trim(c2, m2, 0, 4 * MIB);
                trim(c2, m2, 4 * MIB + 512, 4096);
                assertArrayEquals(m2, read(c2, 0, m2.length));
            }
            assertTrue(c.reclaim() >= 0);
            assertArrayEquals(model, read(c, 0, model.length));
        }
        CheckReport r = format.check(cf, store, false);
        assertTrue(r.clean(), r.toString());
    }

    @Test
    void reclaimInAChildKeepsZeroBlocksThatHideParentData() {
        long size = 8 * MIB;
        byte[] model = new byte[(int) size];
        try (VirtualDisk p = format.create(store.create("p.vhd"), new DiskSpec(size, Provisioning.THIN))) {
            write(p, model, 0, pattern((int) (2 * MIB), 3)); // block 0 in the parent only
        }
        MemoryFile cf = store.create("c.vhd");
        try (VirtualDisk c = format.createChild(cf, "p.vhd", store)) {
            write(c, model, 0, new byte[(int) (2 * MIB)]); // zeros over parent data: must stay
            write(c, model, 2 * MIB, new byte[4096]); // zeros over nothing: can go
            write(c, model, 4 * MIB, pattern(4096, 8));
            c.reclaim();
            assertEquals(2, ((DynamicVhdDisk) c).allocatedBlocks());
            assertArrayEquals(model, read(c, 0, model.length));
        }
        try (VirtualDisk c = format.open(cf, true, store)) {
            assertArrayEquals(model, read(c, 0, model.length));
        }
        assertTrue(format.check(cf, store, false).clean());
    }

    @Test
    void fixedDisksTrimByWritingZerosOrPunching() {
        long size = 4 * MIB;
        byte[] model = new byte[(int) size];
        for (Provisioning p : new Provisioning[] {Provisioning.THICK, Provisioning.THICK_LAZY}) {
            MemoryFile f = store.create("f.vhd");
            try (VirtualDisk d = format.create(f, new DiskSpec(size, p))) {
                write(d, model, 0, pattern((int) size, 5));
                trim(d, model, 1000, 3 * MIB);
                assertArrayEquals(model, read(d, 0, model.length));
                assertEquals(0, d.reclaim());
            }
            assertTrue(format.check(f, store, false).clean());
        }
    }

    /** Random writes, trims, reclaims and reopens on dynamic and differencing disks against a model. */
    @Test
    void randomMixMatchesTheModel() {
        Random rnd = new Random(99);
        long size = 10 * MIB + 1024;
        for (int round = 0; round < 6; round++) {
            byte[] model = new byte[(int) size];
            boolean child = round % 2 == 1;
            MemoryFile f;
            VirtualDisk d;
            if (child) {
                try (VirtualDisk p = format.create(store.create("p.vhd"), new DiskSpec(size, Provisioning.THIN))) {
                    write(p, model, 0, pattern((int) (5 * MIB), round));
                }
                f = store.create("c.vhd");
                d = format.createChild(f, "p.vhd", store);
            } else {
                f = store.create("d.vhd");
                d = format.create(f, new DiskSpec(size, Provisioning.THIN));
            }
            try {
                for (int i = 0; i < 40; i++) {
                    int op = rnd.nextInt(10);
                    int len = 1 + rnd.nextInt(rnd.nextBoolean() ? 5000 : (int) (5 * MIB));
                    long off = (long) (rnd.nextDouble() * (size - len));
                    if (op < 5) {
                        write(d, model, off, rnd.nextInt(4) == 0 ? new byte[len] : pattern(len, rnd.nextLong()));
                    } else if (op < 8) {
                        trim(d, model, off, len);
                    } else if (op == 8) {
                        d.reclaim();
                    } else {
                        d.close();
                        d = format.open(f, false, store);
                    }
                    if (i % 8 == 0) {
                        assertArrayEquals(model, read(d, 0, model.length), "round " + round + " op " + i);
                    }
                }
                d.flush();
                assertArrayEquals(model, read(d, 0, model.length));
                CheckReport r = format.check(f, store, false);
                assertTrue(r.errors().isEmpty(), r.toString());
                d.reclaim();
                assertArrayEquals(model, read(d, 0, model.length));
            } finally {
                d.close();
            }
            CheckReport r = format.check(f, store, false);
            assertTrue(r.clean(), r.toString());
        }
    }

    @Test
    void trimOfAnUnallocatedDynamicRangeWritesNothing() {
        MemoryFile f = store.create("e.vhd");
        try (VirtualDisk d = format.create(f, new DiskSpec(8 * MIB, Provisioning.THIN))) {
            d.flush();
            f.clearLog();
            d.trim(0, 8 * MIB);
            d.trim(100, 5000);
            assertTrue(f.log().isEmpty(), f.log().toString());
            d.write(ByteBuffer.wrap(new byte[] {1}), 0);
        }
    }
}

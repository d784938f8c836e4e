package io.strata.vhd.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.format.DiskSpec;
import io.strata.api.format.Extent;
import io.strata.api.format.ImageInfo;
import io.strata.api.format.Provisioning;
import io.strata.api.format.VirtualDisk;
import io.strata.testing.MemoryFile;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class DifferencingTest {
    private static final long MIB = 1L << 20;
    private final VhdFormat format = new VhdFormat();
    private final MemoryStore store = new MemoryStore();

    static byte[] pattern(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    static byte[] read(VirtualDisk d, long off, int len) {
        ByteBuffer b = ByteBuffer.allocate(len);
        d.read(b, off);
        assertFalse(b.hasRemaining());
        return b.array();
    }

    /** A parent with data in blocks 0, 1 (partly) and near the end, mirrored into {@code model}. */
    private byte[] parent(String name, long size, Provisioning p) {
        byte[] model = new byte[(int) size];
        try (VirtualDisk d = format.create(store.create(name), new DiskSpec(size, p))) {
            write(d, model, 0, pattern((int) (3 * MIB), 1));
            write(d, model, size - 2 * MIB + 77, pattern(5000, 2));
        }
        return model;
    }

    static void write(VirtualDisk d, byte[] model, long off, byte[] data) {
        d.write(ByteBuffer.wrap(data), off);
        System.arraycopy(data, 0, model, (int) off, data.length);
    }

    @Test
    void aNewChildReadsAsItsParentAndRecordsItsIdentity() {
        byte[] model = parent("base.vhd", 16 * MIB, Provisioning.THIN);
        MemoryFile cf = store.create("child.vhd");
        try (VirtualDisk c = format.createChild(cf, "base.vhd", store)) {
            assertEquals(16 * MIB, c.virtualSize());
            assertEquals(Optional.of("base.vhd"), c.backingFile());
            assertEquals(2, c.chainLength());
            assertArrayEquals(model, read(c, 0, model.length));
        }
        // constant-size metadata: nothing of the parent was copied
        assertEquals(Layout.LOCATOR_AREA_END + 512, cf.size());
        Inspection in = VhdInspector.inspect(cf);
        assertEquals(DiskType.DIFFERENCING, in.type());
        Footer parentFooter = Footer.decode(store.get("base.vhd").peek(0, 512), "p");
        assertEquals(parentFooter.uniqueId(), in.header().parentUniqueId());
        assertEquals("base.vhd", in.header().parentName());
        ParentLocator rel = in.header().locator(ParentLocator.W2RU);
        ParentLocator abs = in.header().locator(ParentLocator.W2KU);
        assertEquals(16, rel.dataSpace()); // sectors, as the specification says
        assertEquals(".\\base.vhd", new String(cf.peek(rel.dataOffset(), rel.dataLength()), StandardCharsets.UTF_16LE));
        assertEquals("base.vhd", new String(cf.peek(abs.dataOffset(), abs.dataLength()), StandardCharsets.UTF_16LE));
        ImageInfo info = format.probe(cf);
        assertEquals("differencing", info.details().get("subformat"));
        assertEquals("base.vhd", info.details().get("parent"));
        assertEquals(Optional.of("base.vhd"), format.backingFile(cf));
        assertEquals(Optional.empty(), format.backingFile(store.get("base.vhd")));
        assertEquals(ErrorCode.CHAIN_BROKEN, assertThrows(StorageException.class, () -> format.open(cf, true)).code());
    }

    @Test
    void childrenOfFixedParentsToo() {
        byte[] model = parent("fixed.vhd", 6 * MIB, Provisioning.THICK);
        try (VirtualDisk c = format.createChild(store.create("c.vhd"), "fixed.vhd", store)) {
            write(c, model, 2 * MIB - 3, pattern(1000, 9));
            assertArrayEquals(model, read(c, 0, model.length));
        }
    }

    /** Unaligned writes over a chain of three, reopened, against a byte-array model. */
    @Test
    void randomWritesThroughAChainMatchTheModel() {
        long size = 12 * MIB + 5 * 512;
        byte[] model = parent("a.vhd", size, Provisioning.THIN);
        Random rnd = new Random(11);
        try (VirtualDisk b = format.createChild(store.create("b.vhd"), "a.vhd", store)) {
            for (int i = 0; i < 40; i++) {
                int len = 1 + rnd.nextInt(i % 7 == 0 ? (int) (3 * MIB) : 3000);
                long off = (long) (rnd.nextDouble() * (size - len));
                write(b, model, off, pattern(len, rnd.nextLong()));
            }
            assertArrayEquals(model, read(b, 0, model.length));
        }
        try (VirtualDisk c = format.createChild(store.create("c.vhd"), "b.vhd", store)) {
            assertEquals(3, c.chainLength());
            for (int i = 0; i < 40; i++) {
                int len = 1 + rnd.nextInt(2000);
                long off = (long) (rnd.nextDouble() * (size - len));
                write(c, model, off, pattern(len, rnd.nextLong()));
                if (i % 10 == 0) {
                    c.flush();
                }
            }
            write(c, model, size - 1, new byte[] {42});
            assertArrayEquals(model, read(c, 0, model.length));
        }
        try (VirtualDisk c = format.open(store.get("c.vhd"), false, store)) {
            assertArrayEquals(model, read(c, 0, model.length));
        }
        assertTrue(format.check(store.get("c.vhd"), store, false).clean());
    }

    @Test
    void partialSectorWritesKeepTheParentsBytesAround() {
        byte[] model = parent("p.vhd", 4 * MIB, Provisioning.THIN);
        try (VirtualDisk c = format.createChild(store.create("c.vhd"), "p.vhd", store)) {
            write(c, model, 1000, new byte[] {1, 2, 3}); // inside one sector
            write(c, model, 510, new byte[] {4, 5, 6, 7}); // across a sector boundary
            write(c, model, 3 * MIB + 100, pattern(1500, 3)); // in a block the child does not hold yet
            assertArrayEquals(model, read(c, 0, model.length));
        }
        try (VirtualDisk c = format.open(store.get("c.vhd"), true, store)) {
            assertArrayEquals(model, read(c, 0, model.length));
            List<Extent> layer = c.layerStatus(0, 1024);
            assertEquals(List.of(new Extent(0, 1024, true, false)), layer);
            List<Extent> l2 = c.layerStatus(1024, 2048);
            assertEquals(List.of(new Extent(1024, 2048, false, false)), l2);
            // through the chain the parent holds block 0
            assertEquals(List.of(new Extent(0, 4096, true, false)), c.blockStatus(0, 4096));
        }
    }

    @Test
    void missingOrReplacedParentsBreakTheChain() {
        parent("p.vhd", 4 * MIB, Provisioning.THIN);
        format.createChild(store.create("c.vhd"), "p.vhd", store).close();
        MemoryFile p = store.get("p.vhd");
        store.remove("p.vhd");
        StorageException e = assertThrows(StorageException.class, () -> format.open(store.get("c.vhd"), false, store));
        assertEquals(ErrorCode.CHAIN_BROKEN, e.code());
        assertTrue(e.getMessage().contains("'c.vhd'") && e.getMessage().contains("'p.vhd'")
                && e.getMessage().contains("missing"), e.getMessage());
        format.create(store.create("p.vhd"), new DiskSpec(4 * MIB, Provisioning.THIN)).close();
        e = assertThrows(StorageException.class, () -> format.open(store.get("c.vhd"), false, store));
        assertEquals(ErrorCode.CHAIN_BROKEN, e.code());
        assertTrue(e.getMessage().contains("is not the image the child was made from"), e.getMessage());
        store.put("p.vhd", p);
        format.open(store.get("c.vhd"), false, store).close();
    }

    @Test
    void chainsUpTo32ImagesAndNoLonger() {
        format.create(store.create("l0.vhd"), new DiskSpec(2 * MIB, Provisioning.THIN)).close();
        for (int i = 1; i < VhdFormat.MAX_CHAIN; i++) {
            try (VirtualDisk d = format.createChild(store.create("l" + i + ".vhd"), "l" + (i - 1) + ".vhd", store)) {
                d.write(ByteBuffer.wrap(new byte[] {(byte) i}), i);
                assertEquals(i + 1, d.chainLength());
            }
        }
        try (VirtualDisk top = format.open(store.get("l31.vhd"), true, store)) {
            byte[] b = read(top, 0, 32);
            for (int i = 1; i < 32; i++) {
                assertEquals(i, b[i]);
            }
        }
        StorageException e = assertThrows(StorageException.class,
                () -> format.createChild(store.create("l32.vhd"), "l31.vhd", store));
        assertEquals(ErrorCode.CHAIN_TOO_LONG, e.code());
    }

    @Test
    void populateThenRebaseToNoneMakesAStandaloneDynamicDisk() {
        byte[] model = parent("p.vhd", 16 * MIB + 512, Provisioning.THIN);
        MemoryFile cf = store.create("c.vhd");
        try (VirtualDisk c = format.createChild(cf, "p.vhd", store)) {
            write(c, model, 1 * MIB + 1, pattern(700, 5));
            StorageException e = assertThrows(StorageException.class, () -> c.rebase(null, store));
            assertEquals(ErrorCode.INVALID_ARGUMENT, e.code());
            c.populate(0, c.virtualSize());
            assertEquals(List.of(new Extent(0, 4 * MIB, true, false)), c.layerStatus(0, 4 * MIB));
            c.rebase(null, store);
            assertEquals(Optional.empty(), c.backingFile());
            assertEquals(1, c.chainLength());
            assertArrayEquals(model, read(c, 0, model.length));
            write(c, model, 14 * MIB, pattern(100, 6));
        }
        assertEquals("dynamic", format.probe(cf).details().get("subformat"));
        try (VirtualDisk c = format.open(cf, true)) {
            assertArrayEquals(model, read(c, 0, model.length));
        }
        assertTrue(format.check(cf, store, false).clean(), format.check(cf, store, false).toString());
    }

    @Test
    void rebaseOntoAnEquivalentParentSwitchesIdentityAndLocators() {
        byte[] model = parent("p1.vhd", 8 * MIB, Provisioning.THIN);
        store.put("p2.vhd", store.get("p1.vhd").copy());
        // p2 must be another image: same data, new identity
        MemoryFile p2 = store.get("p2.vhd");
        Footer f = Footer.decode(p2.peek(0, 512), "p2");
        Footer other = new Footer(f.features(), f.formatVersion(), f.dataOffset(), f.timestamp(), f.creatorApp(),
                f.creatorVersion(), f.creatorHostOs(), f.originalSize(), f.currentSize(), f.geometry(),
                f.diskTypeCode(), java.util.UUID.randomUUID(), f.savedState());
        p2.poke(0, other.encode());
        p2.poke(p2.size() - 512, other.encode());
        store.put("p3.vhd", store.get("p1.vhd").copy());
        MemoryFile cf = store.create("c.vhd");
        try (VirtualDisk c = format.createChild(cf, "p1.vhd", store)) {
            write(c, model, 3 * MIB, pattern(9000, 8));
            c.rebase("p2.vhd", store);
            assertEquals(Optional.of("p2.vhd"), c.backingFile());
            assertArrayEquals(model, read(c, 0, model.length));
        }
        long size = cf.size();
        try (VirtualDisk c = format.open(cf, false, store)) {
            assertArrayEquals(model, read(c, 0, model.length));
            c.rebase("p1.vhd", store); // back into the first locator set
            c.rebase("p3.vhd", store); // p3 has p1's identity: allowed, the caller vouches for the data
        }
        assertEquals(size, cf.size(), "rebases alternate between the two reserved locator sets");
        assertEquals(Optional.of("p3.vhd"), format.backingFile(cf));
        try (VirtualDisk c = format.open(cf, true, store)) {
            assertArrayEquals(model, read(c, 0, model.length));
        }
        assertTrue(format.check(cf, store, false).clean());
    }

    @Test
    void grownChildReadsZerosPastItsParent() {
        byte[] model = parent("p.vhd", 4 * MIB, Provisioning.THIN);
        try (VirtualDisk c = format.createChild(store.create("c.vhd"), "p.vhd", store)) {
            c.resize(9 * MIB);
            assertArrayEquals(model, read(c, 0, model.length));
            assertArrayEquals(new byte[(int) (5 * MIB)], read(c, 4 * MIB, (int) (5 * MIB)));
            c.write(ByteBuffer.wrap(pattern(4096, 1)), 6 * MIB);
            assertArrayEquals(pattern(4096, 1), read(c, 6 * MIB, 4096));
        }
        try (VirtualDisk c = format.open(store.get("c.vhd"), true, store)) {
            assertEquals(9 * MIB, c.virtualSize());
            assertArrayEquals(pattern(4096, 1), read(c, 6 * MIB, 4096));
        }
    }

    /**
     * Guest writes race populate over the same blocks: whatever the interleaving, a
     * sector the guest wrote keeps the guest's data (populate never copies older
     * parent data over it), and everything else reads as the parent.
     */
    @Test
    void populateNeverOverwritesGuestWrites() throws Exception {
        long size = 16 * MIB;
        byte[] model = new byte[(int) size];
        try (VirtualDisk p = format.create(store.create("p.vhd"), new DiskSpec(size, Provisioning.THIN))) {
            write(p, model, 0, pattern((int) size, 77));
        }
        for (int round = 0; round < 3; round++) {
            byte[] expect = model.clone();
            try (VirtualDisk c = format.createChild(store.create("c" + round + ".vhd"), "p.vhd", store)) {
                ExecutorService pool = Executors.newFixedThreadPool(3);
                List<Future<?>> fs = new ArrayList<>();
                final int r = round;
                fs.add(pool.submit(() -> c.populate(0, size)));
                for (int t = 0; t < 2; t++) {
                    final int tid = t;
                    fs.add(pool.submit(() -> {
                        Random rnd = new Random(r * 10 + tid);
                        for (int i = 0; i < 200; i++) {
                            // disjoint per thread: thread 0 even KiB-runs, thread 1 odd ones
                            long off = (rnd.nextInt((int) (size / 2048)) * 2L + tid) * 1024 + rnd.nextInt(200);
                            byte[] data = pattern(1 + rnd.nextInt(800), rnd.nextLong());
                            c.write(ByteBuffer.wrap(data), off);
                            synchronized (expect) {
                                System.arraycopy(data, 0, expect, (int) off, data.length);
                            }
                        }
                    }));
                }
                for (Future<?> f : fs) {
                    f.get(60, TimeUnit.SECONDS);
                }
                pool.shutdown();
                assertArrayEquals(expect, read(c, 0, (int) size));
                assertEquals(List.of(new Extent(0, size, true, false)), c.layerStatus(0, size));
            }
        }
    }

    /** Snapshot deletion rebases a leaf in use: readers and writers keep going while the parent changes under them. */
    @Test
    void rebaseWhileTheDiskIsInUse() throws Exception {
        long size = 8 * MIB;
        byte[] model = parent("p1.vhd", size, Provisioning.THIN);
        MemoryFile p2 = store.get("p1.vhd").copy();
        Footer f = Footer.decode(p2.peek(0, 512), "p2");
        Footer other = new Footer(f.features(), f.formatVersion(), f.dataOffset(), f.timestamp(), f.creatorApp(),
                f.creatorVersion(), f.creatorHostOs(), f.originalSize(), f.currentSize(), f.geometry(),
                f.diskTypeCode(), java.util.UUID.randomUUID(), f.savedState());
        p2.poke(0, other.encode());
        p2.poke(p2.size() - 512, other.encode());
        store.put("p2.vhd", p2);
        byte[] expect = model.clone();
        try (VirtualDisk c = format.createChild(store.create("c.vhd"), "p1.vhd", store)) {
            ExecutorService pool = Executors.newFixedThreadPool(3);
            java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
            List<Future<?>> fs = new ArrayList<>();
            for (int t = 0; t < 2; t++) {
                final int tid = t;
                fs.add(pool.submit(() -> {
                    Random rnd = new Random(tid);
                    while (!stop.get()) {
                        long off = rnd.nextInt((int) (size - 4096));
                        byte[] got = read(c, off, 4096);
                        if (tid == 0) {
                            // reader: parent-only regions never change, so compare where nobody writes
                            if (off >= 4 * MIB) {
                                assertArrayEquals(java.util.Arrays.copyOfRange(model, (int) off, (int) off + 4096), got);
                            }
                        } else {
                            long w = rnd.nextInt((int) (4 * MIB - 700));
                            byte[] data = pattern(1 + rnd.nextInt(600), rnd.nextLong());
                            c.write(ByteBuffer.wrap(data), w);
                            synchronized (expect) {
                                System.arraycopy(data, 0, expect, (int) w, data.length);
                            }
                        }
                    }
                }));
            }
            for (int i = 0; i < 10; i++) {
                c.rebase(i % 2 == 0 ? "p2.vhd" : "p1.vhd", store);
                Thread.sleep(5);
            }
            stop.set(true);
            for (Future<?> fu : fs) {
                fu.get(60, TimeUnit.SECONDS);
            }
            pool.shutdown();
            assertEquals(Optional.of("p1.vhd"), c.backingFile());
            assertArrayEquals(expect, read(c, 0, (int) size));
        }
        try (VirtualDisk c = format.open(store.get("c.vhd"), true, store)) {
            assertArrayEquals(expect, read(c, 0, (int) size));
        }
    }

    /** Another tool's child has its locators elsewhere: a rebase appends a new locator set past the end. */
    @Test
    void rebaseOfAForeignLayoutAppendsTheLocators() {
        byte[] model = parent("p1.vhd", 6 * MIB, Provisioning.THIN);
        store.put("p3.vhd", store.get("p1.vhd").copy()); // same identity and data
        MemoryFile cf = store.create("c.vhd");
        try (VirtualDisk c = format.createChild(cf, "p1.vhd", store)) {
            write(c, model, 5000, pattern(3000, 4));
        }
        // move the locators off Strata's slots, as another writer would place them
        DynamicHeader h = DynamicHeader.decode(cf.peek(512, 1024), "h");
        List<ParentLocator> moved = new ArrayList<>(h.parentLocators());
        for (int k = 0; k < 2; k++) {
            ParentLocator l = moved.get(k);
            long to = Layout.LOCATOR_AREA + 512 + k * (long) Layout.LOCATOR_SLOT;
            cf.poke(to, cf.peek(l.dataOffset(), l.dataLength()));
            moved.set(k, new ParentLocator(l.platformCode(), l.dataSpace(), l.dataLength(), to));
        }
        cf.poke(512, h.withParent(h.parentUniqueId(), h.parentTimestamp(), h.parentName(), moved).encode());
        assertTrue(format.check(cf, store, false).clean(), format.check(cf, store, false).toString());
        long size = cf.size();
        try (VirtualDisk c = format.open(cf, false, store)) {
            c.rebase("p3.vhd", store);
            write(c, model, 4 * MIB + 1, pattern(100, 5)); // a block allocated after the appended locators
        }
        assertEquals(size + Layout.LOCATOR_SET + 2 * MIB + 4096, cf.size(), "locators appended, then one block");
        assertEquals(Optional.of("p3.vhd"), format.backingFile(cf));
        try (VirtualDisk c = format.open(cf, false, store)) {
            assertArrayEquals(model, read(c, 0, model.length));
            c.rebase("p1.vhd", store);
        }
        try (VirtualDisk c = format.open(cf, true, store)) {
            assertArrayEquals(model, read(c, 0, model.length));
        }
        assertTrue(format.check(cf, store, false).clean(), format.check(cf, store, false).toString());
        try (VirtualDisk c = format.open(cf, false, store)) {
            c.reclaim(); // compaction keeps the appended locator sets where they are
            assertArrayEquals(model, read(c, 0, model.length));
        }
        assertTrue(format.check(cf, store, false).clean(), format.check(cf, store, false).toString());
    }

    @Test
    void aParentsBatIsReadWhenFirstReadThroughAndADamagedOneFailsThatRead() {
        byte[] model = parent("base.vhd", 16 * MIB, Provisioning.THIN);
        format.createChild(store.create("child.vhd"), "base.vhd", store).close();
        // Point the parent's first BAT entry far past its end: the open of the child does not
        // read the parent's BAT (constant-time opens of deep chains), the first read does.
        MemoryFile base = store.get("base.vhd");
        byte[] before = base.bytes();
        base.poke(Vhd.BAT_OFFSET, new byte[] {0x7f, 0, 0, 0});
        int mutations = base.mutations();
        VirtualDisk c = format.open(store.get("child.vhd"), true, store);
        try {
            assertEquals(16 * MIB, c.virtualSize());
            StorageException e = assertThrows(StorageException.class, () -> read(c, 0, 4096));
            assertEquals(ErrorCode.CORRUPT_IMAGE, e.code(), e.getMessage());
            assertTrue(e.getMessage().contains("base.vhd") && e.getMessage().contains("BAT entry 0"),
                    e.getMessage());
        } finally {
            c.close();
        }
        assertEquals(mutations, base.mutations(), "nothing was written to the damaged parent");
        // Repaired (the original bytes back), the same chain reads the parent's data.
        base.poke(0, before);
        try (VirtualDisk again = format.open(store.get("child.vhd"), true, store)) {
            assertArrayEquals(model, read(again, 0, model.length));
        }
    }
}

package io.strata.qcow2.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.api.Capability;
import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.format.DiskSpec;
import io.strata.api.format.Extent;
import io.strata.api.format.ImageInfo;
import io.strata.api.format.Provisioning;
import io.strata.api.format.VirtualDisk;
import io.strata.testing.MemoryFile;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** Creation, opening, chains (fall-through, copy-on-write, populate, rebase, limits), zeroing, trim, growth. */
class Qcow2FormatTest {
    private static final int MIB = 1 << 20;
    private static final int CS = 65536;
    private final Qcow2Format format = new Qcow2Format();
    private final Fixtures.MemoryStore store = new Fixtures.MemoryStore();

    private static byte[] fill(int n, int value) {
        byte[] b = new byte[n];
        Arrays.fill(b, (byte) value);
        return b;
    }

    private static byte[] read(VirtualDisk d, long off, int n) {
        byte[] b = new byte[n];
        d.read(ByteBuffer.wrap(b), off);
        return b;
    }

    @Test
    void declaresWhatItDoes() {
        assertEquals("qcow2", format.type());
        assertEquals("qcow2", format.fileExtension());
        assertEquals(1L << 50, format.maxVirtualSize());
        assertEquals(java.util.EnumSet.of(Capability.THIN, Capability.THICK, Capability.THICK_LAZY, Capability.RESIZE,
                Capability.BLOCK_STATUS, Capability.TRIM, Capability.BACKING_CHAIN, Capability.CHECK),
                format.capabilities());
    }

    @Test
    void thinImageIsSmallAndReadsZeros() {
        MemoryFile f = store.file("a.qcow2");
        try (VirtualDisk d = format.create(f, new DiskSpec(10L << 40, Provisioning.THIN))) {
            assertEquals(10L << 40, d.virtualSize());
            assertEquals(Provisioning.THIN, d.provisioning());
            assertArrayEquals(new byte[4096], read(d, 5L << 40, 4096));
            assertEquals(List.of(new Extent(0, 10L << 40, false, true)), d.blockStatus(0, 10L << 40));
        }
        assertTrue(f.allocatedBytes() < 5 * CS, "thin: header, refcount table and block only");
        assertTrue(format.recognizes(f));
        ImageInfo info = format.probe(f);
        assertEquals("qcow2", info.format());
        assertEquals(10L << 40, info.virtualSize());
        assertEquals("65536", info.details().get("cluster-size"));
        assertFalse(format.recognizes(new MemoryFile("empty")));
    }

    @Test
    void thickImagesAllocateEverything() {
        for (Provisioning p : List.of(Provisioning.THICK, Provisioning.THICK_LAZY)) {
            MemoryFile f = new MemoryFile("t.qcow2");
            try (VirtualDisk d = format.create(f, new DiskSpec(3 * MIB + 512, p))) {
                assertEquals(p, d.provisioning());
                assertEquals(List.of(new Extent(0, 3 * MIB + 512, true, false)), d.blockStatus(0, 3 * MIB + 512));
                d.write(ByteBuffer.wrap(fill(100, 7)), 2 * MIB);
                long size = f.size();
                d.write(ByteBuffer.wrap(fill(CS, 8)), 0);
                assertEquals(size, f.size(), "thick writes never grow the file");
            }
            try (VirtualDisk d = format.open(f, true)) {
                assertArrayEquals(fill(100, 7), read(d, 2 * MIB, 100));
            }
        }
        StorageException e = assertThrows(StorageException.class, () -> format.create(
                new MemoryFile("x").withoutAllocate(), new DiskSpec(MIB, Provisioning.THICK_LAZY)));
        assertEquals(ErrorCode.UNSUPPORTED, e.code());
        assertTrue(e.getMessage().contains("use thick or thin"), e.getMessage());
    }

    @Test
    void createRefusesWhatItCannotDo() {
        assertEquals(ErrorCode.INVALID_SIZE, assertThrows(StorageException.class,
                () -> format.create(new MemoryFile("x"), new DiskSpec(1000, Provisioning.THIN))).code());
        assertEquals(ErrorCode.SIZE_TOO_LARGE, assertThrows(StorageException.class,
                () -> format.create(new MemoryFile("x"), new DiskSpec(1L << 51, Provisioning.THIN))).code());
        MemoryFile used = new MemoryFile("u");
        used.poke(0, new byte[1]);
        assertEquals(ErrorCode.INVALID_ARGUMENT, assertThrows(StorageException.class,
                () -> format.create(used, new DiskSpec(MIB, Provisioning.THIN))).code());
        MemoryFile ro = new MemoryFile("ro.qcow2");
        format.create(ro, new DiskSpec(MIB, Provisioning.THIN)).close();
        try (VirtualDisk d = format.open(ro.readOnlyCopy(), true)) {
            assertEquals(ErrorCode.READ_ONLY, assertThrows(StorageException.class,
                    () -> d.write(ByteBuffer.allocate(1), 0)).code());
        }
        assertEquals(ErrorCode.READ_ONLY, assertThrows(StorageException.class,
                () -> format.open(ro.readOnlyCopy(), false)).code());
    }

    @Test
    void writesReadBackAcrossClustersAndReopen() {
        MemoryFile f = store.file("w.qcow2");
        byte[] data = new byte[3 * CS + 777];
        new java.util.Random(5).nextBytes(data);
        try (VirtualDisk d = format.create(f, new DiskSpec(8 * MIB, Provisioning.THIN))) {
            d.write(ByteBuffer.wrap(data), CS - 100);
            assertArrayEquals(data, read(d, CS - 100, data.length));
            assertArrayEquals(new byte[100], read(d, CS - 200, 100));
        }
        try (VirtualDisk d = format.open(f, false)) {
            assertArrayEquals(data, read(d, CS - 100, data.length));
            List<Extent> st = d.blockStatus(0, 8 * MIB);
            assertEquals(new Extent(0, 5L * CS, true, false), st.get(0));
        }
    }

    private VirtualDisk base(String name, long size, int value) {
        MemoryFile f = store.file(name);
        try (VirtualDisk d = format.create(f, new DiskSpec(size, Provisioning.THIN))) {
            d.write(ByteBuffer.wrap(fill((int) Math.min(size, 4 * MIB), value)), 0);
        }
        return null;
    }

    @Test
    void childReadsThroughAndCopiesOnWrite() {
        base("base.qcow2", 8 * MIB, 0x11);
        byte[] parentBefore = store.file("base.qcow2").bytes();
        MemoryFile cf = store.file("child.qcow2");
        try (VirtualDisk c = format.createChild(cf, "base.qcow2", store)) {
            assertEquals(8 * MIB, c.virtualSize());
            assertEquals(2, c.chainLength());
            assertEquals(Optional.of("base.qcow2"), c.backingFile());
            assertArrayEquals(fill(1000, 0x11), read(c, 123, 1000));
            c.write(ByteBuffer.wrap(fill(10, 0x22)), CS + 500); // partial write inside a parent cluster
            byte[] cluster = read(c, CS, CS);
            byte[] expected = fill(CS, 0x11);
            Arrays.fill(expected, 500, 510, (byte) 0x22);
            assertArrayEquals(expected, cluster, "copy-on-write kept the parent's bytes around the write");
            // this layer alone: only the written cluster; unallocated ranges are not known zeros (the parent decides)
            assertEquals(List.of(new Extent(0, CS, false, false), new Extent(CS, CS, true, false),
                    new Extent(2 * CS, 8 * MIB - 2 * CS, false, false)), c.layerStatus(0, 8 * MIB));
            List<Extent> chain = c.blockStatus(0, 8 * MIB);
            assertEquals(List.of(new Extent(0, 4 * MIB, true, false), new Extent(4 * MIB, 4 * MIB, false, true)),
                    chain);
        }
        assertArrayEquals(parentBefore, store.file("base.qcow2").bytes(), "the parent is never written");
        assertEquals(Optional.of("base.qcow2"), format.backingFile(cf));
        assertEquals(ErrorCode.CHAIN_BROKEN, assertThrows(StorageException.class, () -> format.open(cf, false)).code());
    }

    @Test
    void childCreationIsConstantTime() {
        base("small.qcow2", MIB, 1);
        MemoryFile big = store.file("big.qcow2");
        format.create(big, new DiskSpec(1L << 40, Provisioning.THIN)).close();
        MemoryFile c1 = store.file("c1.qcow2");
        MemoryFile c2 = store.file("c2.qcow2");
        format.createChild(c1, "small.qcow2", store).close();
        format.createChild(c2, "big.qcow2", store).close();
        // Constant work: the same metadata whatever the parent's size (timed by the benchmark).
        assertEquals(c1.allocatedBytes(), c2.allocatedBytes(), "same metadata whatever the parent's size");
    }

    @Test
    void childSmallerOrLargerThanParent() {
        base("p.qcow2", 2 * MIB, 0x33);
        MemoryFile cf = store.file("c.qcow2");
        try (VirtualDisk c = format.createChild(cf, "p.qcow2", store)) {
            c.resize(4 * MIB);
            assertArrayEquals(fill(10, 0x33), read(c, 2 * MIB - 10, 10));
            assertArrayEquals(new byte[10], read(c, 2 * MIB, 10), "past the parent's end reads zeros");
            c.write(ByteBuffer.wrap(fill(20, 0x44)), 2 * MIB - 10);
            byte[] expected = fill(30, 0x33);
            Arrays.fill(expected, 10, 30, (byte) 0x44);
            byte[] got = read(c, 2 * MIB - 20, 30);
            assertArrayEquals(expected, got);
        }
    }

    @Test
    void zeroingAndTrimInAChildHideTheParent() {
        base("p.qcow2", 4 * MIB, 0x55);
        try (VirtualDisk c = format.createChild(store.file("c.qcow2"), "p.qcow2", store)) {
            c.writeZeroes(100, 3 * CS);
            assertArrayEquals(fill(100, 0x55), read(c, 0, 100));
            assertArrayEquals(new byte[3 * CS], read(c, 100, 3 * CS));
            assertArrayEquals(fill(100, 0x55), read(c, 100 + 3 * CS, 100));
            c.trim(MIB, MIB);
            assertArrayEquals(new byte[MIB], read(c, MIB, MIB));
            assertTrue(c.layerStatus(MIB, MIB).stream().allMatch(e -> e.allocated() && e.zero()));
        }
        assertTrue(format.check(store.file("c.qcow2"), store, false).clean());
    }

    @Test
    void zeroedClustersKeepTheirSpaceAndTrimFreesIt() {
        MemoryFile f = new MemoryFile("z.qcow2");
        try (VirtualDisk d = format.create(f, new DiskSpec(4 * MIB, Provisioning.THIN))) {
            d.write(ByteBuffer.wrap(fill(2 * MIB, 9)), 0);
            long size = f.size();
            d.writeZeroes(0, MIB);
            assertArrayEquals(new byte[MIB], read(d, 0, MIB));
            d.write(ByteBuffer.wrap(fill(10, 3)), 100); // into a zeroed, still allocated cluster
            byte[] expected = new byte[CS];
            Arrays.fill(expected, 100, 110, (byte) 3);
            assertArrayEquals(expected, read(d, 0, CS));
            assertEquals(size, f.size(), "no new cluster for a zeroed one");
            d.trim(MIB, MIB);
            assertArrayEquals(new byte[MIB], read(d, MIB, MIB));
            assertEquals(List.of(new Extent(MIB, 3 * MIB, false, true)), d.blockStatus(MIB, 3 * MIB));
        }
        assertTrue(format.check(f, null, false).clean());
    }

    @Test
    void populateCopiesUpAndNeverOverwritesNewerData() {
        MemoryFile pf = store.file("p.qcow2");
        try (VirtualDisk p = format.create(pf, new DiskSpec(4 * MIB, Provisioning.THIN))) {
            p.write(ByteBuffer.wrap(fill(MIB, 0x66)), 0);
            p.write(ByteBuffer.wrap(fill(MIB, 0x77)), 2 * MIB);
        }
        MemoryFile cf = store.file("c.qcow2");
        try (VirtualDisk c = format.createChild(cf, "p.qcow2", store)) {
            c.write(ByteBuffer.wrap(fill(10, 0x01)), 5);
            byte[] before = read(c, 0, 4 * MIB);
            c.populate(0, 4 * MIB);
            assertArrayEquals(before, read(c, 0, 4 * MIB));
            assertTrue(c.layerStatus(0, 4 * MIB).stream().allMatch(Extent::allocated), "no longer depends on the chain");
            c.rebase(null, store);
            assertEquals(1, c.chainLength());
            assertTrue(c.backingFile().isEmpty());
            assertArrayEquals(before, read(c, 0, 4 * MIB));
        }
        assertEquals(Optional.empty(), format.backingFile(cf));
        try (VirtualDisk c = format.open(cf, true)) {
            assertArrayEquals(fill(10, 0x01), read(c, 5, 10));
            assertArrayEquals(fill(MIB - 15, 0x66), read(c, 15, MIB - 15));
        }
        assertTrue(format.check(cf, null, false).clean());
    }

    @Test
    void rebaseOntoAnotherParent() {
        base("a.qcow2", 2 * MIB, 0x0a);
        base("b.qcow2", 2 * MIB, 0x0b);
        MemoryFile cf = store.file("c.qcow2");
        try (VirtualDisk c = format.createChild(cf, "a.qcow2", store)) {
            c.rebase("b.qcow2", store);
            assertEquals(Optional.of("b.qcow2"), c.backingFile());
            assertArrayEquals(fill(10, 0x0b), read(c, 0, 10));
        }
        try (VirtualDisk c = format.open(cf, false, store)) {
            assertArrayEquals(fill(10, 0x0b), read(c, 0, 10));
        }
    }

    @Test
    void chainsStopAtThirtyTwo() {
        base("l1.qcow2", MIB, 1);
        for (int i = 2; i <= 32; i++) {
            format.createChild(store.file("l" + i + ".qcow2"), "l" + (i - 1) + ".qcow2", store).close();
        }
        try (VirtualDisk top = format.open(store.file("l32.qcow2"), false, store)) {
            assertEquals(32, top.chainLength());
            assertArrayEquals(fill(10, 1), read(top, 0, 10));
        }
        StorageException e = assertThrows(StorageException.class,
                () -> format.createChild(store.file("l33.qcow2"), "l32.qcow2", store));
        assertEquals(ErrorCode.CHAIN_TOO_LONG, e.code());
        // a loop (an image naming itself) is caught by the same limit
        MemoryFile self = store.file("self.qcow2");
        format.create(self, new DiskSpec(MIB, Provisioning.THIN)).close();
        Header h = Inspector.readHeader(self).withBacking("self.qcow2");
        self.poke(0, h.encode());
        assertEquals(ErrorCode.CHAIN_TOO_LONG, assertThrows(StorageException.class,
                () -> format.open(self, false, store)).code());
    }

    @Test
    void missingParentIsChainBroken() {
        MemoryFile cf = store.file("orphan.qcow2");
        assertEquals(ErrorCode.CHAIN_BROKEN, assertThrows(StorageException.class,
                () -> format.createChild(cf, "nothing.qcow2", store)).code());
        base("gone.qcow2", MIB, 1);
        format.createChild(cf, "gone.qcow2", store).close();
        store.files.remove("gone.qcow2");
        assertEquals(ErrorCode.CHAIN_BROKEN, assertThrows(StorageException.class,
                () -> format.open(cf, true, store)).code());
    }

    @Test
    void growthMovesTheL1TableWhenItMust() {
        MemoryFile f = new MemoryFile("g.qcow2");
        try (VirtualDisk d = format.create(f, new DiskSpec(MIB, Provisioning.THIN))) {
            d.write(ByteBuffer.wrap(fill(10, 1)), 0);
            d.resize(2 * MIB);
            d.resize(700L << 30); // 1400 L1 entries: a second L1 cluster
            d.write(ByteBuffer.wrap(fill(10, 2)), (700L << 30) - 10);
            assertEquals(ErrorCode.INVALID_SIZE, assertThrows(StorageException.class, () -> d.resize(MIB)).code());
        }
        try (VirtualDisk d = format.open(f, false)) {
            assertEquals(700L << 30, d.virtualSize());
            assertArrayEquals(fill(10, 1), read(d, 0, 10));
            assertArrayEquals(fill(10, 2), read(d, (700L << 30) - 10, 10));
        }
        assertTrue(format.check(f, null, false).clean(), format.check(f, null, false).toString());
    }

    @Test
    void imagesQemuMarksAreOpenedReadOnlyOnly() {
        MemoryFile f = DamagedImageTest.image();
        DamagedImageTest.putLong(f, 72, Qcow2.INCOMPAT_DIRTY);
        assertEquals(ErrorCode.CORRUPT_IMAGE, assertThrows(StorageException.class, () -> format.open(f, false)).code());
        format.open(f, true).close();
        assertTrue(format.check(f, null, true).clean());
        format.open(f, false).close();

        MemoryFile s = DamagedImageTest.image();
        DamagedImageTest.putInt(s, 60, 1);
        DamagedImageTest.putLong(s, 64, 2L * CS);
        StorageException e = assertThrows(StorageException.class, () -> format.open(s, false));
        assertEquals(ErrorCode.UNSUPPORTED, e.code());
        assertTrue(e.getMessage().contains("internal snapshot"), e.getMessage());
        try (VirtualDisk d = format.open(s, true)) {
            assertArrayEquals(new byte[] {1, 2, 3}, read(d, 0, 3));
        }
        MemoryFile a = DamagedImageTest.image();
        DamagedImageTest.putLong(a, 88, 1);
        assertEquals(ErrorCode.UNSUPPORTED, assertThrows(StorageException.class, () -> format.open(a, false)).code());
    }

    @Test
    void rangesAreChecked() {
        try (VirtualDisk d = format.create(new MemoryFile("r"), new DiskSpec(MIB, Provisioning.THIN))) {
            assertEquals(ErrorCode.OUT_OF_RANGE, assertThrows(StorageException.class,
                    () -> d.read(ByteBuffer.allocate(2), MIB - 1)).code());
            assertEquals(ErrorCode.OUT_OF_RANGE, assertThrows(StorageException.class,
                    () -> d.write(ByteBuffer.allocate(2), -1)).code());
            assertEquals(ErrorCode.OUT_OF_RANGE, assertThrows(StorageException.class,
                    () -> d.trim(0, MIB + 1)).code());
        }
    }
}

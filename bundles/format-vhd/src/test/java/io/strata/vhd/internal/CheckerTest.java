package io.strata.vhd.internal;

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
import java.util.List;
import java.util.UUID;
import java.util.function.Consumer;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;

/**
 * One test per kind of corruption: the report names it; repair fixes what is
 * safely repairable (footers, leaks) and leaves everything else reported and the
 * file untouched; a check without repair never writes.
 */
class CheckerTest {
    private static final long MIB = 1L << 20;
    private static final long BAT = 1536;
    private static final long BLOCK_SLOT = 2 * MIB + 4096;
    private final VhdFormat format = new VhdFormat();
    private final MemoryStore store = new MemoryStore();

    /** 48 MiB dynamic image with blocks 0, 3 and 17 allocated. */
    private MemoryFile dynamic() {
        MemoryFile f = store.create("dyn.vhd");
        try (VirtualDisk d = format.create(f, new DiskSpec(48 * MIB, Provisioning.THIN))) {
            for (int block : new int[] {0, 3, 17}) {
                d.write(ByteBuffer.wrap(new byte[] {1, 2, 3}), block * 2 * MIB + 100);
            }
        }
        return f;
    }

    /** A 5 MiB parent and a child holding a few sectors of blocks 0 and 2 (the last, partial block). */
    private MemoryFile child() {
        try (VirtualDisk p = format.create(store.create("base.vhd"), new DiskSpec(5 * MIB, Provisioning.THIN))) {
            p.write(ByteBuffer.wrap(new byte[4096]), 0);
        }
        MemoryFile f = store.create("child.vhd");
        try (VirtualDisk c = format.createChild(f, "base.vhd", store)) {
            c.write(ByteBuffer.wrap(new byte[] {7, 7}), 1000);
            c.write(ByteBuffer.wrap(new byte[] {8}), 4 * MIB + 5);
        }
        return f;
    }

    private CheckReport check(MemoryFile f, boolean repair) {
        return format.check(f, store, repair);
    }

    private static boolean names(List<String> lines, String expected) {
        return lines.stream().anyMatch(l -> l.contains(expected));
    }

    /** Corrupts, checks (report names it, nothing written), repairs, and checks the outcome. */
    private void corruption(MemoryFile f, Consumer<MemoryFile> corrupt, String expected, boolean repairable) {
        assertTrue(check(f, false).clean(), "fixture not clean: " + check(f, false));
        corrupt.accept(f);
        byte[] before = f.bytes();
        int mutations = f.mutations();
        CheckReport r = check(f, false);
        assertTrue(names(r.errors(), expected), "expected '" + expected + "' in " + r.errors());
        assertEquals(mutations, f.mutations(), "a check without repair wrote");
        assertArrayEquals(before, f.bytes());
        CheckReport fixed = check(f, true);
        if (repairable) {
            assertFalse(fixed.repaired().isEmpty(), fixed.toString());
            assertTrue(fixed.errors().isEmpty(), "after repair: " + fixed);
            assertTrue(check(f, false).clean(), check(f, false).toString());
            format.open(f, false, store).close();
        } else {
            assertTrue(names(fixed.errors(), expected), "still reported after repair: " + fixed);
            assertTrue(fixed.repaired().isEmpty(), fixed.toString());
            assertArrayEquals(before, f.bytes(), "an unrepairable image was changed");
        }
    }

    private void dyn(Consumer<MemoryFile> corrupt, String expected, boolean repairable) {
        store.remove("dyn.vhd");
        corruption(dynamic(), corrupt, expected, repairable);
    }

    private void diff(Consumer<MemoryFile> corrupt, String expected, boolean repairable) {
        corruption(child(), corrupt, expected, repairable);
    }

    /**
     * Odd parent naming: the names are hints, so it is an error only when no resolver confirms
     * the parent by its unique id (an imported child may record any path).
     */
    private void naming(Consumer<MemoryFile> corrupt, String expected) {
        MemoryFile f = child();
        corrupt.accept(f);
        int mutations = f.mutations();
        CheckReport r = format.check(f, null, false);
        assertTrue(names(r.errors(), expected), "expected '" + expected + "' in " + r.errors());
        CheckReport linked = check(f, false);
        assertTrue(linked.errors().isEmpty(), "the resolver confirmed the parent: " + linked);
        assertEquals(mutations, f.mutations(), "a check without repair wrote");
        format.open(f, true, store).close();
    }

    private static byte[] be32(int v) {
        return ByteBuffer.allocate(4).putInt(v).array();
    }

    private static Footer footerAt(MemoryFile f, long pos) {
        return Footer.decode(f.peek(pos, 512), "test");
    }

    private static void header(MemoryFile f, UnaryOperator<DynamicHeader> change) {
        f.poke(512, change.apply(DynamicHeader.decode(f.peek(512, 1024), "t")).encode());
    }

    private static DynamicHeader with(DynamicHeader h, int version, long dataOffset, int blockSize, int entries) {
        return new DynamicHeader(dataOffset, h.tableOffset(), version, entries, blockSize, h.parentUniqueId(),
                h.parentTimestamp(), h.parentName(), h.parentLocators());
    }

    private static DynamicHeader withLocator(DynamicHeader h, int k, ParentLocator l) {
        List<ParentLocator> ls = new java.util.ArrayList<>(h.parentLocators());
        ls.set(k, l);
        return h.withParent(h.parentUniqueId(), h.parentTimestamp(), h.parentName(), ls);
    }

    @Test
    void cleanImagesAreClean() {
        MemoryFile f = dynamic();
        int mutations = f.mutations();
        CheckReport r = check(f, true);
        assertTrue(r.clean() && r.repaired().isEmpty(), r.toString());
        assertEquals(mutations, f.mutations(), "repairing a clean image wrote");
        MemoryFile fixed = store.create("fix.vhd");
        format.create(fixed, new DiskSpec(3 * MIB, Provisioning.THICK)).close();
        assertTrue(check(fixed, false).clean());
        assertTrue(check(child(), false).clean());
        assertTrue(format.check(child(), null, false).clean(), "without a resolver the parent link is skipped");
    }

    @Test
    void footerCopyDamage() {
        dyn(f -> f.poke(100, new byte[] {9}), "the footer copy at offset 0 has a bad checksum", true);
        dyn(f -> f.poke(0, "konectix".getBytes()), "the footer copy at offset 0 has a wrong cookie", true);
        diff(f -> f.poke(0, new byte[512]), "the footer copy at offset 0 has a wrong cookie", true);
    }

    @Test
    void trailingFooterDamage() {
        dyn(f -> f.poke(f.size() - 512 + 100, new byte[] {9}), "the footer at the end of the file has a bad checksum",
                true);
        dyn(f -> f.poke(f.size() - 512, new byte[512]), "the footer at the end of the file is missing", true);
        dyn(f -> f.poke(f.size() - 512, "garbage!".getBytes()), "the footer at the end of the file has a wrong cookie",
                true);
    }

    @Test
    void footersThatDisagree() {
        dyn(f -> {
            Footer x = footerAt(f, f.size() - 512);
            f.poke(f.size() - 512, x.withSize(96 * MIB, Geometry.of(96 * MIB / 512), x.creatorApp()).encode());
        }, "the footer copy at offset 0 and the footer at the end of the file differ (size", true);
    }

    @Test
    void headerDamage() {
        dyn(f -> f.poke(512 + 900, new byte[] {9}), "the dynamic header at offset 512 has a bad checksum", false);
        dyn(f -> f.poke(512, "cxsparsX".getBytes()), "the dynamic header at offset 512 has a wrong cookie", false);
        dyn(f -> header(f, h -> with(h, 0x20000, h.dataOffset(), h.blockSize(), h.maxTableEntries())),
                "the dynamic header has version 0x20000", false);
        dyn(f -> header(f, h -> with(h, h.headerVersion(), 4096, h.blockSize(), h.maxTableEntries())),
                "data offset field is 0x1000", false);
        dyn(f -> header(f, h -> with(h, h.headerVersion(), h.dataOffset(), 3 << 20, h.maxTableEntries())),
                "unsupported block size 3145728", false);
        dyn(f -> {
            Footer x = footerAt(f, 0).withType(DiskType.DYNAMIC, 1L << 40);
            f.poke(0, x.encode());
            f.poke(f.size() - 512, x.encode());
        }, "the dynamic header offset 1099511627776 is out of range", false);
    }

    @Test
    void batBoundsAndSize() {
        dyn(f -> header(f, h -> h.withTable(1L << 41, h.maxTableEntries())), "the BAT offset 2199023255552", false);
        dyn(f -> header(f, h -> h.withTable(1024, h.maxTableEntries())), "the BAT at offset 1024 overlaps", false);
        dyn(f -> header(f, h -> h.withTable(h.tableOffset(), 3)), "the BAT has 3 entries", false);
    }

    @Test
    void batEntriesPointingPastTheEndOrIntoMetadataOrEachOther() {
        dyn(f -> f.poke(BAT + 17 * 4, be32(0x7fffffff)), "BAT entry 17 points past the end of the file", false);
        dyn(f -> f.poke(BAT + 5 * 4, be32(0)), "BAT entry 5 overlaps the footer copy at offset 0", false);
        dyn(f -> f.poke(BAT + 5 * 4, be32(2)), "BAT entry 5 overlaps the dynamic header", false);
        dyn(f -> f.poke(BAT + 5 * 4, be32(3)), "BAT entry 5 overlaps the BAT", false);
        dyn(f -> f.poke(BAT + 5 * 4, f.peek(BAT + 3 * 4, 4)), "BAT entries 3 and 5 point at overlapping blocks", false);
        dyn(f -> f.poke(BAT + 5 * 4, be32((int) ((f.size() - 2 * MIB - 512) / 512))),
                "BAT entry 5 overlaps the footer at the end of the file", false);
        diff(f -> f.poke(BAT + 1 * 4, be32((int) (Layout.LOCATOR_AREA / 512))),
                "BAT entry 1 overlaps the data of parent locator 0", false);
    }

    @Test
    void bitmaps() {
        dyn(f -> {
            long block = Bat.blockOffset(ByteBuffer.wrap(f.peek(BAT + 3 * 4, 4)).getInt());
            f.poke(block + 10, new byte[] {0x7f}); // sector 80 holds zeros: readers agree, no error
            assertTrue(check(f, false).clean());
            f.poke(block, new byte[] {0x7f}); // sector 0 holds {1, 2, 3}
        }, "block 3 of the dynamic disk has sector 0 marked absent in its bitmap but holding data", false);
        diff(f -> {
            long block = Bat.blockOffset(ByteBuffer.wrap(f.peek(BAT + 2 * 4, 4)).getInt());
            f.poke(block + 300, new byte[] {1}); // sector 2407 of block 2 = 9 MiB + ..., past the 5 MiB disk
        }, "block 2 has bitmap bits set for sectors past the end of the disk", false);
    }

    @Test
    void fileSizeAgainstTheLastBlock() {
        dyn(f -> f.setSize(f.size() - 4096 - 512), "BAT entry 17 points past the end of the file", false);
        dyn(f -> f.setSize(f.size() - 100), "is not a whole number of sectors", true);
    }

    @Test
    void leakedSpaceIsReportedAndCompactedAway() {
        MemoryFile f = dynamic();
        long size = f.size();
        // an allocation interrupted before its BAT entry: the footer moved one block slot further
        byte[] footer = f.peek(size - 512, 512);
        f.poke(size - 512 + BLOCK_SLOT, footer);
        f.poke(size + 4096, new byte[] {5, 5, 5}); // the block's data reached the disk too
        CheckReport r = check(f, false);
        assertTrue(r.errors().isEmpty(), r.toString());
        assertEquals(1, r.leaks().size(), r.toString());
        assertEquals(BLOCK_SLOT, r.leakedBytes());
        CheckReport fixed = check(f, true);
        assertTrue(fixed.clean(), fixed.toString());
        assertEquals(1, fixed.repaired().size());
        assertEquals(size, f.size());
        try (VirtualDisk d = format.open(f, true)) {
            ByteBuffer b = ByteBuffer.allocate(3);
            d.read(b, 17 * 2 * MIB + 100);
            assertArrayEquals(new byte[] {1, 2, 3}, b.array());
        }
        // a leak in the middle: a block freed by trim, then compaction moves the last block into it
        try (VirtualDisk d = format.open(f, false)) {
            d.trim(0, 2 * MIB);
        }
        CheckReport mid = check(f, false);
        assertTrue(mid.errors().isEmpty() && mid.leaks().size() == 1, mid.toString());
        assertTrue(check(f, true).clean());
        assertEquals(size - BLOCK_SLOT, f.size());
        try (VirtualDisk d = format.open(f, true)) {
            ByteBuffer b = ByteBuffer.allocate(3);
            d.read(b, 17 * 2 * MIB + 100);
            assertArrayEquals(new byte[] {1, 2, 3}, b.array());
            d.read(b.clear(), 3 * 2 * MIB + 100);
            assertArrayEquals(new byte[] {1, 2, 3}, b.array());
        }
    }

    @Test
    void parentLinks() {
        diff(f -> store.remove("base.vhd"), "needs its parent 'base.vhd', which is missing", false);
        diff(f -> {
            store.remove("base.vhd");
            format.create(store.create("base.vhd"), new DiskSpec(5 * MIB, Provisioning.THIN)).close();
        }, "is not the image the child was made from", false);
        diff(f -> header(f, h -> h.withParent(DynamicHeader.NO_PARENT, 0, h.parentName(), h.parentLocators())),
                "the differencing disk has no parent unique id", false);
        naming(f -> header(f, h -> h.withParent(h.parentUniqueId(), 0, "other.vhd", h.parentLocators())),
                "the parent name 'other.vhd' and the relative parent locator '.\\base.vhd' name different files");
        diff(f -> {
            store.remove("base.vhd");
            format.create(store.create("base.vhd"), new DiskSpec(9 * MIB, Provisioning.THIN)).close();
            header(f, h -> h.withParent(VhdInspector.inspect(store.get("base.vhd")).footer().uniqueId(),
                    h.parentTimestamp(), h.parentName(), h.parentLocators()));
        }, "is larger than the child", false);
    }

    @Test
    void locators() {
        diff(f -> header(f, h -> withLocator(h, 1, new ParentLocator(ParentLocator.W2RU, 16, 20, 1L << 40))),
                "parent locator 1 (W2ru) data offset 1099511627776 is out of range", false);
        diff(f -> header(f, h -> withLocator(h, 1, new ParentLocator(0x41424344, 16, 20, Layout.LOCATOR_AREA))),
                "parent locator 1 (ABCD) has an unknown platform code", false);
        diff(f -> header(f, h -> withLocator(h, 0, new ParentLocator(ParentLocator.W2KU, 1, 900, Layout.LOCATOR_AREA))),
                "parent locator 0 (W2ku) holds 900 bytes of data in 512 bytes of space", false);
        diff(f -> header(f, h -> withLocator(h, 0, new ParentLocator(ParentLocator.W2KU, 16, 20, 512))),
                "parent locator 0 (W2ku) at offset 512 overlaps the footer copy, header or BAT", false);
        naming(f -> f.poke(Layout.LOCATOR_AREA, new byte[Layout.LOCATOR_SLOT]), "parent locator 0 (W2ku) holds no readable"
                + " path");
    }

    @Test
    void fixedDisks() {
        MemoryFile f = store.create("fix.vhd");
        format.create(f, new DiskSpec(3 * MIB, Provisioning.THICK)).close();
        corruption(f, x -> {
            byte[] footer = x.peek(x.size() - 512, 512);
            x.setSize(x.size() - 4096);
            x.poke(x.size() - 512, footer);
        }, "the file is truncated", false);
        MemoryFile g = store.create("fix2.vhd");
        format.create(g, new DiskSpec(3 * MIB, Provisioning.THICK)).close();
        corruption(g, x -> x.poke(x.size() - 512 + 100, new byte[] {9}), "not a VHD image", false);
    }

    @Test
    void garbageNeverThrows() {
        MemoryFile f = store.create("junk.vhd");
        java.util.Random rnd = new java.util.Random(1);
        for (int i = 0; i < 50; i++) {
            MemoryFile g = dynamic();
            byte[] junk = new byte[1 + rnd.nextInt(600)];
            rnd.nextBytes(junk);
            g.poke(rnd.nextInt(4096), junk);
            CheckReport r = format.check(g, store, rnd.nextBoolean());
            assertTrue(r != null);
            store.remove("dyn.vhd");
        }
        f.poke(0, new byte[100]);
        assertFalse(check(f, false).errors().isEmpty());
        assertTrue(check(store.create("empty.vhd"), false).errors().get(0).contains("too small"));
        UUID.randomUUID();
    }
}

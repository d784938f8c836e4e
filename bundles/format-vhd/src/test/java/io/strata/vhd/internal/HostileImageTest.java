package io.strata.vhd.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.format.BackingResolver;
import io.strata.api.format.CheckReport;
import io.strata.api.format.DiskSpec;
import io.strata.api.format.Extent;
import io.strata.api.format.Provisioning;
import io.strata.api.format.VirtualDisk;
import io.strata.testing.MemoryFile;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;

/**
 * Import is a trust boundary: an image whose probe succeeds and whose check reports no
 * errors must open, read, write and flush anywhere in its size and check clean afterwards;
 * everything else must be refused with CORRUPT_IMAGE (probe, open) or reported (check),
 * and nothing may be silently overwritten. One test per class of hostile image.
 */
class HostileImageTest {
    private static final long MIB = 1L << 20;
    private final VhdFormat format = new VhdFormat();

    // ------------------------------------------------------------------ helpers

    private static Footer footerAt(MemoryFile f, long pos) {
        return Footer.decode(f.peek(pos, 512), "test");
    }

    /** Rewrites the footer (both copies for a sparse image) with valid checksums. */
    private static void footers(MemoryFile f, UnaryOperator<Footer> change) {
        Footer x = change.apply(footerAt(f, f.size() - 512));
        f.poke(f.size() - 512, x.encode());
        if (Footer.hasCookie(f.peek(0, 512)) && x.diskType() != DiskType.FIXED) {
            f.poke(0, x.encode());
        }
    }

    private static void header(MemoryFile f, UnaryOperator<DynamicHeader> change) {
        f.poke(512, change.apply(DynamicHeader.decode(f.peek(512, 1024), "t")).encode());
    }

    private static DynamicHeader table(DynamicHeader h, long tableOffset, int entries, int blockSize) {
        return new DynamicHeader(h.dataOffset(), tableOffset, h.headerVersion(), entries, blockSize,
                h.parentUniqueId(), h.parentTimestamp(), h.parentName(), h.parentLocators());
    }

    private static Footer sized(Footer f, long currentSize) {
        return new Footer(f.features(), f.formatVersion(), f.dataOffset(), f.timestamp(), f.creatorApp(),
                f.creatorVersion(), f.creatorHostOs(), currentSize, currentSize, f.geometry(), f.diskTypeCode(),
                f.uniqueId(), f.savedState());
    }

    private static byte[] be32(int v) {
        return ByteBuffer.allocate(4).putInt(v).array();
    }

    /** probe, open read-only and open writable all fail with CORRUPT_IMAGE naming the problem; nothing written. */
    private void refused(MemoryFile f, String expected) {
        byte[] before = f.bytes();
        for (int attempt = 0; attempt < 3; attempt++) {
            int a = attempt;
            StorageException e = assertThrows(StorageException.class, () -> {
                switch (a) {
                    case 0 -> format.probe(f);
                    case 1 -> format.open(f, true).close();
                    default -> format.open(f.copy(), false).close();
                }
            });
            assertEquals(ErrorCode.CORRUPT_IMAGE, e.code(), e.getMessage());
            assertTrue(e.getMessage().contains(expected), "expected '" + expected + "' in: " + e.getMessage());
        }
        CheckReport r = format.check(f, null, false);
        assertFalse(r.errors().isEmpty(), "check found nothing wrong with: " + expected);
        assertArrayEquals(before, f.bytes(), "the file changed");
    }

    private static MemoryFile dynamic4k() {
        return SmallImages.file("d.vhd", SmallImages.dynamic(64 << 10, 4096, 0, 3, 15));
    }

    // ------------------------------------------------------------------ sizes

    @Test
    void virtualSizesThatAreNotPositiveWholeSectorsAreRefused() {
        for (long size : new long[] {0, 1, 511, 513, 4096 + 1}) {
            MemoryFile d = dynamic4k();
            footers(d, x -> sized(x, size));
            refused(d, size % 512 != 0 ? "is not a whole number of 512-byte sectors" : "the virtual size is 0");
            MemoryFile fixed = SmallImages.file("f.vhd", SmallImages.fixed(8192, (byte) 1));
            footers(fixed, x -> sized(x, size));
            refused(fixed, size % 512 != 0 ? "is not a whole number of 512-byte sectors" : "the virtual size is 0");
        }
        // geometry-derived (creator "vpc "): a zero geometry is a zero size
        MemoryFile vpc = dynamic4k();
        footers(vpc, x -> new Footer(x.features(), x.formatVersion(), x.dataOffset(), x.timestamp(), "vpc ",
                x.creatorVersion(), x.creatorHostOs(), x.originalSize(), x.currentSize(), new Geometry(0, 16, 63),
                x.diskTypeCode(), x.uniqueId(), x.savedState()));
        refused(vpc, "the virtual size is 0 (geometry 0/16/63)");
    }

    @Test
    void sizesPastTheLimitOrOverflowingAreRefusedWithUnsignedNumbers() {
        for (long size : new long[] {Vhd.MAX_VIRTUAL_SIZE + 512, Long.MAX_VALUE - 511, -512, Long.MIN_VALUE}) {
            MemoryFile d = dynamic4k();
            footers(d, x -> sized(x, size));
            refused(d, "the virtual size " + Long.toUnsignedString(size) + " exceeds the VHD limit of 2040 GiB");
        }
    }

    /** The largest valid disk in 2 MiB blocks: status and reads at its very end, no index errors. */
    @Test
    void theLargestValidSizeReadsToItsLastByte() {
        MemoryFile f = SmallImages.file("max.vhd", SmallImages.dynamic(Vhd.MAX_VIRTUAL_SIZE, 2 << 20));
        assertEquals(Vhd.MAX_VIRTUAL_SIZE, format.probe(f).virtualSize());
        assertTrue(format.check(f, null, false).errors().isEmpty());
        try (VirtualDisk d = format.open(f, false)) {
            long end = d.virtualSize();
            assertEquals(List.of(new Extent(end - 512, 512, false, true)), d.blockStatus(end - 512, 512));
            assertEquals(1, d.blockStatus(0, end).size());
            ByteBuffer b = ByteBuffer.allocate(4096);
            d.read(b, end - 4096);
            d.write(ByteBuffer.wrap(new byte[] {9}), end - 1);
            ByteBuffer one = ByteBuffer.allocate(1);
            d.read(one, end - 1);
            assertEquals(9, one.get(0));
            assertEquals(ErrorCode.OUT_OF_RANGE, assertThrows(StorageException.class,
                    () -> d.read(ByteBuffer.allocate(2), end - 1)).code());
        }
        assertTrue(format.check(f, null, false).errors().isEmpty());
    }

    // ------------------------------------------------------------------ header and BAT geometry

    @Test
    void blockSizesThatAreNotPowersOfTwoOrAbsurdlyLargeAreRefused() {
        for (int bs : new int[] {0, 256, 3 << 20, 64 << 20, 256 << 20, Integer.MIN_VALUE, -1}) {
            MemoryFile d = dynamic4k();
            header(d, h -> table(h, h.tableOffset(), 1, bs));
            refused(d, "unsupported block size " + Integer.toUnsignedString(bs));
        }
    }

    @Test
    void tablesTooSmallForTheSizeOrPastTheFileAreRefused() {
        MemoryFile small = dynamic4k();
        header(small, h -> table(h, h.tableOffset(), 15, h.blockSize()));
        refused(small, "the BAT has 15 entries of 4096 bytes, too few for the virtual size 65536");
        MemoryFile past = dynamic4k();
        header(past, h -> table(h, past.size(), h.maxTableEntries(), h.blockSize()));
        refused(past, "the BAT offset " + past.size() + " (16 entries) is out of range");
        MemoryFile wrapped = dynamic4k();
        header(wrapped, h -> table(h, -4096, h.maxTableEntries(), h.blockSize()));
        refused(wrapped, "the BAT offset 18446744073709547520 (16 entries) is out of range");
        MemoryFile huge = dynamic4k();
        header(huge, h -> table(h, h.tableOffset(), -1, h.blockSize()));
        refused(huge, "the BAT has 4294967295 entries");
    }

    // ------------------------------------------------------------------ self-referencing tables

    /** Block 3's entry (BAT at 1536, entry 3 at 1548) pointed at each structure in turn. */
    @Test
    void batEntriesPointingAtMetadataOrAnotherBlockAreRefusedAndNeverWritten() {
        MemoryFile good = dynamic4k();
        long block0 = Bat.blockOffset(ByteBuffer.wrap(good.peek(1536, 4)).getInt());
        long trailing = good.size() - 512;
        Object[][] cases = {
            {0L, "BAT entry 3 overlaps the footer copy at offset 0"},
            {512L, "BAT entry 3 overlaps the dynamic header at offset 512"},
            {1536L, "BAT entry 3 overlaps the BAT at offset 1536"},
            {trailing - 512, "BAT entry 3 points past the end of the file"},
            {block0, "point at overlapping blocks"},
            {block0 + 512, "point at overlapping blocks"}, // block 0's data is block 3's bitmap
            {block0 + 4096, "point at overlapping blocks"}, // over the end of block 0
        };
        for (Object[] c : cases) {
            MemoryFile f = dynamic4k();
            f.poke(1536 + 3 * 4, be32((int) ((Long) c[0] / 512)));
            refused(f, (String) c[1]);
        }
    }

    // ------------------------------------------------------------------ repair

    /**
     * A damaged BAT entry leaves its block unreferenced, which looks like a leak: repair
     * must report it and say why it is kept, never compact it away while errors remain.
     */
    @Test
    void repairKeepsLeakedBlocksWhileErrorsRemain() {
        MemoryFile f = new MemoryFile("r.vhd");
        try (VirtualDisk d = format.create(f, new DiskSpec(16 * MIB, Provisioning.THIN))) {
            for (int i = 0; i < 4; i++) {
                d.write(ByteBuffer.wrap(new byte[] {(byte) (i + 1)}), i * 2 * MIB);
            }
        }
        f.poke(1536 + 2 * 4, be32(1)); // block 2 now "at" the header: its real data is unreferenced
        byte[] before = f.bytes();
        CheckReport r = format.check(f, null, true);
        assertTrue(r.errors().stream().anyMatch(e -> e.contains("BAT entry 2 overlaps the dynamic header")), r.toString());
        assertFalse(r.leaks().isEmpty(), "the orphaned block is not reported: " + r);
        assertTrue(r.leaks().get(0).contains("not freed while the image has errors"), r.toString());
        assertTrue(r.repaired().isEmpty(), r.toString());
        assertArrayEquals(before, f.bytes(), "repair changed an image with errors");
    }

    /**
     * A power loss can leave block data where the trailing footer belongs; when that data's last
     * sector happens to start with the footer cookie, repair must append the footer, not write it
     * over the guest's data.
     */
    @Test
    void footerRepairNeverOverwritesBlockDataThatLooksLikeAFooter() {
        byte[] img = SmallImages.dynamic(64 << 10, 4096, 0);
        MemoryFile f = SmallImages.file("t.vhd", img);
        long end = f.size() - 512; // end of block 0
        byte[] last = new byte[512];
        System.arraycopy(Footer.COOKIE, 0, last, 0, 8);
        last[100] = 42;
        f.poke(end - 512, last);
        f.setSize(end);
        f.clearLog();
        CheckReport r = format.check(f, null, true);
        assertTrue(r.errors().isEmpty(), r.toString());
        assertFalse(r.repaired().isEmpty(), r.toString());
        try (VirtualDisk d = format.open(f, true)) {
            ByteBuffer b = ByteBuffer.allocate(512);
            d.read(b, 4096 - 512);
            assertArrayEquals(last, b.array(), "the guest's last sector was overwritten");
        }
    }

    // ------------------------------------------------------------------ writes keep images clean

    /** Hyper-V writes exact bitmaps; a Strata write into an unset sector must set it. */
    @Test
    void writesIntoExactBitmapsKeepTheImageClean() {
        MemoryFile f = dynamic4k();
        long block0 = Bat.blockOffset(ByteBuffer.wrap(f.peek(1536, 4)).getInt());
        byte[] bm = new byte[512];
        bm[0] = (byte) 0x80; // sector 0 only
        f.poke(block0, bm);
        f.poke(block0 + 512 + 512, new byte[4096 - 512]); // the unset sectors hold zeros, as Hyper-V leaves them
        assertTrue(format.check(f, null, false).errors().isEmpty(), format.check(f, null, false).toString());
        try (VirtualDisk d = format.open(f, false)) {
            d.write(ByteBuffer.wrap(new byte[] {5, 6, 7}), 5 * 512 + 3);
        }
        CheckReport r = format.check(f, null, false);
        assertTrue(r.errors().isEmpty(), r.toString());
        assertArrayEquals(SectorBitmap.allSet(4096), f.peek(block0, 512));
    }

    /** The same through a window (the NBD export's large writes): the bitmap is set before the data lands. */
    @Test
    void aWindowIntoAnExactBitmapCompletesItFirst() {
        MemoryFile f = dynamic4k();
        long block0 = Bat.blockOffset(ByteBuffer.wrap(f.peek(1536, 4)).getInt());
        byte[] bm = new byte[512];
        bm[0] = (byte) 0x80;
        f.poke(block0, bm);
        f.poke(block0 + 512 + 512, new byte[4096 - 512]);
        byte[] data = new byte[2048];
        java.util.Arrays.fill(data, (byte) 9);
        try (VirtualDisk d = format.open(f, false)) {
            try (io.strata.api.fs.FileWindow w = d.window(1024, data.length).orElseThrow()) {
                assertArrayEquals(SectorBitmap.allSet(4096), f.peek(block0, 512), "set before any byte is put");
                w.buffer().put(data);
            }
            ByteBuffer b = ByteBuffer.allocate(data.length);
            d.read(b, 1024);
            assertArrayEquals(data, b.array());
        }
        CheckReport r = format.check(f, null, false);
        assertTrue(r.errors().isEmpty(), r.toString());
    }

    /** Trimming the last, partial block of a child whose parent has data there. */
    @Test
    void trimOfAChildsPartialLastBlockChecksClean() {
        MemoryStore store = new MemoryStore();
        try (VirtualDisk p = format.create(store.create("p.vhd"), new DiskSpec(3 * MIB, Provisioning.THIN))) {
            p.write(ByteBuffer.wrap(new byte[] {1, 2, 3}), 2 * MIB + 10);
        }
        MemoryFile c = store.create("c.vhd");
        try (VirtualDisk d = format.createChild(c, "p.vhd", store)) {
            d.trim(2 * MIB, MIB);
            ByteBuffer b = ByteBuffer.allocate(16);
            d.read(b, 2 * MIB);
            assertArrayEquals(new byte[16], b.array());
        }
        CheckReport r = format.check(c, store, false);
        assertTrue(r.errors().isEmpty(), r.toString());
        try (VirtualDisk d = format.open(c, false, store)) {
            d.trim(2 * MIB, MIB); // again, over the block it allocated
            d.write(ByteBuffer.wrap(new byte[] {4}), 3 * MIB - 1);
        }
        r = format.check(c, store, false);
        assertTrue(r.errors().isEmpty(), r.toString());
    }

    // ------------------------------------------------------------------ imported children

    private static final String[][] ODD_NAMES = {
        // parent name, W2ku, W2ru
        {"../../etc/passwd", "C:\\Windows\\System32\\config\\SAM", "..\\..\\..\\boot.ini"},
        {"http://example.com/img/base.vhd", "/var/lib/libvirt/images/base.vhd", "file:///etc/shadow"},
        {"\\\\server\\share\\dir\\", null, ".\\"},
        {"/", "C:\\", null},
        {"", "\\\\?\\Volume{0}\\x.vhd", "./a/../../b.vhd"},
    };

    /** The resolver of an import: the parent the user named, whatever the child records; names asked are kept. */
    private static BackingResolver named(MemoryFile parent, List<String> asked) {
        return name -> {
            asked.add(name);
            return parent.readOnlyCopy();
        };
    }

    @Test
    void importedChildrenWithOddParentNamesCheckOpenAndRebase() {
        MemoryFile parent = SmallImages.file(SmallImages.PARENT_NAME, SmallImages.parent());
        for (String[] n : ODD_NAMES) {
            MemoryFile c = SmallImages.file("c.vhd", SmallImages.child(64 << 10, 4096, n[0], n[1], n[2], 2));
            List<String> asked = new ArrayList<>();
            BackingResolver resolver = named(parent, asked);
            String what = String.join(" | ", String.valueOf(n[0]), String.valueOf(n[1]), String.valueOf(n[2]));
            assertTrue(format.probe(c).virtualSize() > 0);
            assertTrue(format.backingFile(c).isPresent(), "a child must never look standalone: " + what);
            CheckReport r = format.check(c, resolver, false);
            assertTrue(r.errors().isEmpty(), what + ": " + r);
            byte[] data;
            try (VirtualDisk d = format.open(c, false, resolver)) {
                data = new byte[64 << 10];
                d.read(ByteBuffer.wrap(data), 0);
                d.rebase(SmallImages.PARENT_NAME, resolver);
                assertEquals(Optional.of(SmallImages.PARENT_NAME), d.backingFile());
            }
            for (int i = 0; i < data.length; i++) {
                byte expected = i >= 2 * 4096 && i < 2 * 4096 + 512 ? (byte) (0xC0 + 2) : SmallImages.parentByte(i);
                assertEquals(expected, data[i], what + ": byte " + i);
            }
            for (String a : asked) {
                assertFalse(a.contains("/") || a.contains("\\"), "the resolver was asked for a path: " + a);
            }
            // after the rebase an ordinary datastore resolver finds the parent by its plain name
            MemoryStore store = new MemoryStore();
            store.put(SmallImages.PARENT_NAME, parent);
            assertEquals(Optional.of(SmallImages.PARENT_NAME), format.backingFile(c));
            r = format.check(c, store, false);
            assertTrue(r.errors().isEmpty(), what + " after rebase: " + r);
            try (VirtualDisk d = format.open(c, true, store)) {
                byte[] again = new byte[64 << 10];
                d.read(ByteBuffer.wrap(again), 0);
                assertArrayEquals(data, again, what);
            }
        }
    }

    @Test
    void anImportedChildOverTheWrongParentStaysChainBroken() {
        MemoryFile other = SmallImages.file("other.vhd", SmallImages.fixed(64 << 10, (byte) 3));
        for (String[] n : ODD_NAMES) {
            MemoryFile c = SmallImages.file("c.vhd", SmallImages.child(64 << 10, 4096, n[0], n[1], n[2], 2));
            BackingResolver resolver = named(other, new ArrayList<>());
            StorageException e = assertThrows(StorageException.class, () -> format.open(c, false, resolver));
            assertEquals(ErrorCode.CHAIN_BROKEN, e.code(), e.getMessage());
            assertTrue(e.getMessage().contains("is not the image the child was made from"), e.getMessage());
            CheckReport r = format.check(c, resolver, false);
            assertTrue(r.errors().stream().anyMatch(x -> x.contains("is not the image the child was made from")),
                    r.toString());
        }
    }

    /**
     * A child whose first locator sits where Strata's locator set A would be, with a block where
     * set B would be: a rebase must append its locators, not write them over the block.
     */
    @Test
    void rebaseNeverWritesOverAnImageThatOnlyLooksLikeStratasLayout() {
        MemoryFile c = new MemoryFile("c.vhd");
        int bs = 4096;
        int entries = 16;
        long locA = Layout.LOCATOR_AREA;
        byte[] k = "C:\\vm\\parent.vhd".getBytes(StandardCharsets.UTF_16LE);
        byte[] r = ".\\parent.vhd".getBytes(StandardCharsets.UTF_16LE);
        c.write(ByteBuffer.wrap(k), locA);
        c.write(ByteBuffer.wrap(r), locA + 512);
        List<ParentLocator> ls = new ArrayList<>(Collections.nCopies(DynamicHeader.LOCATORS, ParentLocator.NONE));
        ls.set(0, new ParentLocator(ParentLocator.W2KU, 1, k.length, locA));
        ls.set(1, new ParentLocator(ParentLocator.W2RU, 1, r.length, locA + 512));
        long block = locA + Layout.LOCATOR_SET; // where Strata's set B would go
        byte[] bitmap = SectorBitmap.allSet(bs);
        byte[] data = new byte[bs];
        java.util.Arrays.fill(data, (byte) 0x77);
        c.write(ByteBuffer.wrap(bitmap), block);
        c.write(ByteBuffer.wrap(data), block + 512);
        int[] bat = new int[entries];
        java.util.Arrays.fill(bat, Bat.UNUSED);
        bat[1] = Bat.entryFor(block);
        Footer footer = SmallImages.footer(entries * (long) bs, DiskType.DIFFERENCING, UUID.randomUUID());
        c.write(ByteBuffer.wrap(footer.encode()), 0);
        c.write(ByteBuffer.wrap(DynamicHeader.forDynamic(Vhd.BAT_OFFSET, entries, bs)
                .withParent(SmallImages.PARENT_ID, 0, "parent.vhd", ls).encode()), Vhd.HEADER_OFFSET);
        c.write(Bat.encode(bat, 0, entries, true), Vhd.BAT_OFFSET);
        c.write(ByteBuffer.wrap(footer.encode()), block + 512 + bs);
        MemoryStore store = new MemoryStore();
        store.put(SmallImages.PARENT_NAME, SmallImages.file(SmallImages.PARENT_NAME, SmallImages.parent()));
        assertTrue(format.check(c, store, false).errors().isEmpty(), format.check(c, store, false).toString());
        try (VirtualDisk d = format.open(c, false, store)) {
            d.rebase(SmallImages.PARENT_NAME, store);
        }
        assertArrayEquals(data, c.peek(block + 512, bs), "the rebase wrote over block 1");
        assertArrayEquals(bitmap, c.peek(block, 512), "the rebase wrote over block 1's bitmap");
        CheckReport after = format.check(c, store, false);
        assertTrue(after.errors().isEmpty(), after.toString());
        try (VirtualDisk d = format.open(c, false, store)) {
            ByteBuffer b = ByteBuffer.allocate(bs);
            d.read(b, bs);
            assertArrayEquals(data, b.array());
            d.rebase(SmallImages.PARENT_NAME, store); // and once more, alternating
        }
        assertTrue(format.check(c, store, false).errors().isEmpty());
    }
}

package io.strata.vhd.internal;

import io.strata.testing.MemoryFile;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.format.DiskSpec;
import io.strata.api.format.Provisioning;
import io.strata.api.format.VirtualDisk;
import java.nio.ByteBuffer;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;

/**
 * Every kind of damage the brief lists, made by corrupting the bytes of a good
 * image: probe and open (read-only and read-write) fail with CORRUPT_IMAGE
 * naming the problem, and the file is byte for byte what it was.
 */
class DamagedImageTest {
    private static final long BAT = 1536;
    private final VhdFormat format = new VhdFormat();

    /** 48 MiB dynamic image (24 BAT entries) with blocks 0, 3 and 17 allocated. */
    private MemoryFile dynamicImage() {
        MemoryFile f = new MemoryFile("dyn.vhd");
        try (VirtualDisk d = format.create(f, new DiskSpec(48L << 20, Provisioning.THIN))) {
            for (int block : new int[] {0, 3, 17}) {
                d.write(ByteBuffer.wrap(new byte[] {1, 2, 3}), block * (2L << 20) + 100);
            }
        }
        return f;
    }

    private MemoryFile fixedImage() {
        MemoryFile f = new MemoryFile("fix.vhd");
        format.create(f, new DiskSpec(3L << 20, Provisioning.THICK)).close();
        return f;
    }

    private void assertDamaged(MemoryFile f, String expected) {
        byte[] before = f.bytes();
        f.clearLog();
        int mutations = f.mutations();
        for (int attempt = 0; attempt < 3; attempt++) {
            final int a = attempt;
            StorageException e = assertThrows(StorageException.class, () -> {
                switch (a) {
                    case 0 -> format.probe(f);
                    case 1 -> format.open(f, true);
                    default -> format.open(f, false);
                }
            });
            assertEquals(ErrorCode.CORRUPT_IMAGE, e.code(), e.getMessage());
            assertTrue(e.getMessage().startsWith("VHD image '" + f.name() + "' is damaged: "), e.getMessage());
            assertTrue(e.getMessage().contains(expected), "expected '" + expected + "' in: " + e.getMessage());
        }
        assertEquals(mutations, f.mutations(), "a failed open wrote to the file");
        assertArrayEquals(before, f.bytes(), "a failed open changed the file");
    }

    private static byte[] be32(int v) {
        return ByteBuffer.allocate(4).putInt(v).array();
    }

    private static Footer footerAt(MemoryFile f, long pos) {
        return Footer.decode(f.peek(pos, 512), "test");
    }

    private static DynamicHeader header(MemoryFile f) {
        return DynamicHeader.decode(f.peek(512, 1024), "test");
    }

    /** Rewrites both footers of a dynamic image after changing them, with valid checksums. */
    private static void rewriteFooters(MemoryFile f, java.util.function.UnaryOperator<Footer> change) {
        Footer changed = change.apply(footerAt(f, 0));
        f.poke(0, changed.encode());
        f.poke(f.size() - 512, changed.encode());
    }

    private static Footer withType(Footer x, int type) {
        return new Footer(x.features(), x.formatVersion(), x.dataOffset(), x.timestamp(), x.creatorApp(),
                x.creatorVersion(), x.creatorHostOs(), x.originalSize(), x.currentSize(), x.geometry(), type,
                x.uniqueId(), x.savedState());
    }

    private static Footer withDataOffset(Footer x, long off) {
        return new Footer(x.features(), x.formatVersion(), off, x.timestamp(), x.creatorApp(),
                x.creatorVersion(), x.creatorHostOs(), x.originalSize(), x.currentSize(), x.geometry(),
                x.diskTypeCode(), x.uniqueId(), x.savedState());
    }

    private static void rewriteHeader(MemoryFile f, java.util.function.UnaryOperator<DynamicHeader> change) {
        f.poke(512, change.apply(header(f)).encode());
    }

    private static DynamicHeader withBlockSize(DynamicHeader h, int bs) {
        return new DynamicHeader(h.dataOffset(), h.tableOffset(), h.headerVersion(), h.maxTableEntries(), bs,
                h.parentUniqueId(), h.parentTimestamp(), h.parentName(), h.parentLocators());
    }

    private void dynamicCase(Consumer<MemoryFile> corrupt, String expected) {
        MemoryFile f = dynamicImage();
        format.probe(f); // good before
        corrupt.accept(f);
        assertDamaged(f, expected);
    }

    private void fixedCase(Consumer<MemoryFile> corrupt, String expected) {
        MemoryFile f = fixedImage();
        format.probe(f);
        corrupt.accept(f);
        assertDamaged(f, expected);
    }

    @Test
    void badChecksums() {
        dynamicCase(f -> f.poke(100, new byte[] {9}), "the footer copy at offset 0 has a bad checksum");
        fixedCase(f -> f.poke(f.size() - 512 + 100, new byte[] {9}), "the footer at the end of the file has a bad checksum");
        dynamicCase(f -> f.poke(f.size() - 512 + 100, new byte[] {9}),
                "the footer at the end of the file has a bad checksum");
        dynamicCase(f -> f.poke(512 + 900, new byte[] {9}), "the dynamic header at offset 512 has a bad checksum");
    }

    @Test
    void wrongCookies() {
        dynamicCase(f -> f.poke(0, "konectix".getBytes()), "the footer copy at offset 0 has a wrong cookie");
        fixedCase(f -> f.poke(f.size() - 512, "konectix".getBytes()),
                "not a VHD image: no 'conectix' footer cookie");
        dynamicCase(f -> f.poke(512, "cxsparsX".getBytes()), "the dynamic header at offset 512 has a wrong cookie");
        dynamicCase(f -> f.poke(f.size() - 512, "garbage!".getBytes()),
                "the footer at the end of the file is missing or damaged");
    }

    @Test
    void truncatedFiles() {
        dynamicCase(f -> f.setSize(f.size() - 4096 - 512), "BAT entry 17 points past the end of the file");
        dynamicCase(f -> f.setSize(f.size() - 100), "is not a whole number of sectors");
        dynamicCase(f -> f.setSize(1536), "is out of range for a file of 1536 bytes");
        dynamicCase(f -> f.setSize(300), "too small to hold a VHD footer");
        fixedCase(f -> f.setSize(f.size() - 512), "not a VHD image");
        fixedCase(f -> {
            byte[] footer = f.peek(f.size() - 512, 512);
            f.setSize(f.size() - 4096);
            f.poke(f.size() - 512, footer);
        }, "the file is truncated");
    }

    @Test
    void batEntriesPointingPastTheEndOrIntoMetadata() {
        dynamicCase(f -> f.poke(BAT + 17 * 4, be32(0x7fffffff)), "BAT entry 17 points past the end of the file");
        dynamicCase(f -> f.poke(BAT + 5 * 4, be32(0)), "BAT entry 5 overlaps the footer copy at offset 0");
        dynamicCase(f -> f.poke(BAT + 5 * 4, be32(2)), "BAT entry 5 overlaps the dynamic header at offset 512");
        dynamicCase(f -> f.poke(BAT + 5 * 4, be32(3)), "BAT entry 5 overlaps the BAT at offset 1536");
        dynamicCase(f -> f.poke(BAT + 5 * 4, f.peek(BAT + 3 * 4, 4)), "BAT entries 3 and 5 point at overlapping blocks");
        dynamicCase(f -> {
            int e = ByteBuffer.wrap(f.peek(BAT + 3 * 4, 4)).getInt();
            f.poke(BAT + 5 * 4, be32(e + 8));
        }, "point at overlapping blocks");
        dynamicCase(f -> {
            long blockBytes = (2L << 20) + 512;
            f.poke(BAT + 5 * 4, be32((int) ((f.size() - blockBytes) / 512)));
        }, "BAT entry 5 overlaps the footer at the end of the file");
    }

    @Test
    void headerAndTableOffsetsOutOfRange() {
        dynamicCase(f -> rewriteFooters(f, x -> withDataOffset(x, 1L << 40)), "the dynamic header offset 1099511627776 is out of range");
        dynamicCase(f -> rewriteFooters(f, x -> withDataOffset(x, 0)), "the dynamic header offset 0 is out of range");
        dynamicCase(f -> rewriteFooters(f, x -> withDataOffset(x, -1)), "is out of range");
        dynamicCase(f -> rewriteHeader(f, h -> h.withTable(1L << 41, h.maxTableEntries())), "the BAT offset 2199023255552");
        dynamicCase(f -> rewriteHeader(f, h -> h.withTable(0, h.maxTableEntries())), "overlaps the footer copy at offset 0");
        dynamicCase(f -> rewriteHeader(f, h -> h.withTable(1024, h.maxTableEntries())), "overlaps the dynamic header");
        dynamicCase(f -> rewriteHeader(f, h -> h.withTable(h.tableOffset(), 3)), "the BAT has 3 entries");
        dynamicCase(f -> rewriteHeader(f, h -> h.withTable(h.tableOffset(), -1)), "the BAT has 4294967295 entries");
    }

    @Test
    void unsupportedBlockSizeAndDiskType() {
        dynamicCase(f -> rewriteHeader(f, h -> withBlockSize(h, 3 << 20)), "unsupported block size 3145728");
        dynamicCase(f -> rewriteHeader(f, h -> withBlockSize(h, 0)), "unsupported block size 0");
        dynamicCase(f -> rewriteHeader(f, h -> withBlockSize(h, 1 << 30)), "unsupported block size 1073741824");
        dynamicCase(f -> rewriteFooters(f, x -> withType(x, 4)), "the differencing disk has no parent unique id");
        dynamicCase(f -> rewriteFooters(f, x -> withType(x, 7)), "unsupported disk type 7");
        fixedCase(f -> f.poke(f.size() - 512, withType(footerAt(f, f.size() - 512), 5).encode()),
                "unsupported disk type 5");
    }

    @Test
    void sizesPastTheLimit() {
        dynamicCase(f -> rewriteFooters(f, x -> x.withSize(3000L << 30, x.geometry(), x.creatorApp())),
                "exceeds the VHD limit of 2040 GiB");
    }

    @Test
    void anAllZeroTailIsAnInterruptedExtensionNotDamage() {
        MemoryFile f = dynamicImage();
        f.poke(f.size(), new byte[4096]); // as if the file grew but the new footer never reached the disk
        try (VirtualDisk d = format.open(f, false)) {
            ByteBuffer b = ByteBuffer.allocate(3);
            d.read(b, 17 * (2L << 20) + 100);
            assertArrayEquals(new byte[] {1, 2, 3}, b.array());
            d.write(ByteBuffer.wrap(new byte[] {4}), 20 * (2L << 20)); // allocation rewrites the footer
        }
        assertTrue(Footer.hasCookie(f.peek(f.size() - 512, 512)));
        format.probe(f);
    }

    @Test
    void damagedDifferencingDisks() {
        MemoryStore store = new MemoryStore();
        format.create(store.create("p.vhd"), new DiskSpec(8L << 20, Provisioning.THIN)).close();
        java.util.function.Supplier<MemoryFile> child = () -> {
            MemoryFile c = store.create("c.vhd");
            try (VirtualDisk d = format.createChild(c, "p.vhd", store)) {
                d.write(ByteBuffer.wrap(new byte[] {1}), 0);
            }
            return c;
        };
        java.util.function.BiConsumer<java.util.function.UnaryOperator<DynamicHeader>, String> headerCase =
                (change, expected) -> {
                    MemoryFile c = child.get();
                    format.open(c, true, store).close();
                    rewriteHeader(c, change);
                    assertDamaged(c, expected);
                    StorageException e = assertThrows(StorageException.class, () -> format.open(c, false, store));
                    assertEquals(ErrorCode.CORRUPT_IMAGE, e.code(), e.getMessage());
                };
        headerCase.accept(h -> locator(h, 1, new ParentLocator(ParentLocator.W2RU, 16, 20, 1L << 40)),
                "parent locator 1 (W2ru) data offset 1099511627776 is out of range");
        headerCase.accept(h -> locator(h, 0, new ParentLocator(ParentLocator.W2KU, 1, 900, h.tableOffset() + 4096)),
                "holds 900 bytes of data in 512 bytes of space");
        headerCase.accept(h -> locator(h, 0, new ParentLocator(ParentLocator.W2KU, 16, 20, 1024)),
                "overlaps the footer copy, header or BAT");
        headerCase.accept(h -> h.withParent(DynamicHeader.NO_PARENT, 0, h.parentName(), h.parentLocators()),
                "the differencing disk has no parent unique id");
        MemoryFile c = child.get();
        c.poke(BAT, be32((int) (Layout.LOCATOR_AREA / 512)));
        assertDamaged(c, "BAT entry 0 overlaps the data of parent locator 0");
    }

    private static DynamicHeader locator(DynamicHeader h, int k, ParentLocator l) {
        java.util.List<ParentLocator> ls = new java.util.ArrayList<>(h.parentLocators());
        ls.set(k, l);
        return h.withParent(h.parentUniqueId(), h.parentTimestamp(), h.parentName(), ls);
    }
}

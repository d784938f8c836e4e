package io.strata.vhd.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class StructuresTest {
    private static Footer footer(String creator, long size, Geometry g, DiskType type) {
        return new Footer(2, 0x10000, type == DiskType.FIXED ? -1L : 512, 123456, creator, 0x00050003,
                Footer.HOST_OS_WINDOWS, size, size, g, type.code, UUID.fromString("12345678-9abc-def0-1122-334455667788"),
                false);
    }

    @Test
    void footerRoundTrip() {
        Footer f = footer("win ", 10L << 30, Geometry.of((10L << 30) / 512), DiskType.DYNAMIC);
        byte[] b = f.encode();
        assertEquals(512, b.length);
        assertEquals(f, Footer.decode(b, "test"));
        assertArrayEquals(b, Footer.decode(b, "test").encode());
    }

    @Test
    void footerFieldsAreBigEndianAtSpecOffsets() {
        Footer f = footer("win ", 0x0102030405L * 512, new Geometry(0x1234, 0x10, 0x3f), DiskType.FIXED);
        ByteBuffer b = ByteBuffer.wrap(f.encode());
        assertEquals("conectix", new String(f.encode(), 0, 8, java.nio.charset.StandardCharsets.US_ASCII));
        assertEquals(2, b.getInt(8));
        assertEquals(0x10000, b.getInt(12));
        assertEquals(-1L, b.getLong(16));
        assertEquals(123456, b.getInt(24));
        assertEquals('w', b.get(28));
        assertEquals(0x0102030405L * 512, b.getLong(40));
        assertEquals(0x0102030405L * 512, b.getLong(48));
        assertEquals(0x12, b.get(56));
        assertEquals(0x34, b.get(57));
        assertEquals(0x10, b.get(58));
        assertEquals(0x3f, b.get(59));
        assertEquals(2, b.getInt(60));
        assertEquals(0x12345678, b.getInt(68));
    }

    @Test
    void checksumIsOnesComplementOfByteSumWithoutTheField() {
        byte[] b = footer("win ", 1 << 20, Geometry.of(2048), DiskType.DYNAMIC).encode();
        int sum = 0;
        for (int i = 0; i < 512; i++) {
            if (i < 64 || i >= 68) {
                sum += b[i] & 0xff;
            }
        }
        assertEquals(~sum, ByteBuffer.wrap(b).getInt(64));
        // the stored checksum itself does not feed the computation
        assertEquals(Checksum.compute(b, 64), ~sum);
    }

    @Test
    void footerDecodeRejectsBadChecksumAndCookie() {
        byte[] b = footer("win ", 1 << 20, Geometry.of(2048), DiskType.DYNAMIC).encode();
        b[100] ^= 1;
        Damage d = assertThrows(Damage.class, () -> Footer.decode(b, "the footer"));
        assertTrue(d.getMessage().contains("bad checksum"), d.getMessage());
        byte[] c = footer("win ", 1 << 20, Geometry.of(2048), DiskType.DYNAMIC).encode();
        c[0] = 'X';
        d = assertThrows(Damage.class, () -> Footer.decode(c, "the footer"));
        assertTrue(d.getMessage().contains("wrong cookie"), d.getMessage());
    }

    @Test
    void dynamicHeaderRoundTripIncludingParentFields() {
        DynamicHeader plain = DynamicHeader.forDynamic(1536, 512, 2 << 20);
        assertEquals(plain, DynamicHeader.decode(plain.encode(), "h"));
        List<ParentLocator> locators = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            locators.add(i < 2 ? new ParentLocator(0x57326B75, 1, 42 + i, 4096L * (i + 1)) : ParentLocator.NONE);
        }
        DynamicHeader diff = new DynamicHeader(-1L, 1536, 0x10000, 100, 2 << 20, UUID.randomUUID(), 77,
                "C:\\parent é.vhd", locators);
        byte[] b = diff.encode();
        assertEquals(1024, b.length);
        assertEquals("cxsparse", new String(b, 0, 8, java.nio.charset.StandardCharsets.US_ASCII));
        assertEquals(1536, ByteBuffer.wrap(b).getLong(16));
        assertEquals(100, ByteBuffer.wrap(b).getInt(28));
        assertEquals(2 << 20, ByteBuffer.wrap(b).getInt(32));
        assertEquals(diff, DynamicHeader.decode(b, "h"));
        b[700] ^= 0x40;
        assertThrows(Damage.class, () -> DynamicHeader.decode(b, "h"));
    }

    /** Values worked out by hand with the specification's CHS algorithm. */
    @ParameterizedTest
    @CsvSource({
        "2048, 30, 4, 17",            // 1 MiB
        "81920, 963, 5, 17",          // 40 MiB
        "204800, 1003, 12, 17",       // 100 MiB
        "2048007, 2031, 16, 63",      // 1000 MiB + 7 sectors
        "2097152, 2080, 16, 63",      // 1 GiB
        "266338304, 65278, 16, 255",  // 127 GiB
        "419430400, 65535, 16, 255",  // 200 GiB: capped at the maximum
    })
    void geometryFollowsTheSpecAlgorithm(long sectors, int c, int h, int s) {
        Geometry g = Geometry.of(sectors);
        assertEquals(new Geometry(c, h, s), g);
        assertEquals(g, Geometry.decode(g.encode()));
        assertTrue(g.totalSectors() <= sectors);
    }

    @Test
    void sizeRuleMatchesQemu() {
        long size = 100L << 20;
        Geometry g = Geometry.of(size / 512);
        assertEquals(g.totalSectors() * 512, SizeRule.virtualSize(footer("vpc ", size, g, DiskType.DYNAMIC)));
        assertEquals(g.totalSectors() * 512, SizeRule.virtualSize(footer("qemu", size, g, DiskType.DYNAMIC)));
        assertEquals(g.totalSectors() * 512, SizeRule.virtualSize(footer("tap ", size, g, DiskType.DYNAMIC)));
        assertEquals(g.totalSectors() * 512, SizeRule.virtualSize(footer("strt", size, g, DiskType.DYNAMIC)));
        for (String app : new String[] {"win ", "qem2", "d2v ", "CTXS", "tap\0"}) {
            assertEquals(size, SizeRule.virtualSize(footer(app, size, g, DiskType.DYNAMIC)), app);
        }
        // maximum geometry: current_size whatever the creator
        long big = 300L << 30;
        assertEquals(big, SizeRule.virtualSize(footer("vpc ", big, Geometry.of(big / 512), DiskType.FIXED)));
        assertFalse(SizeRule.usesCurrentSize(footer("vpc ", size, g, DiskType.FIXED)));
        assertEquals("win ", SizeRule.STRATA_CREATOR);
    }

    @Test
    void batEncodingPadsToASector() {
        int[] e = {5, Bat.UNUSED, 7};
        ByteBuffer b = Bat.encode(e, 0, 3, true);
        assertEquals(512, b.remaining());
        assertEquals(5, b.getInt(0));
        assertEquals(-1, b.getInt(4));
        assertEquals(7, b.getInt(8));
        assertEquals(-1, b.getInt(508));
        assertArrayEquals(e, Bat.decode(Bat.encode(e, 0, 3, false), 3));
        assertEquals(4177920, Bat.bytesOnDisk(Vhd.MAX_BAT_ENTRIES));
        assertEquals(1044480, Vhd.MAX_BAT_ENTRIES);
    }

    @Test
    void bitmapIsMostSignificantBitFirst() {
        assertEquals(512, SectorBitmap.sizeFor(2 << 20));
        assertEquals(512, SectorBitmap.sizeFor(512 << 10));
        byte[] bm = new byte[512];
        SectorBitmap.set(bm, 0);
        SectorBitmap.set(bm, 9);
        assertEquals((byte) 0x80, bm[0]);
        assertEquals((byte) 0x40, bm[1]);
        assertTrue(SectorBitmap.isSet(bm, 9));
        assertFalse(SectorBitmap.isSet(bm, 10));
    }
}

package io.strata.vhd.internal;

import io.strata.testing.MemoryFile;

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
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class VhdFormatTest {
    private final VhdFormat format = new VhdFormat();

    private static byte[] pattern(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    private static byte[] read(VirtualDisk d, long off, int len) {
        ByteBuffer b = ByteBuffer.allocate(len);
        d.read(b, off);
        assertFalse(b.hasRemaining());
        return b.array();
    }

    @Test
    void declaresItself() {
        assertEquals("vhd", format.type());
        assertEquals("vhd", format.fileExtension());
        assertEquals(2040L << 30, format.maxVirtualSize());
        assertEquals(java.util.EnumSet.of(Capability.THIN, Capability.THICK, Capability.THICK_LAZY,
                Capability.RESIZE, Capability.BLOCK_STATUS, Capability.TRIM, Capability.BACKING_CHAIN,
                Capability.CHECK, Capability.RECLAIM), format.capabilities());
    }

    @Test
    void sizeRules() {
        StorageException e = assertThrows(StorageException.class,
                () -> format.create(new MemoryFile("a.vhd"), new DiskSpec(0, Provisioning.THIN)));
        assertEquals(ErrorCode.INVALID_SIZE, e.code());
        e = assertThrows(StorageException.class,
                () -> format.create(new MemoryFile("a.vhd"), new DiskSpec(-512, Provisioning.THIN)));
        assertEquals(ErrorCode.INVALID_SIZE, e.code());
        e = assertThrows(StorageException.class,
                () -> format.create(new MemoryFile("a.vhd"), new DiskSpec(1000, Provisioning.THICK)));
        assertEquals(ErrorCode.INVALID_SIZE, e.code());
        assertEquals("VHD sizes are whole 512-byte sectors; 1000 bytes is not (use 512 or 1024)", e.getMessage());
        e = assertThrows(StorageException.class,
                () -> format.create(new MemoryFile("a.vhd"), new DiskSpec((2040L << 30) + 512, Provisioning.THIN)));
        assertEquals(ErrorCode.SIZE_TOO_LARGE, e.code());
        assertTrue(e.getMessage().contains("qcow2"), e.getMessage());
        // exactly 2040 GiB is fine
        MemoryFile f = new MemoryFile("max.vhd");
        try (VirtualDisk d = format.create(f, new DiskSpec(2040L << 30, Provisioning.THIN))) {
            assertEquals(2040L << 30, d.virtualSize());
            d.write(ByteBuffer.wrap(pattern(4096, 1)), (2040L << 30) - 4096);
            assertArrayEquals(pattern(4096, 1), read(d, (2040L << 30) - 4096, 4096));
        }
        assertEquals(2040L << 30, format.probe(f).virtualSize());
    }

    @Test
    void refusesANonEmptyFile() {
        MemoryFile f = new MemoryFile("x.vhd");
        f.poke(0, new byte[10]);
        assertEquals(ErrorCode.INVALID_ARGUMENT, assertThrows(StorageException.class,
                () -> format.create(f, new DiskSpec(1 << 20, Provisioning.THIN))).code());
    }

    @Test
    void thickLazyNeedsAllocate() {
        MemoryFile f = new MemoryFile("lazy.vhd").withoutAllocate();
        StorageException e = assertThrows(StorageException.class,
                () -> format.create(f, new DiskSpec(1 << 20, Provisioning.THICK_LAZY)));
        assertEquals(ErrorCode.UNSUPPORTED, e.code());
        assertTrue(e.getMessage().contains("thick-lazy"), e.getMessage());
    }

    @ParameterizedTest
    @EnumSource(Provisioning.class)
    void createWriteReopenProbe(Provisioning p) {
        long size = (5L << 20) + 7 * 512;
        MemoryFile f = new MemoryFile("d.vhd");
        byte[] data = pattern(3 << 20, 7);
        try (VirtualDisk d = format.create(f, new DiskSpec(size, p))) {
            assertEquals(size, d.virtualSize());
            assertEquals(p, d.provisioning());
            assertArrayEquals(new byte[4096], read(d, size - 4096, 4096));
            d.write(ByteBuffer.wrap(data), 1_000_001);
            d.flush();
        }
        ImageInfo info = format.probe(f);
        assertEquals(size, info.virtualSize());
        assertEquals(p == Provisioning.THIN ? "dynamic" : "fixed", info.details().get("subformat"));
        assertEquals("current_size", info.details().get("size-source"));
        assertEquals("win ", info.details().get("creator-app"));
        assertTrue(format.recognizes(f));
        try (VirtualDisk d = format.open(f, true)) {
            assertArrayEquals(data, read(d, 1_000_001, data.length));
            assertArrayEquals(new byte[1000], read(d, 1_000_001 - 1000, 1000));
            assertEquals(ErrorCode.READ_ONLY, assertThrows(StorageException.class,
                    () -> d.write(ByteBuffer.allocate(1), 0)).code());
            assertEquals(ErrorCode.OUT_OF_RANGE, assertThrows(StorageException.class,
                    () -> d.read(ByteBuffer.allocate(2), size - 1)).code());
        }
    }

    @Test
    void thickIsZeroedAndFixedLayout() {
        MemoryFile f = new MemoryFile("t.vhd");
        format.create(f, new DiskSpec(1 << 20, Provisioning.THICK)).close();
        assertEquals((1 << 20) + 512, f.size());
        assertTrue(f.allocatedBytes() >= 1 << 20);
        assertTrue(Footer.hasCookie(f.peek(1 << 20, 512)));
    }

    @Test
    void dynamicLayoutReservesSparseBatRoom() {
        MemoryFile f = new MemoryFile("t.vhd");
        format.create(f, new DiskSpec(10L << 30, Provisioning.THIN)).close();
        assertEquals(1536 + 4177920 + 512, f.size());
        assertTrue(f.allocatedBytes() < 64 << 10, "reserve must stay sparse: " + f.allocatedBytes());
        assertArrayEquals(f.peek(0, 512), f.peek(f.size() - 512, 512));
    }

    @Test
    void blockStatusOfDynamic() {
        MemoryFile f = new MemoryFile("b.vhd");
        try (VirtualDisk d = format.create(f, new DiskSpec(10L << 20, Provisioning.THIN))) {
            d.write(ByteBuffer.wrap(new byte[] {1}), (2L << 20) + 5);
            d.write(ByteBuffer.wrap(new byte[] {1}), (3L << 20) + 5);
            List<Extent> ex = d.blockStatus(0, 10L << 20);
            assertEquals(List.of(new Extent(0, 2L << 20, false, true), new Extent(2L << 20, 2L << 20, true, false),
                    new Extent(4L << 20, 6L << 20, false, true)), ex);
            assertEquals(List.of(new Extent(100, 1000, false, true)), d.blockStatus(100, 1000));
        }
    }

    @ParameterizedTest
    @EnumSource(Provisioning.class)
    void growKeepsDataAndReadsZerosInTheNewArea(Provisioning p) {
        MemoryFile f = new MemoryFile("g.vhd");
        long size = 3L << 20;
        byte[] data = pattern((int) size, 3);
        try (VirtualDisk d = format.create(f, new DiskSpec(size, p))) {
            d.write(ByteBuffer.wrap(data), 0);
            d.resize(size + 512);
            d.resize(100L << 20);
            assertEquals(100L << 20, d.virtualSize());
            assertArrayEquals(data, read(d, 0, data.length));
            assertArrayEquals(new byte[1 << 20], read(d, size, 1 << 20));
            d.write(ByteBuffer.wrap(data), (100L << 20) - size);
            assertEquals(ErrorCode.INVALID_SIZE, assertThrows(StorageException.class, () -> d.resize(1L << 20)).code());
            assertEquals(ErrorCode.INVALID_SIZE, assertThrows(StorageException.class,
                    () -> d.resize((200L << 20) + 1)).code());
            assertEquals(ErrorCode.SIZE_TOO_LARGE, assertThrows(StorageException.class,
                    () -> d.resize(3000L << 30)).code());
        }
        try (VirtualDisk d = format.open(f, true)) {
            assertEquals(100L << 20, d.virtualSize());
            assertArrayEquals(data, read(d, 0, data.length));
            assertArrayEquals(new byte[1 << 20], read(d, size, 1 << 20));
            assertArrayEquals(data, read(d, (100L << 20) - size, data.length));
        }
    }

    @Test
    void dynamicGrowthNeverMovesData() {
        MemoryFile f = new MemoryFile("g.vhd");
        try (VirtualDisk d = format.create(f, new DiskSpec(4L << 20, Provisioning.THIN))) {
            d.write(ByteBuffer.wrap(pattern(512, 1)), 0);
            long batOffset = Inspected.of(f).header().tableOffset();
            int entry = Inspected.of(f).bat()[0];
            d.resize(1000L << 30);
            Inspection in = Inspected.of(f);
            assertEquals(batOffset, in.header().tableOffset());
            assertEquals(entry, in.bat()[0]);
            assertEquals(500 * 1024, in.header().maxTableEntries());
        }
    }

    @Test
    void writeZeroesNeverAllocatesOnDynamic() {
        MemoryFile f = new MemoryFile("z.vhd");
        try (VirtualDisk d = format.create(f, new DiskSpec(10L << 20, Provisioning.THIN))) {
            d.write(ByteBuffer.wrap(pattern(1 << 20, 4)), 3L << 20);
            d.writeZeroes(1000, 9L << 20);
            assertEquals(1, ((DynamicVhdDisk) d).allocatedBlocks());
            assertArrayEquals(new byte[10 << 20], read(d, 0, 10 << 20));
        }
    }

    /** Guest data of a fixed disk may itself start with a VHD footer; the real footer at the end wins. */
    @Test
    void fixedDiskWhoseDataLooksLikeAVhd() {
        MemoryFile f = new MemoryFile("nested.vhd");
        try (VirtualDisk d = format.create(f, new DiskSpec(4L << 20, Provisioning.THICK))) {
            d.write(ByteBuffer.wrap(VhdFormat.newFooter(1L << 30, DiskType.DYNAMIC).encode()), 0);
        }
        ImageInfo info = format.probe(f);
        assertEquals("fixed", info.details().get("subformat"));
        assertEquals(4L << 20, info.virtualSize());
    }

    /** Test access to the inspector. */
    static final class Inspected {
        static Inspection of(MemoryFile f) {
            return VhdInspector.inspect(f);
        }
    }
}

package io.strata.qcow2.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.testing.LocalFile;
import io.strata.testing.MemoryFile;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Codecs: header with extensions and backing name, L1/L2 entries, refcount blocks, refcount allocator. */
class StructuresTest {
    @TempDir
    Path dir;

    @Test
    void headerRoundTripsWithBackingName() {
        Header h = Header.create(16, 10L << 30, 20, 3 * 65536, 65536, 1, "base.qcow2");
        byte[] b = h.encode();
        assertEquals(0, b.length % 512);
        assertEquals(Qcow2.MAGIC, ByteBuffer.wrap(b).getInt(0));
        assertEquals(3, ByteBuffer.wrap(b).getInt(4));
        Header d = Header.decode(b);
        assertEquals(16, d.clusterBits());
        assertEquals(10L << 30, d.size());
        assertEquals(20, d.l1Size());
        assertEquals(3 * 65536, d.l1TableOffset());
        assertEquals(65536, d.refcountTableOffset());
        assertEquals(1, d.refcountTableClusters());
        assertEquals("base.qcow2", d.backingFile());
        assertEquals("qcow2", d.backingFormat());
        assertEquals(104, d.headerLength());
        // name right after: 104 header + 16 backing format extension + 8 end marker
        assertEquals(128, ByteBuffer.wrap(b).getLong(8));
        assertEquals(10, ByteBuffer.wrap(b).getInt(16));
    }

    @Test
    void headerWithoutBackingHasNoExtensionsButTheEndMarker() {
        byte[] b = Header.create(16, 1 << 20, 1, 3 * 65536, 65536, 1, null).encode();
        assertEquals(512, b.length);
        assertEquals(0, ByteBuffer.wrap(b).getLong(8));
        assertEquals(0, ByteBuffer.wrap(b).getLong(104));
        Header d = Header.decode(b);
        assertNull(d.backingFile());
        assertNull(d.backingFormat());
    }

    @Test
    void unknownExtensionsAndAdditionalFieldsArePreserved() {
        byte[] extra = {0, 0, 0, 0, 0, 0, 0, 0}; // compression_type zlib + padding, as qemu writes (header_length 112)
        Header h = new Header(16, 1 << 20, 1, 3 * 65536, 65536, 1, 0, 0, 0, 0, 0, 112, extra, "p", "qcow2",
                List.of(new Header.Extension(0x6803f857, new byte[] {1, 2, 3, 4, 5})));
        Header d = Header.decode(h.encode());
        assertEquals(112, d.headerLength());
        assertArrayEquals(extra, d.extraFields());
        assertEquals(1, d.otherExtensions().size());
        assertEquals(0x6803f857, d.otherExtensions().get(0).type());
        assertArrayEquals(new byte[] {1, 2, 3, 4, 5}, d.otherExtensions().get(0).data());
        Header rebased = Header.decode(d.withBacking("other.qcow2").encode());
        assertEquals("other.qcow2", rebased.backingFile());
        assertEquals(1, rebased.otherExtensions().size());
        assertNull(Header.decode(d.withBacking(null).encode()).backingFile());
    }

    @Test
    void tooLongBackingNameIsRefused() {
        Header h = Header.create(16, 1 << 20, 1, 3 * 65536, 65536, 1, "x".repeat(1024));
        assertThrows(Damage.class, h::encode);
    }

    @Test
    void headerQemuWroteDecodes() {
        assumeTrue(Fixtures.haveQemu());
        Path p = dir.resolve("q.qcow2");
        Fixtures.run("qemu-img", "create", "-f", "qcow2", "-b", "parent.qcow2", "-F", "qcow2", "-u", p.toString(), "5G");
        Header h = Inspector.readHeader(LocalFile.open(p, false));
        assertEquals(5L << 30, h.size());
        assertEquals(16, h.clusterBits());
        assertEquals("parent.qcow2", h.backingFile());
        assertEquals("qcow2", h.backingFormat());
        assertTrue(h.headerLength() >= 104);
        assertTrue(h.otherExtensions().stream().anyMatch(e -> e.type() == 0x6803f857), "feature name table kept");
    }

    @Test
    void l2EntriesAreClassified() {
        assertEquals(Entries.State.UNALLOCATED, Entries.state(0));
        assertEquals(Entries.State.ZERO_PLAIN, Entries.state(Entries.ZERO));
        assertEquals(Entries.State.ZERO_ALLOC, Entries.state(Entries.normal(0x30000) | Entries.ZERO));
        assertEquals(Entries.State.NORMAL, Entries.state(Entries.normal(0x30000)));
        assertEquals(Entries.State.COMPRESSED, Entries.state(Entries.COMPRESSED | 0x1234));
        assertEquals(0x30000, Entries.offset(Entries.normal(0x30000) | Entries.ZERO));
        long[] t = {1, Entries.normal(1L << 40), 0};
        assertArrayEquals(t, Entries.decode(Entries.encode(t, 0, 3)));
        assertArrayEquals(new byte[] {(byte) 0x80, 0, 0, 0, 0, 3, 0, 0}, Entries.encode(Entries.normal(0x30000)));
    }

    @Test
    void refcountsAreSixteenBitBigEndian() {
        byte[] b = new byte[8];
        RefcountBlock.set(b, 1, 0x1234);
        RefcountBlock.set(b, 3, 0xffff);
        assertArrayEquals(new byte[] {0, 0, 0x12, 0x34, 0, 0, (byte) 0xff, (byte) 0xff}, b);
        assertEquals(0x1234, RefcountBlock.get(b, 1));
        assertEquals(0xffff, RefcountBlock.get(b, 3));
        assertThrows(IllegalArgumentException.class, () -> RefcountBlock.set(b, 0, 0x10000));
    }

    @Test
    void l1SizingAndSizeRules() {
        assertEquals(1, Qcow2Format.l1Entries(512, 16));
        assertEquals(1, Qcow2Format.l1Entries(512L << 20, 16));
        assertEquals(2, Qcow2Format.l1Entries((512L << 20) + 512, 16));
        assertEquals(1 << 21, Qcow2Format.l1Entries(Qcow2.MAX_VIRTUAL_SIZE, 16));
        assertEquals(ErrorCode.INVALID_SIZE, assertThrows(StorageException.class, () -> Qcow2Format.checkSize(0)).code());
        StorageException odd = assertThrows(StorageException.class, () -> Qcow2Format.checkSize(1000));
        assertEquals(ErrorCode.INVALID_SIZE, odd.code());
        assertTrue(odd.getMessage().contains("512 or 1024"), odd.getMessage());
        assertEquals(ErrorCode.SIZE_TOO_LARGE,
                assertThrows(StorageException.class, () -> Qcow2Format.checkSize(Qcow2.MAX_VIRTUAL_SIZE + 512)).code());
    }

    /** Allocation across a refcount block boundary creates the block, which counts itself. */
    @Test
    void allocatorCreatesRefcountBlocksAtTheEnd() {
        MemoryFile f = new MemoryFile("r");
        int cs = 65536;
        long[] table = new long[cs / 8];
        table[0] = 2L * cs;
        byte[] block0 = new byte[cs];
        for (int i = 0; i < 3; i++) {
            RefcountBlock.set(block0, i, 1);
        }
        f.write(ByteBuffer.wrap(block0), 2L * cs);
        f.write(ByteBuffer.wrap(Entries.encode(table, 0, table.length)), cs);
        long blockCover = 32768L; // clusters per block
        Refcounts rc = new Refcounts(f, 16, cs, table, (blockCover - 1) * cs, (o, c) -> { });
        long at = rc.allocate(3);
        assertEquals((blockCover - 1) * cs, at);
        for (long c = blockCover - 1; c < blockCover + 2; c++) {
            assertEquals(1, rc.get(c), "cluster " + c);
        }
        long newBlock = (blockCover + 2) * cs;
        assertEquals(newBlock, rc.nextFree() - cs);
        assertEquals(1, rc.get(blockCover + 2), "the new block counts itself");
        long[] onDisk = Inspector.readTable(f, cs, 2);
        assertEquals(newBlock, onDisk[1]);
    }

    /** With 512-byte clusters a one-cluster refcount table covers 8 MiB; allocating past it moves the table. */
    @Test
    void refcountTableGrowsAndTheOldOneIsFreed() {
        MemoryFile f = new MemoryFile("g");
        int cs = 512;
        long[] table = new long[cs / 8];
        table[0] = 2L * cs;
        byte[] block0 = new byte[cs];
        for (int i = 0; i < 3; i++) {
            RefcountBlock.set(block0, i, 1);
        }
        f.write(ByteBuffer.wrap(block0), 2L * cs);
        f.write(ByteBuffer.wrap(Entries.encode(table, 0, table.length)), cs);
        List<long[]> moves = new ArrayList<>();
        Refcounts rc = new Refcounts(f, 9, cs, table, 3L * cs, (o, c) -> moves.add(new long[] {o, c}));
        long total = 0;
        for (int i = 0; i < 200; i++) {
            rc.allocate(100);
            total += 100;
        }
        assertTrue(total * cs > 8 << 20);
        assertTrue(!moves.isEmpty(), "table moved");
        assertEquals(rc.tableOffset(), moves.get(moves.size() - 1)[0]);
        assertEquals(0, rc.get(1), "the first table's cluster is freed");
        for (long c = 3; c < 3 + total; c++) {
            assertEquals(1, rc.get(c), "cluster " + c);
        }
    }
}

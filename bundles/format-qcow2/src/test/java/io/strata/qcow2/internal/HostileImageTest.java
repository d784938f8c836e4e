package io.strata.qcow2.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.format.CheckReport;
import io.strata.api.format.DiskSpec;
import io.strata.api.format.Extent;
import io.strata.api.format.Provisioning;
import io.strata.api.format.VirtualDisk;
import io.strata.testing.LocalFile;
import io.strata.testing.MemoryFile;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Regressions of the hostile-image hardening issue, one test per finding, on images made by
 * the real qemu-img and then patched (or by Strata where qemu is not needed). The import
 * rule these protect: an image that probe accepts and check finds free of errors is safe
 * to open, read and write; anything else is refused, and never damaged further.
 */
class HostileImageTest {
    private static final int CS = 65536;
    private final Qcow2Format format = new Qcow2Format();

    @TempDir
    Path dir;

    /** A 64 KiB-cluster qcow2 made by qemu-img, with the qemu-io commands run on it, as a MemoryFile. */
    private MemoryFile qemuImage(String size, String... ioCommands) throws IOException {
        assumeTrue(Fixtures.haveQemu(), "qemu-img and qemu-io are needed");
        Path p = dir.resolve("q.qcow2");
        Files.deleteIfExists(p);
        Fixtures.run("qemu-img", "create", "-q", "-f", "qcow2", p.toString(), size);
        for (String c : ioCommands) {
            Fixtures.run("qemu-io", "-f", "qcow2", "-c", c, p.toString());
        }
        MemoryFile f = new MemoryFile("hostile.qcow2");
        f.poke(0, Files.readAllBytes(p));
        return f;
    }

    private static long getLong(MemoryFile f, long at) {
        return ByteBuffer.wrap(f.peek(at, 8)).getLong();
    }

    private static long l1(MemoryFile f) {
        return getLong(f, 40);
    }

    private static long rtOffset(MemoryFile f) {
        return getLong(f, 48);
    }

    private static long l2(MemoryFile f) {
        return Entries.offset(getLong(f, l1(f)));
    }

    private static String all(CheckReport r) {
        return String.join("\n", r.errors()) + "\n" + String.join("\n", r.leaks());
    }

    /** probe and both opens refuse with CORRUPT_IMAGE naming {@code expected}; nothing is written. */
    private void refused(MemoryFile f, String expected) {
        byte[] before = f.bytes();
        for (StorageException e : DamagedImageTest.refusedEverywhere(format, f)) {
            assertTrue(e.getMessage().contains(expected), e.getMessage());
        }
        assertArrayEquals(before, f.bytes(), "nothing written");
    }

    // ------------------------------------------------------------ finding 2: overlaps

    @Test
    void l2EntryPointingAtItsOwnL2TableIsFoundByCheckAndRefused() throws IOException {
        MemoryFile f = qemuImage("64M", "write -P 0xab 0 128k");
        long l2 = l2(f);
        DamagedImageTest.putLong(f, l2 + 8, Entries.normal(l2)); // guest cluster 1 -> its own L2 table
        CheckReport r = format.check(f, null, false);
        assertTrue(all(r).contains("cluster at " + l2 + " is referenced 2 times"), all(r));
        refused(f, "holds metadata");
    }

    @Test
    void selfReferenceInALazilyValidatedL2TableRefusesTheAccessNotTheTable() throws IOException {
        MemoryFile f = qemuImage("64M", "write -P 0xab 0 128k");
        long l2 = l2(f);
        DamagedImageTest.putLong(f, l2 + 8, Entries.normal(l2));
        long saved = Inspector.eagerL2Bytes;
        Inspector.eagerL2Bytes = 0; // as for an image with more than 64 MiB of L2 tables
        try (VirtualDisk d = format.open(f, false)) {
            byte[] before = f.bytes();
            StorageException e = assertThrows(StorageException.class,
                    () -> d.write(ByteBuffer.wrap(new byte[4096]), CS));
            assertEquals(ErrorCode.CORRUPT_IMAGE, e.code());
            assertTrue(e.getMessage().contains("holds metadata"), e.getMessage());
            assertThrows(StorageException.class, () -> d.read(ByteBuffer.allocate(512), 0));
            assertArrayEquals(before, f.bytes(), "the L2 table was not overwritten");
        } finally {
            Inspector.eagerL2Bytes = saved;
        }
    }

    @Test
    void dataEntryPointingAtARefcountBlockIsRefused() throws IOException {
        MemoryFile f = qemuImage("64M", "write -P 0xab 0 64k");
        long block = getLong(f, rtOffset(f));
        DamagedImageTest.putLong(f, l2(f) + 8, Entries.normal(block));
        assertFalse(format.check(f, null, false).errors().isEmpty());
        refused(f, "holds metadata");
    }

    @Test
    void refcountBlockOverlappingAnL2TableIsRefused() throws IOException {
        MemoryFile f = qemuImage("64M", "write -P 0xab 0 64k");
        DamagedImageTest.putLong(f, rtOffset(f), l2(f));
        assertFalse(format.check(f, null, false).errors().isEmpty());
        refused(f, "holds two pieces of metadata");
    }

    @Test
    void dataClusterMappedTwiceWithCopiedIsRefused() throws IOException {
        MemoryFile f = qemuImage("64M", "write -P 0xab 0 64k");
        long l2 = l2(f);
        DamagedImageTest.putLong(f, l2 + 8, getLong(f, l2)); // guest 64K shares guest 0's cluster, COPIED
        assertTrue(all(format.check(f, null, false)).contains("is referenced 2 times"));
        refused(f, "mapped at two guest offsets");
    }

    @ParameterizedTest(name = "refcount table entry 0 = {0}")
    @ValueSource(longs = {0, 1, Long.MIN_VALUE})
    void refcountTableEntryZeroDamagedIsFoundAndNeverWritten(long value) throws IOException {
        MemoryFile f = qemuImage("64M", "write -P 0xab 0 64k");
        DamagedImageTest.putLong(f, rtOffset(f), value);
        CheckReport r = format.check(f, null, false);
        assertFalse(r.errors().isEmpty(), "check finds it: " + r);
        byte[] before = f.bytes();
        StorageException e = assertThrows(StorageException.class, () -> format.open(f, false).close());
        assertEquals(ErrorCode.CORRUPT_IMAGE, e.code(), e.getMessage());
        assertTrue(e.getMessage().contains(value == 0 ? "refcount 0" : "refcount table entry 0"), e.getMessage());
        if (value != 0) {
            assertThrows(StorageException.class, () -> format.probe(f));
        } else {
            try (VirtualDisk d = format.open(f, true)) { // readable: the mappings are intact
                byte[] b = new byte[4];
                d.read(ByteBuffer.wrap(b), 0);
                assertArrayEquals(new byte[] {(byte) 0xab, (byte) 0xab, (byte) 0xab, (byte) 0xab}, b);
            }
        }
        assertArrayEquals(before, f.bytes(), "nothing written");
    }

    // ------------------------------------------------------------ finding 4: virtual sizes

    @ParameterizedTest(name = "virtual size {0}")
    @ValueSource(longs = {Long.MAX_VALUE, 1L << 62, 2L << 50, (1L << 50) + 512, 0, 1, 513, -512})
    void invalidVirtualSizesAreRefusedByProbeAndOpen(long size) throws IOException {
        MemoryFile f = qemuImage("1M");
        DamagedImageTest.putLong(f, 24, size);
        refused(f, size > 0 && size % 512 == 0 ? "exceeds the 1125899906842624 bytes (1 PiB) Strata supports"
                : "virtual size " + Long.toUnsignedString(size) + " bytes is invalid (a qcow2 virtual size is a"
                        + " positive multiple of 512 bytes)");
    }

    @Test
    void statusAndReadPastTheL1TableNeverThrowArrayIndexOutOfBounds() {
        // what the 2^63-1 image did: a virtual size beyond what the L1 table covers. Open now
        // refuses it; the disk still guards its lookups if such a table ever reaches it.
        MemoryFile f = new MemoryFile("l1.qcow2");
        format.create(f, new DiskSpec(1L << 40, Provisioning.THIN)).close(); // L1 covers 1 TiB
        Inspector.Image in = Inspector.inspect(f);
        Header big = in.header().withSize(4L << 40, in.header().l1Size(), in.header().l1TableOffset());
        Inspector.Image lying = new Inspector.Image(big, in.fileSize(), in.l1(), in.refcountTable(),
                new HashMap<>(), in.metadata());
        try (VirtualDisk d = new Qcow2Disk(format, f, true, lying, null, Provisioning.THIN)) {
            List<Extent> map = d.blockStatus(0, 4L << 40);
            assertEquals(List.of(new Extent(0, 4L << 40, false, true)), map);
            byte[] b = new byte[4096];
            d.read(ByteBuffer.wrap(b), 3L << 40);
            assertArrayEquals(new byte[4096], b);
        }
    }

    @Test
    void aOnePiBQemuImageReadsWritesAndMapsPastOneTiB() {
        assumeTrue(Fixtures.haveQemu());
        Path p = dir.resolve("big.qcow2");
        Fixtures.run("qemu-img", "create", "-q", "-f", "qcow2", p.toString(), "1P");
        long size = 1L << 50;
        try (VirtualDisk d = format.open(LocalFile.open(p, true), false)) {
            assertEquals(size, d.virtualSize());
            byte[] data = new byte[4096];
            Arrays.fill(data, (byte) 0x5a);
            d.write(ByteBuffer.wrap(data), (1L << 40) + 3 * CS);
            d.write(ByteBuffer.wrap(data), size - 4096);
            byte[] b = new byte[4096];
            d.read(ByteBuffer.wrap(b), size - 4096);
            assertArrayEquals(data, b);
            List<Extent> tail = d.blockStatus(size - (1L << 30), 1L << 30);
            assertEquals(new Extent(size - CS, CS, true, false), tail.get(tail.size() - 1));
            assertFalse(d.blockStatus(1L << 40, 1L << 30).isEmpty());
        }
        Fixtures.assertQemuCheckClean(p);
        assertTrue(format.check(LocalFile.open(p, false), null, false).clean());
    }

    // ------------------------------------------------------------ finding 8

    @ParameterizedTest(name = "nb_snapshots {0}")
    @ValueSource(ints = {-1, 65537, 0x7fffffff})
    void hugeSnapshotCountsAreRefused(int count) throws IOException {
        MemoryFile f = qemuImage("1M");
        DamagedImageTest.putInt(f, 60, count);
        DamagedImageTest.putLong(f, 64, CS);
        refused(f, "nb_snapshots");
        assertFalse(format.check(f, null, false).errors().isEmpty());
    }

    @Test
    void repairDoesNotFreeLeaksWhileErrorsRemain() throws IOException {
        MemoryFile f = qemuImage("64M", "write -P 0xab 0 64k", "write -P 0xcd 64k 64k");
        long l2 = l2(f);
        long data = Entries.offset(getLong(f, l2 + 8));
        DamagedImageTest.putLong(f, l2 + 8, Entries.normal(1L << 40)); // the pointer to 0xcd is damaged
        CheckReport r = format.check(f, null, false);
        assertTrue(all(r).contains("lies past the end of the file"), all(r));
        assertTrue(all(r).contains("cluster at " + data + " has refcount 1 but is referenced 0"), all(r));
        CheckReport repaired = format.check(f, null, true);
        assertFalse(repaired.errors().isEmpty());
        assertTrue(repaired.repaired().stream().noneMatch(s -> s.contains("freed")), repaired.toString());
        assertTrue(repaired.leaks().get(0).startsWith("not repaired: "), repaired.toString());
        assertTrue(repaired.leaks().get(0).contains("errors repair cannot fix"), repaired.toString());
        long block = getLong(f, rtOffset(f));
        assertEquals(1, RefcountBlock.get(f.peek(block, CS), (int) (data / CS)), "the cluster is still counted");
        byte[] b = f.peek(data, 4);
        assertArrayEquals(new byte[] {(byte) 0xcd, (byte) 0xcd, (byte) 0xcd, (byte) 0xcd}, b, "data kept");
    }

    @Test
    void repairDoesNotFreeTheClustersOfPersistentBitmaps() throws IOException {
        assumeTrue(Fixtures.haveQemu());
        Path p = dir.resolve("bitmap.qcow2");
        Fixtures.run("qemu-img", "create", "-q", "-f", "qcow2", p.toString(), "64M");
        Fixtures.run("qemu-img", "bitmap", "--add", p.toString(), "b0");
        CheckReport r = format.check(LocalFile.open(p, false), null, false);
        assertTrue(r.errors().isEmpty(), r.toString());
        assertFalse(r.leaks().isEmpty(), "the bitmap directory is not followed: " + r);
        CheckReport repaired = format.check(LocalFile.open(p, true), null, true);
        assertTrue(repaired.repaired().stream().noneMatch(s -> s.contains("freed")), repaired.toString());
        assertTrue(repaired.leaks().get(0).contains("persistent bitmaps"), repaired.toString());
        Fixtures.assertQemuCheckClean(p);
    }

    // ------------------------------------------------------------ the import guarantee

    @Test
    void clusterWithRefcountTwoIsCopiedOnWriteNotRefused() throws IOException {
        MemoryFile f = qemuImage("64M", "write -P 0xab 0 64k");
        long l2 = l2(f);
        long data = Entries.offset(getLong(f, l2));
        DamagedImageTest.putLong(f, l2, data); // COPIED clear...
        long block = getLong(f, rtOffset(f));
        f.poke(block + 2 * (data / CS), new byte[] {0, 2}); // ...and refcount 2: a leak, not an error
        CheckReport r = format.check(f, null, false);
        assertTrue(r.errors().isEmpty(), r.toString());
        try (VirtualDisk d = format.open(f, false)) {
            d.write(ByteBuffer.wrap(new byte[] {1, 2}), 100);
        }
        try (VirtualDisk d = format.open(f, true)) {
            byte[] b = new byte[4];
            d.read(ByteBuffer.wrap(b), 98);
            assertArrayEquals(new byte[] {(byte) 0xab, (byte) 0xab, 1, 2}, b);
        }
        assertArrayEquals(new byte[] {(byte) 0xab, (byte) 0xab}, f.peek(data + 100, 2), "the shared cluster kept");
        assertTrue(format.check(f, null, false).errors().isEmpty());
    }

    @Test
    void trimOfASharedClusterKeepsTheOtherMapping() throws IOException {
        MemoryFile f = qemuImage("64M", "write -P 0xab 0 64k");
        long l2 = l2(f);
        long data = Entries.offset(getLong(f, l2));
        DamagedImageTest.putLong(f, l2, data);
        DamagedImageTest.putLong(f, l2 + 8, data); // two mappings, COPIED clear on both
        long block = getLong(f, rtOffset(f));
        f.poke(block + 2 * (data / CS), new byte[] {0, 2}); // refcount 2: what qemu writes for a shared cluster
        try (VirtualDisk d = format.open(f, false)) {
            d.trim(0, CS);
            byte[] b = new byte[2];
            d.read(ByteBuffer.wrap(b), CS);
            assertArrayEquals(new byte[] {(byte) 0xab, (byte) 0xab}, b);
        }
        assertEquals(1, RefcountBlock.get(f.peek(block, CS), (int) (data / CS)), "one reference dropped");
        assertArrayEquals(new byte[] {(byte) 0xab, (byte) 0xab}, f.peek(data, 2), "not punched");
    }

    // ------------------------------------------------------------ header arithmetic

    @Test
    void backingNameOffsetNear2To63IsDamageNotAnIndexException() throws IOException {
        MemoryFile f = qemuImage("1M");
        DamagedImageTest.putLong(f, 8, Long.MAX_VALUE - 5);
        DamagedImageTest.putInt(f, 16, 10);
        refused(f, "backing file name at 9223372036854775802");
        assertFalse(format.check(f, null, false).errors().isEmpty());
    }

    @Test
    void backingNameOverlappingTheHeaderExtensionsIsRefused() throws IOException {
        MemoryFile f = qemuImage("1M");
        DamagedImageTest.putLong(f, 8, 104);
        DamagedImageTest.putInt(f, 16, 8);
        refused(f, "overlaps the header");
    }

    @Test
    void l1TableOffsetNear2To63IsAnErrorForCheck() throws IOException {
        MemoryFile f = qemuImage("1M");
        DamagedImageTest.putLong(f, 40, 0x7fff_ffff_ffff_0000L); // offset + length overflows
        DamagedImageTest.putInt(f, 36, CS / 8 + 1);
        CheckReport r = format.check(f, null, false);
        assertTrue(all(r).contains("L1 table at 9223372036854710272"), all(r));
        refused(f, "L1 table");
    }

    @Test
    void corruptBitIsAnErrorForCheckAndRepairClearsIt() throws IOException {
        MemoryFile f = qemuImage("1M", "write -P 1 0 4k");
        DamagedImageTest.putLong(f, 72, Qcow2.INCOMPAT_CORRUPT);
        assertTrue(all(format.check(f, null, false)).contains("marked corrupt"));
        CheckReport r = format.check(f, null, true);
        assertTrue(r.clean(), r.toString());
        format.open(f, false).close();
    }
}

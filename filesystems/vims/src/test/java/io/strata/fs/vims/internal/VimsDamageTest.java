package io.strata.fs.vims.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.format.CheckReport;
import io.strata.api.fs.DatastoreFile;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.UUID;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Damaged filesystems: every damage gives a StorageException naming what is damaged (never
 * another exception), a mount that fails writes nothing to the device, and the checker finds
 * and, where it can, repairs.
 */
class VimsDamageTest {
    static final int MIB = 1024 * 1024;
    static final long SIZE = 128L * MIB;
    static final String ID = "uuid:damage-lun";

    @TempDir
    Path dir;
    Path lun;
    Superblock sb;
    byte[] contentA;
    byte[] contentB;
    long freeBefore;

    /** The filesystem every test starts from, made once: two files, cleanly unmounted. */
    static Path template;
    static Superblock templateSb;
    static long templateFree;
    static final byte[] A = random(3 * MIB + 5, 1);
    static final byte[] B = random(2 * MIB, 2);

    @BeforeAll
    static void makeTemplate() {
        Path d = Luns.dir(Path.of(System.getProperty("java.io.tmpdir")));
        template = d.resolve("vims-damage-template-" + UUID.randomUUID());
        try (TestDevice dev = new TestDevice(template, SIZE, ID)) {
            new VimsFilesystem().format(dev, Map.of("max-files", "32", "max-hosts", "4", "cluster-size", "8M",
                    "max-size", "1G"), false);
            Vims fs = Vims.mount("ds", dev, Hosts.host("maker"));
            try {
                write(fs, "a", A);
                write(fs, "b", B);
                templateFree = fs.space().free();
            } finally {
                fs.close();
            }
            templateSb = Vims.readSuperblock(new Disk(dev));
        }
    }

    @AfterAll
    static void dropTemplate() throws IOException {
        Files.deleteIfExists(template);
        Luns.cleanUp();
    }

    @BeforeEach
    void setUp() throws IOException {
        lun = dir.resolve("lun");
        Files.copy(template, lun);
        sb = templateSb;
        contentA = A;
        contentB = B;
        freeBefore = templateFree;
    }

    // ------------------------------------------------------------------ helpers

    static byte[] random(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    static void write(Vims fs, String name, byte[] content) {
        try (DatastoreFile f = fs.create(name)) {
            f.write(ByteBuffer.wrap(content), 0);
            f.flush();
        }
    }

    TestDevice device() {
        return new TestDevice(lun, SIZE, ID);
    }

    String sha256() {
        try (InputStream in = Files.newInputStream(lun)) {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            byte[] buf = new byte[1 << 20];
            for (int n; (n = in.read(buf)) > 0; ) {
                md.update(buf, 0, n);
            }
            return HexFormat.of().formatHex(md.digest()) + "/" + Files.size(lun);
        } catch (IOException | java.security.NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }

    ByteBuffer readPage(long page) {
        try (FileChannel ch = FileChannel.open(lun, StandardOpenOption.READ)) {
            ByteBuffer b = ByteBuffer.allocate(Pages.SIZE);
            ch.read(b, page * Pages.SIZE);
            return b.clear();
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    void writePage(long page, ByteBuffer content) {
        try (FileChannel ch = FileChannel.open(lun, StandardOpenOption.WRITE)) {
            ch.write(content.duplicate().clear(), page * Pages.SIZE);
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    void garbage(long page, long seed) {
        writePage(page, ByteBuffer.wrap(random(Pages.SIZE, seed)));
    }

    /** Rewrites a metadata page with a changed payload, sealed as if VIMS had written it. */
    void reseal(long page, int type, ByteBuffer content) {
        Pages.seal(content, type, page, Pages.version(content), sb.tag());
        writePage(page, content);
    }

    /** @return the directory index of a file, read from the device */
    int indexOf(String name) {
        for (int i = 0; i < sb.maxFiles(); i++) {
            Entry e = Entry.read(readPage(sb.directoryPageOf(i)), i);
            if (e != null && e.state() == Entry.USED && e.name().equals(name)) {
                return i;
            }
        }
        throw new AssertionError("no file " + name);
    }

    Descriptor descriptor(String name) {
        int i = indexOf(name);
        return new Descriptor(i, readPage(sb.descriptorPage(i)));
    }

    /** A mount of the damaged filesystem fails with {@code code}, its message names {@code words}, and nothing is written. */
    StorageException assertMountRefused(ErrorCode code, String... words) {
        String before = sha256();
        StorageException e;
        try (TestDevice dev = device()) {
            e = assertThrows(StorageException.class, () -> Vims.mount("ds", dev, Hosts.host("victim")).close());
            assertEquals(0, dev.writes.get(), "writes by the failed mount");
        }
        assertEquals(code, e.code(), e.getMessage());
        for (String w : words) {
            assertTrue(e.getMessage().contains(w), "'" + w + "' not in: " + e.getMessage());
        }
        assertEquals(before, sha256(), "the failed mount changed the device");
        return e;
    }

    CheckReport offline(boolean repair) {
        try (TestDevice dev = device()) {
            return Checker.offline(dev, repair);
        }
    }

    static boolean any(List<String> l, Predicate<String> p) {
        return l.stream().anyMatch(p);
    }

    static boolean mentions(List<String> l, String... words) {
        return any(l, s -> {
            for (String w : words) {
                if (!s.contains(w)) {
                    return false;
                }
            }
            return true;
        });
    }

    static byte[] read(DatastoreFile f, long pos, int n) {
        ByteBuffer b = ByteBuffer.allocate(n);
        f.read(b, pos);
        return b.array();
    }

    /** Mounts, checks the files' content and that the checker finds nothing, unmounts. */
    void assertIntactAndClean() {
        try (TestDevice dev = device()) {
            Vims fs = Vims.mount("ds", dev, Hosts.host("checker"));
            try {
                assertEquals(List.of("a", "b"), fs.list());
                for (String n : List.of("a", "b")) {
                    byte[] want = n.equals("a") ? contentA : contentB;
                    try (DatastoreFile f = fs.open(n, false)) {
                        assertEquals(want.length, f.size());
                        assertArrayEquals(want, read(f, 0, want.length), n);
                    }
                }
                assertEquals(freeBefore, fs.space().free());
                CheckReport r = fs.check(false);
                assertTrue(r.clean(), () -> "checker: " + r);
            } finally {
                fs.close();
            }
        }
    }

    // ------------------------------------------------------------------ superblocks

    @Test
    void aBadPrimarySuperblockIsReadFromTheBackupAndRepaired() {
        garbage(Superblock.PRIMARY_PAGE, 10);
        try (TestDevice dev = device()) {
            Vims fs = Vims.mount("ds", dev, Hosts.host("h"));
            try {
                assertArrayEquals(contentA, fs.readAll("a"));
                CheckReport r = fs.check(false);
                assertFalse(r.clean());
                assertTrue(mentions(r.errors(), "primary superblock"), r.toString());
                r = fs.check(true);
                assertTrue(mentions(r.repaired(), "primary superblock"), r.toString());
                r = fs.check(false);
                assertTrue(r.clean(), r.toString());
            } finally {
                fs.close();
            }
        }
        assertNotNull(Superblock.decode(readPage(Superblock.PRIMARY_PAGE), Superblock.PRIMARY_PAGE));
        assertEquals(sb, Superblock.decode(readPage(Superblock.PRIMARY_PAGE), Superblock.PRIMARY_PAGE));
        assertIntactAndClean();
    }

    @Test
    void aBadBackupSuperblockIsRepairedOffline() {
        garbage(Superblock.BACKUP_PAGE, 11);
        CheckReport r = offline(false);
        assertTrue(mentions(r.errors(), "backup superblock"), r.toString());
        r = offline(true);
        assertTrue(mentions(r.repaired(), "backup superblock"), r.toString());
        assertTrue(offline(false).clean());
        assertIntactAndClean();
    }

    @Test
    void bothSuperblocksBadIsNoFilesystem() {
        garbage(Superblock.PRIMARY_PAGE, 12);
        garbage(Superblock.BACKUP_PAGE, 13);
        assertMountRefused(ErrorCode.CORRUPT_IMAGE, "superblock");
        String before = sha256();
        StorageException e = assertThrows(StorageException.class, () -> offline(true));
        assertEquals(ErrorCode.CORRUPT_IMAGE, e.code());
        // not taken for a VIMS: formatting it needs force
        try (TestDevice dev = device()) {
            e = assertThrows(StorageException.class, () -> new VimsFilesystem().format(dev, Map.of(), false));
            assertEquals(ErrorCode.DEVICE_HAS_FILESYSTEM, e.code(), e.getMessage());
            assertEquals(0, dev.writes.get());
        }
        assertEquals(before, sha256());
    }

    // ------------------------------------------------------------------ journals

    @Test
    void aGarbageJournalHeaderRefusesTheMountUntilRepaired() {
        garbage(sb.journalPage(1), 14);
        assertMountRefused(ErrorCode.CORRUPT_IMAGE, "journal header", "slot 1");
        CheckReport r = offline(false);
        assertTrue(mentions(r.errors(), "journal header", "slot 1"), r.toString());
        r = offline(true);
        assertTrue(mentions(r.repaired(), "journal of slot 1"), r.toString());
        r = offline(false);
        assertTrue(r.clean(), r.toString());
        assertIntactAndClean();
    }

    @Test
    void garbageJournalRecordsAreIgnored() {
        for (int s = 0; s < sb.maxHosts(); s++) {
            long first = sb.journalPage(s);
            for (int k = 1; k < 12; k++) {
                garbage(first + k, 100 * s + k);
            }
            // sound-looking record headers that must not count: a count past the limit, a wrong image CRC,
            // another epoch
            long epoch = readPage(first).getLong(32);
            ByteBuffer h = Pages.allocate();
            h.putLong(32, epoch);
            h.putLong(40, 1);
            h.putInt(48, 100_000);
            h.putLong(56, sb.namespacePage());
            reseal(first + 12, Pages.JOURNAL_RECORD, h);
            ByteBuffer h2 = Pages.allocate();
            h2.putLong(32, epoch);
            h2.putLong(40, 2);
            h2.putInt(48, 1);
            h2.putInt(52, 12345);
            h2.putLong(56, sb.namespacePage());
            reseal(first + 14, Pages.JOURNAL_RECORD, h2);
            garbage(first + 15, 7);
            ByteBuffer h3 = Pages.allocate();
            h3.putLong(32, epoch + 5);
            h3.putLong(40, 3);
            h3.putInt(48, 1);
            h3.putLong(56, sb.directoryStart());
            reseal(first + 16, Pages.JOURNAL_RECORD, h3);
            garbage(first + 17, 8);
        }
        assertTrue(offline(false).clean());
        assertIntactAndClean();
    }

    // ------------------------------------------------------------------ namespace and directory

    @Test
    void aGarbageNamespaceHeaderRefusesTheMountUntilRepaired() {
        garbage(sb.namespacePage(), 15);
        assertMountRefused(ErrorCode.CORRUPT_IMAGE, "namespace header");
        CheckReport r = offline(true);
        assertTrue(mentions(r.repaired(), "namespace header"), r.toString());
        assertTrue(offline(false).clean());
        assertIntactAndClean();
    }

    @Test
    void aGarbageDirectoryPageRefusesTheMount() {
        garbage(sb.directoryStart(), 16);
        assertMountRefused(ErrorCode.CORRUPT_IMAGE, "directory page 0");
        CheckReport r = offline(false);
        assertTrue(mentions(r.errors(), "directory page 0"), r.toString());
    }

    @Test
    void aDamagedDescriptorIsReportedWhenTheFileIsUsed() {
        int i = indexOf("b");
        garbage(sb.descriptorPage(i), 17);
        try (TestDevice dev = device()) {
            Vims fs = Vims.mount("ds", dev, Hosts.host("h"));
            try {
                assertArrayEquals(contentA, fs.readAll("a"));
                StorageException e = assertThrows(StorageException.class, () -> fs.open("b", false));
                assertEquals(ErrorCode.CORRUPT_IMAGE, e.code());
                assertTrue(e.getMessage().contains("descriptor of file 'b'"), e.getMessage());
                e = assertThrows(StorageException.class, () -> fs.stat("b"));
                assertEquals(ErrorCode.CORRUPT_IMAGE, e.code());
                e = assertThrows(StorageException.class, () -> fs.readAll("b"));
                assertEquals(ErrorCode.CORRUPT_IMAGE, e.code());
                CheckReport r = fs.check(false);
                assertTrue(mentions(r.errors(), "descriptor of file 'b'"), r.toString());
            } finally {
                fs.close();
            }
        }
    }

    // ------------------------------------------------------------------ bitmaps and blocks

    long firstBlock(String name) {
        long p = descriptor(name).direct(0);
        assertTrue(p != 0);
        return Descriptor.block(p);
    }

    @Test
    void anOverwrittenBitmapRefusesTheMountAndIsRebuiltFromTheFiles() {
        long c = firstBlock("a") / sb.clusterBlocks();
        garbage(sb.bitmapPage(c), 18);
        assertMountRefused(ErrorCode.CORRUPT_IMAGE, "bitmap of cluster " + c);
        CheckReport r = offline(false);
        assertTrue(mentions(r.errors(), "bitmap of cluster " + c), r.toString());
        r = offline(true);
        assertTrue(mentions(r.repaired(), "bitmap of cluster " + c, "rebuilt"), r.toString());
        r = offline(false);
        assertTrue(r.clean(), r.toString());
        assertIntactAndClean();
    }

    @Test
    void aBlockTwoFilesUseIsReportedNotResolved() {
        Descriptor a = descriptor("a");
        Descriptor b = descriptor("b");
        long shared = Descriptor.block(a.direct(0));
        long lost = Descriptor.block(b.direct(0));
        b.direct(0, a.direct(0));
        reseal(sb.descriptorPage(b.index), Pages.DESCRIPTOR, b.page);
        String before = sha256();
        CheckReport r = offline(false);
        assertEquals(before, sha256(), "a check without repair writes nothing");
        assertTrue(mentions(r.errors(), "block " + shared + " is used twice"), r.toString());
        assertTrue(mentions(r.leaks(), "block " + lost + " "), r.toString());
        try (TestDevice dev = device()) {
            Vims fs = Vims.mount("ds", dev, Hosts.host("h"));
            try {
                r = fs.check(false);
                assertTrue(mentions(r.errors(), "used twice"), r.toString());
                r = fs.check(true);
                r = fs.check(false);
                assertTrue(mentions(r.errors(), "block " + shared + " is used twice"), r.toString());
                assertTrue(r.leaks().isEmpty(), r.toString());
                assertArrayEquals(contentA, fs.readAll("a"));
                assertEquals(contentB.length, fs.readAll("b").length);
            } finally {
                fs.close();
            }
        }
    }

    @Test
    void aLeakedBlockIsReportedAndFreed() {
        long c = firstBlock("a") / sb.clusterBlocks();
        ByteBuffer bm = readPage(sb.bitmapPage(c));
        int bit = Bitmaps.findFree(bm, 0);
        assertTrue(bit >= 0);
        Bitmaps.set(bm, bit, true); // counts it too: the bitmap itself stays consistent
        reseal(sb.bitmapPage(c), Pages.BITMAP, bm);
        long leaked = c * sb.clusterBlocks() + bit;
        try (TestDevice dev = device()) {
            Vims fs = Vims.mount("ds", dev, Hosts.host("h"));
            try {
                assertEquals(freeBefore - sb.blockSize(), fs.space().free());
                CheckReport r = fs.check(false);
                assertEquals(List.of(), r.errors());
                assertEquals(List.of("block " + leaked + " is allocated but no file uses it"), r.leaks());
                assertEquals(sb.blockSize(), r.leakedBytes());
                assertFalse(r.clean());
                r = fs.check(true);
                assertFalse(r.repaired().isEmpty(), r.toString());
                r = fs.check(false);
                assertTrue(r.clean(), r.toString());
                assertEquals(freeBefore, fs.space().free());
            } finally {
                fs.close();
            }
        }
        assertIntactAndClean();
    }

    @Test
    void aLockRecordOfAnUnknownHostIsReportedAndCleared() {
        Descriptor a = descriptor("a");
        UUID stranger = UUID.randomUUID();
        a.lock(Descriptor.LOCK_EXCLUSIVE, 3, stranger, 7);
        reseal(sb.descriptorPage(a.index), Pages.DESCRIPTOR, a.page);
        try (TestDevice dev = device()) {
            Vims fs = Vims.mount("ds", dev, Hosts.host("h"));
            try {
                CheckReport r = fs.check(false);
                assertTrue(mentions(r.errors(), "lock record of file 'a'", stranger.toString()), r.toString());
                r = fs.check(true);
                assertTrue(mentions(r.repaired(), "lock record of file 'a' cleared"), r.toString());
                r = fs.check(false);
                assertTrue(r.clean(), r.toString());
                try (DatastoreFile f = fs.open("a", true)) {
                    assertEquals(contentA.length, f.size());
                }
            } finally {
                fs.close();
            }
        }
        assertEquals(Descriptor.LOCK_NONE, descriptor("a").lockMode());
        assertIntactAndClean();
    }

    // ------------------------------------------------------------------ the device

    @Test
    void aTruncatedLunIsRefused() throws IOException {
        long end = sb.dataStart() + sb.blocks() * sb.blockSize();
        long shorter = end - 3L * MIB;
        try (FileChannel ch = FileChannel.open(lun, StandardOpenOption.WRITE)) {
            ch.truncate(shorter);
        }
        String before = sha256();
        try (TestDevice dev = new TestDevice(lun, shorter, ID)) {
            StorageException e = assertThrows(StorageException.class, () -> Vims.mount("ds", dev, Hosts.host("h")).close());
            assertEquals(ErrorCode.CORRUPT_IMAGE, e.code(), e.getMessage());
            assertTrue(e.getMessage().contains("truncated"), e.getMessage());
            assertEquals(0, dev.writes.get());
            CheckReport r = Checker.offline(dev, false);
            assertTrue(mentions(r.errors(), "truncated"), r.toString());
            r = Checker.offline(dev, true);
            assertTrue(mentions(r.errors(), "truncated"), r.toString());
            assertEquals(List.of(), r.repaired());
            assertEquals(0, dev.writes.get(), "the offline checker wrote to a truncated LUN");
        }
        assertEquals(before, sha256());
        assertEquals(shorter, Files.size(lun));
    }

    @Test
    void aDeviceWithAnotherIdentityIsRefused() {
        String before = sha256();
        try (TestDevice dev = new TestDevice(lun, SIZE, "uuid:a-copy")) {
            StorageException e = assertThrows(StorageException.class, () -> Vims.mount("ds", dev, Hosts.host("h")).close());
            assertEquals(ErrorCode.DEVICE_UNAVAILABLE, e.code(), e.getMessage());
            assertTrue(e.getMessage().contains(ID) && e.getMessage().contains("uuid:a-copy"), e.getMessage());
            assertEquals(0, dev.writes.get());
        }
        assertEquals(before, sha256());
    }

    @Test
    void aDeviceHoldingExt4OrDataIsFormattedOnlyWithForce() throws IOException {
        for (String what : List.of("ext4", "random", "partitions")) {
            Path other = lun.resolveSibling("other-" + what);
            try (TestDevice dev = new TestDevice(other, 64L * MIB, "uuid:other")) {
                ByteBuffer head = ByteBuffer.allocate(64 * 1024);
                switch (what) {
                    case "ext4" -> {
                        head.put(1024, random(1024, 3));
                        head.put(1080, (byte) 0x53).put(1081, (byte) 0xEF);
                    }
                    case "random" -> head.put(0, random(64 * 1024, 4));
                    default -> head.put(510, (byte) 0x55).put(511, (byte) 0xAA);
                }
                dev.write(head, 0);
                long writes = dev.writes.get();
                byte[] before = Files.readAllBytes(other);
                StorageException e = assertThrows(StorageException.class,
                        () -> new VimsFilesystem().format(dev, Map.of("max-size", "256M", "max-files", "32", "max-hosts", "4"), false));
                assertEquals(ErrorCode.DEVICE_HAS_FILESYSTEM, e.code(), what + ": " + e.getMessage());
                assertEquals(writes, dev.writes.get());
                assertArrayEquals(before, Files.readAllBytes(other));
                StorageException m = assertThrows(StorageException.class, () -> Vims.mount("ds", dev, Hosts.host("h")));
                assertEquals(ErrorCode.CORRUPT_IMAGE, m.code(), m.getMessage());
                assertEquals(writes, dev.writes.get());
                new VimsFilesystem().format(dev, Map.of("max-size", "256M", "max-files", "32", "max-hosts", "4"), true);
                Vims fs = Vims.mount("ds", dev, Hosts.host("h"));
                try {
                    assertEquals(List.of(), fs.list());
                    assertTrue(fs.check(false).clean());
                } finally {
                    fs.close();
                }
                // formatting it again without force leaves the VIMS as it is
                new VimsFilesystem().format(dev, Map.of(), false);
            }
        }
    }
}

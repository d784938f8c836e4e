package io.strata.fs.vims.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.format.CheckReport;
import io.strata.api.fs.DatastoreFile;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.Random;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class VimsBasicsTest {
    static final int MIB = 1024 * 1024;
    @TempDir
    Path dir;
    TestDevice dev;
    Vims fs;

    @BeforeEach
    void setUp() {
        dev = new TestDevice(dir.resolve("lun"), 512L * MIB, "uuid:test-lun");
        new VimsFilesystem().format(dev, Map.of("max-files", "64", "max-hosts", "4", "cluster-size", "16M"), false);
        fs = Vims.mount("ds", dev, Hosts.host("a"));
    }

    @AfterEach
    void tearDown() {
        fs.close();
        dev.close();
    }

    static byte[] random(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    static byte[] read(DatastoreFile f, long pos, int n) {
        ByteBuffer b = ByteBuffer.allocate(n);
        f.read(b, pos);
        return b.array();
    }

    void assertClean() {
        CheckReport r = fs.check(false);
        assertTrue(r.clean(), () -> "checker: " + r);
    }

    @Test
    void filesAreWrittenReadListedRenamedAndDeleted() {
        byte[] data = random(3 * MIB + 123, 1);
        long free0 = fs.space().free();
        try (DatastoreFile f = fs.create("disk.vhd")) {
            f.write(ByteBuffer.wrap(data), 4096);
            f.flush();
            assertEquals(4096 + data.length, f.size());
            assertArrayEquals(data, read(f, 4096, data.length));
            assertArrayEquals(new byte[4096], read(f, 0, 4096));
        }
        assertEquals(List.of("disk.vhd"), fs.list());
        assertEquals(4L * MIB, fs.stat("disk.vhd").allocated());
        assertEquals(free0 - 4L * MIB, fs.space().free());
        fs.rename("disk.vhd", "b.vhd");
        assertFalse(fs.exists("disk.vhd"));
        try (DatastoreFile f = fs.open("b.vhd", false)) {
            assertArrayEquals(data, read(f, 4096, data.length));
        }
        assertClean();
        fs.delete("b.vhd");
        assertEquals(List.of(), fs.list());
        assertEquals(free0, fs.space().free());
        assertClean();
    }

    @Test
    void atomicWritesReplaceWholeFiles() {
        fs.writeAtomically("catalog", "one".getBytes());
        fs.writeAtomically("catalog", "two two".getBytes());
        assertEquals("two two", new String(fs.readAll("catalog")));
        assertEquals(List.of("catalog"), fs.list());
        assertClean();
    }

    @Test
    void lazyZeroedAndPunchedBlocksReadAsZeros() {
        try (DatastoreFile f = fs.create("thick")) {
            f.write(ByteBuffer.wrap(random(MIB, 9)), 0); // a block with old data
            f.punchHole(0, MIB);
            assertArrayEquals(new byte[MIB], read(f, 0, MIB));
            f.allocate(0, 8L * MIB);
            assertEquals(8L * MIB, f.size());
            assertEquals(8L * MIB, f.allocatedBytes());
            assertArrayEquals(new byte[MIB], read(f, 3L * MIB, MIB));
            byte[] small = random(512, 3);
            f.write(ByteBuffer.wrap(small), 5L * MIB + 4096);
            byte[] block = read(f, 5L * MIB, MIB);
            for (int i = 0; i < MIB; i++) {
                byte want = i >= 4096 && i < 4096 + 512 ? small[i - 4096] : 0;
                if (block[i] != want) {
                    throw new AssertionError("byte " + i + " is " + block[i]);
                }
            }
            long before = fs.space().free();
            f.punchHole(2L * MIB, 3L * MIB);
            assertEquals(before + 3L * MIB, fs.space().free());
            assertEquals(8L * MIB, f.size());
        }
        assertClean();
    }

    @Test
    void largeFilesUsePointerBlocks() {
        long at = (long) (Descriptor.DIRECT + 10) * MIB;
        byte[] data = random(2 * MIB, 5);
        try (DatastoreFile f = fs.create("big")) {
            f.write(ByteBuffer.wrap(data), at);
            assertArrayEquals(data, read(f, at, data.length));
            assertEquals(3L * MIB, f.allocatedBytes()); // two data blocks and a pointer block
            f.setSize(MIB);
            assertEquals(MIB, f.size());
        }
        assertClean();
        fs.delete("big");
        assertClean();
    }

    @Test
    void badNamesAreRefused() {
        for (String bad : List.of("../x", "a/b", "..", "", "a\u0001")) {
            StorageException e = assertThrows(StorageException.class, () -> fs.create(bad));
            assertEquals(ErrorCode.INVALID_NAME, e.code(), bad);
        }
    }

    @Test
    void aFullDatastoreSaysSoAndKeepsWhatItHas() {
        byte[] chunk = random(MIB, 2);
        StorageException e = assertThrows(StorageException.class, () -> {
            try (DatastoreFile f = fs.create("fill")) {
                for (long i = 0; ; i++) {
                    f.write(ByteBuffer.wrap(chunk), i * MIB);
                }
            }
        });
        assertEquals(ErrorCode.DATASTORE_FULL, e.code());
        assertEquals(0, fs.space().free());
        try (DatastoreFile f = fs.open("fill", false)) {
            assertArrayEquals(chunk, read(f, 7L * MIB, MIB));
        }
        assertClean();
        fs.delete("fill");
        assertClean();
    }

    @Test
    void everythingSurvivesARemount() {
        byte[] data = random(MIB + 7, 4);
        try (DatastoreFile f = fs.create("keep")) {
            f.write(ByteBuffer.wrap(data), 100);
            f.flush();
        }
        fs.close();
        fs = Vims.mount("ds", dev, Hosts.host("a2"));
        try (DatastoreFile f = fs.open("keep", false)) {
            assertArrayEquals(data, read(f, 100, data.length));
        }
        assertClean();
    }

    @Test
    void aForcedFormatRefusesAVimsInUseAndErasesOneThatIsNot() {
        java.time.Duration was = VimsFilesystem.heartbeatWatch;
        VimsFilesystem.heartbeatWatch = java.time.Duration.ofMillis(1200); // several renewals of Hosts.FAST
        try {
            fs.writeAtomically("keep", "x".getBytes());
            TestDevice other = new TestDevice(dev.file, 0, "uuid:test-lun");
            try {
                StorageException e = assertThrows(StorageException.class,
                        () -> new VimsFilesystem().format(other, Map.of(), true));
                assertEquals(ErrorCode.RESOURCE_IN_USE, e.code());
                assertTrue(e.getMessage().contains("hosts are using"), e.getMessage());
                // without force it joins: nothing formatted
                new VimsFilesystem().format(other, Map.of(), false);
                assertEquals(List.of("keep"), fs.list());
                fs.close();
                new VimsFilesystem().format(other, Map.of(), true);
            } finally {
                other.close();
            }
            fs = Vims.mount("ds", dev, Hosts.host("b"));
            assertEquals(List.of(), fs.list());
        } finally {
            VimsFilesystem.heartbeatWatch = was;
        }
    }

    @Test
    void aForcedFormatOverOldDataLeavesNoDamagedLeaseRecords() throws Exception {
        fs.close();
        // the LUN held something else before: garbage over all its metadata, lockspace included
        try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(dev.file,
                java.nio.file.StandardOpenOption.WRITE)) {
            byte[] junk = random(MIB, 77);
            for (long at = 0; at < 96L * MIB; at += MIB) {
                ch.write(ByteBuffer.wrap(junk), at);
            }
        }
        StorageException refused = assertThrows(StorageException.class,
                () -> new VimsFilesystem().format(dev, Map.of("max-files", "64", "max-hosts", "4"), false));
        assertEquals(ErrorCode.DEVICE_HAS_FILESYSTEM, refused.code());
        new VimsFilesystem().format(dev, Map.of("max-files", "64", "max-hosts", "4"), true);
        fs = Vims.mount("ds", dev, Hosts.host("c"));
        try (DatastoreFile f = fs.create("new")) { // the namespace and file leases are taken
            f.write(ByteBuffer.wrap(random(4096, 1)), 0);
        }
        fs.writeAtomically("cat", "x".getBytes());
        assertEquals(List.of("cat", "new"), fs.list());
        assertClean();
    }

    /**
     * Two threads of one host open one file for writing and close it, over and over. Whenever
     * one opens just after the other's close, the file's lease must be free for it. Before,
     * such an open failed LOCKED ("this host already holds lease area") in three ways: the
     * closing handle let the lease go after unlocking the file's node; a close dropped the node
     * while an open waited to count itself on it; and a close dropped it while the last
     * writer's close was still giving the lease back. In the last two, the next open made a
     * second node for the file, and its lease was not free.
     */
    @Test
    void aWriterOpeningAsAnotherClosesFindsTheLeaseFree() throws Exception {
        fs.create("f").close();
        int rounds = 300;
        Queue<Throwable> failures = new ConcurrentLinkedQueue<>();
        CyclicBarrier start = new CyclicBarrier(2);
        Runnable work = () -> {
            try {
                start.await();
                for (int i = 0; i < rounds; i++) {
                    fs.open("f", true).close();
                }
            } catch (Throwable e) {
                failures.add(e);
            }
        };
        List<Thread> openers = List.of(new Thread(work, "opener-1"), new Thread(work, "opener-2"));
        for (Thread t : openers) {
            t.setDaemon(true); // a deadlock fails this test below, and holds nothing after it
            t.start();
        }
        for (Thread t : openers) {
            t.join(TimeUnit.SECONDS.toMillis(120)); // some 3 s here; a deadlock never ends
            assertFalse(t.isAlive(), () -> t.getName() + " never finished: " + Arrays.toString(t.getStackTrace()));
        }
        assertTrue(failures.isEmpty(), () -> "opens failed: " + failures.stream()
                .map(e -> e + (e.getCause() != null ? " (" + e.getCause() + ")" : "")).toList());
        try (DatastoreFile f = fs.open("f", true)) { // and the lease is free at the end
            f.write(ByteBuffer.wrap(random(4096, 3)), 0);
        }
        assertClean();
    }
}

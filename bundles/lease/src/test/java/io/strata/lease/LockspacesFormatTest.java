package io.strata.lease;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CyclicBarrier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The header: formatting, its idempotence and refusals, and joining checks. */
class LockspacesFormatTest {
    static final LockspaceLayout LAYOUT = new LockspaceLayout(4, 2);
    static final LeaseSettings SHORT = LockspaceTest.SHORT;

    @TempDir
    Path dir;

    SectorStore store(String name, int sectorSize, long sectors) {
        return Lockspaces.pathStore(dir.resolve(name), sectorSize, sectors);
    }

    SectorStore store(String name) {
        return store(name, 512, Lockspaces.sectorsNeeded(LAYOUT, 512));
    }

    static byte[] sector(SectorStore s, long n) {
        ByteBuffer b = ByteBuffer.allocate(s.sectorSize());
        s.read(n, b);
        return b.array();
    }

    @Test
    void sizeOfALockspace() {
        assertEquals(1 + 4 + 2 * (1 + 4), Lockspaces.sectorsNeeded(LAYOUT, 512));
        assertEquals(1 + 64 + 4096L * 65, Lockspaces.sectorsNeeded(LockspaceLayout.DEFAULT, 4096));
        StorageException e = assertThrows(StorageException.class, () -> Lockspaces.sectorsNeeded(LAYOUT, 1000));
        assertEquals(ErrorCode.INVALID_ARGUMENT, e.code());
    }

    @Test
    void formattingIsIdempotentAndWritesOnlyTheHeader() {
        try (SectorStore s = store("a")) {
            assertFalse(Lockspaces.formatted(s));
            Lockspaces.format(s, "ls", LAYOUT);
            assertTrue(Lockspaces.formatted(s));
            byte[] header = sector(s, 0);
            for (long i = 1; i < s.sectors(); i++) {
                assertArrayEquals(new byte[512], sector(s, i), "sector " + i + " was written");
            }
            Lockspaces.format(s, "ls", LAYOUT);
            assertArrayEquals(header, sector(s, 0));
        }
        // the same arguments give the same bytes anywhere
        try (SectorStore a = store("a"); SectorStore b = store("b")) {
            Lockspaces.format(b, "ls", LAYOUT);
            assertArrayEquals(sector(a, 0), sector(b, 0));
        }
    }

    @Test
    void formattingAgainDoesNotDisturbAJoinedHost() throws Exception {
        try (SectorStore s = store("a")) {
            Lockspaces.format(s, "ls", LAYOUT);
        }
        try (SectorStore s = store("a"); Lockspace ls = Lockspaces.join(s, new HostIdentity(UUID.randomUUID(), "h"),
                SHORT, LeaseClock.SYSTEM, null); SectorStore other = store("a")) {
            Lockspaces.format(other, "ls", LAYOUT);
            assertTrue(Lockspaces.formatted(other));
            ResourceLease l = ls.acquire(1, "vm", Duration.ZERO);
            Thread.sleep(300);
            assertTrue(ls.valid());
            assertTrue(l.valid());
        }
    }

    @Test
    void hostsRacingToFormatAFreshStoreAllSucceed() throws Exception {
        int n = 4;
        CyclicBarrier start = new CyclicBarrier(n);
        List<Throwable> errors = new CopyOnWriteArrayList<>();
        List<Thread> threads = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            Thread t = new Thread(() -> {
                try (SectorStore s = store("race")) {
                    start.await();
                    Lockspaces.format(s, "ls", LAYOUT);
                } catch (Throwable e) {
                    errors.add(e);
                }
            });
            threads.add(t);
            t.start();
        }
        for (Thread t : threads) {
            t.join();
        }
        assertEquals(List.of(), errors);
        try (SectorStore s = store("race")) {
            assertTrue(Lockspaces.formatted(s));
        }
    }

    @Test
    void anotherLockspaceIsRefused() {
        try (SectorStore s = store("a")) {
            Lockspaces.format(s, "ls", LAYOUT);
            byte[] header = sector(s, 0);
            StorageException e = assertThrows(StorageException.class, () -> Lockspaces.format(s, "other", LAYOUT));
            assertEquals(ErrorCode.ALREADY_EXISTS, e.code());
            assertTrue(e.getMessage().contains("'ls'") && e.getMessage().contains("'other'"), e.getMessage());
            e = assertThrows(StorageException.class, () -> Lockspaces.format(s, "ls", new LockspaceLayout(4, 1)));
            assertEquals(ErrorCode.ALREADY_EXISTS, e.code());
            e = assertThrows(StorageException.class, () -> Lockspaces.format(s, "ls", new LockspaceLayout(3, 2)));
            assertEquals(ErrorCode.ALREADY_EXISTS, e.code());
            assertArrayEquals(header, sector(s, 0));
        }
    }

    @Test
    void aGarbageHeaderIsRefused() {
        try (SectorStore s = store("a")) {
            byte[] junk = new byte[512];
            new java.util.Random(1).nextBytes(junk);
            s.write(0, ByteBuffer.wrap(junk));
            assertFalse(Lockspaces.formatted(s));
            StorageException e = assertThrows(StorageException.class, () -> Lockspaces.format(s, "ls", LAYOUT));
            assertEquals(ErrorCode.CORRUPT_IMAGE, e.code());
            e = assertThrows(StorageException.class, () -> Lockspaces.join(s,
                    new HostIdentity(UUID.randomUUID(), "h"), SHORT, LeaseClock.SYSTEM, null));
            assertEquals(ErrorCode.CORRUPT_IMAGE, e.code());
            assertArrayEquals(junk, sector(s, 0));
        }
        // a torn header: right signature, bad checksum
        try (SectorStore s = store("b")) {
            Lockspaces.format(s, "ls", LAYOUT);
            byte[] h = sector(s, 0);
            h[60] ^= 1;
            s.write(0, ByteBuffer.wrap(h));
            StorageException e = assertThrows(StorageException.class, () -> Lockspaces.format(s, "ls", LAYOUT));
            assertEquals(ErrorCode.CORRUPT_IMAGE, e.code());
            assertTrue(e.getMessage().contains("checksum"), e.getMessage());
        }
    }

    @Test
    void joiningAnUnformattedStoreIsRefused() {
        try (SectorStore s = store("a")) {
            StorageException e = assertThrows(StorageException.class, () -> Lockspaces.join(s,
                    new HostIdentity(UUID.randomUUID(), "h"), SHORT, LeaseClock.SYSTEM, null));
            assertEquals(ErrorCode.INVALID_ARGUMENT, e.code());
            assertTrue(e.getMessage().contains("format it first"), e.getMessage());
        }
    }

    @Test
    void aStoreTooSmallIsRefused() {
        try (SectorStore s = store("a", 512, Lockspaces.sectorsNeeded(LAYOUT, 512) - 1)) {
            StorageException e = assertThrows(StorageException.class, () -> Lockspaces.format(s, "ls", LAYOUT));
            assertEquals(ErrorCode.SIZE_TOO_LARGE, e.code());
            assertTrue(e.getMessage().contains("needs 15 sectors"), e.getMessage());
            assertFalse(Lockspaces.formatted(s));
        }
        // formatted, then opened shorter: truncated
        try (SectorStore s = store("b")) {
            Lockspaces.format(s, "ls", LAYOUT);
        }
        try (SectorStore s = store("b", 512, 10)) {
            StorageException e = assertThrows(StorageException.class, () -> Lockspaces.join(s,
                    new HostIdentity(UUID.randomUUID(), "h"), SHORT, LeaseClock.SYSTEM, null));
            assertEquals(ErrorCode.CORRUPT_IMAGE, e.code());
        }
    }

    @Test
    void theSectorSizeMustMatch() {
        try (SectorStore s = store("a")) {
            Lockspaces.format(s, "ls", LAYOUT);
        }
        try (SectorStore s = store("a", 4096, Lockspaces.sectorsNeeded(LAYOUT, 4096))) {
            StorageException e = assertThrows(StorageException.class, () -> Lockspaces.join(s,
                    new HostIdentity(UUID.randomUUID(), "h"), SHORT, LeaseClock.SYSTEM, null));
            assertEquals(ErrorCode.INVALID_ARGUMENT, e.code());
            assertTrue(e.getMessage().contains("512-byte"), e.getMessage());
        }
    }

    @Test
    void badNamesAreRefused() {
        try (SectorStore s = store("a")) {
            StorageException e = assertThrows(StorageException.class, () -> Lockspaces.format(s, "a/b", LAYOUT));
            assertEquals(ErrorCode.INVALID_NAME, e.code());
            e = assertThrows(StorageException.class, () -> Lockspaces.format(s, "", LAYOUT));
            assertEquals(ErrorCode.INVALID_NAME, e.code());
        }
    }

    @Test
    void fourKibibyteSectorsWork() throws Exception {
        try (SectorStore s = store("4k", 4096, Lockspaces.sectorsNeeded(LAYOUT, 4096))) {
            Lockspaces.format(s, "ls4k", LAYOUT);
            try (Lockspace ls = Lockspaces.join(s, new HostIdentity(UUID.randomUUID(), "h"), SHORT,
                    LeaseClock.SYSTEM, null)) {
                try (ResourceLease l = ls.acquire(1, "vm", Duration.ZERO)) {
                    assertTrue(l.valid());
                }
            }
        }
        assertEquals(Lockspaces.sectorsNeeded(LAYOUT, 4096) * 4096, Files.size(dir.resolve("4k")));
    }
}

package io.strata.fc.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.multipath.PathFailedException;
import io.strata.posix.Posix;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

/** One FC path on its own: I/O through the node with O_DIRECT, errors, and the sysfs checks. */
class FcPathTest {
    @TempDir(factory = TargetTempDirs.class)
    Path tmp;
    FakeSysfs fake;
    /** host3:0:0:0, host3:0:0:1, host5:0:0:0, host5:0:0:1. */
    List<FcPath> paths;

    @BeforeEach
    void setUp() {
        fake = FcSysfsTest.twoByTwo(tmp);
        paths = new FcSysfs(fake.sys(), fake.dev()).discover(Set.of()).paths().stream().map(FcPath::new).toList();
    }

    @AfterEach
    void tearDown() {
        paths.forEach(FcPath::close);
    }

    static byte[] random(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    static byte[] read(FcPath p, long offset, int n) {
        ByteBuffer b = ByteBuffer.allocate(n);
        p.read(b, offset);
        return b.array();
    }

    static void assertCode(ErrorCode code, Executable e) {
        assertEquals(code, assertThrows(StorageException.class, e).code());
    }

    /**
     * A write behind a fence (a shared datastore's lease) checks it before each system call:
     * the 1 MiB chunks of a heap buffer, the second refused. The refusal is the fence's error, not
     * a path failure, so multipath neither blames the path nor retries the write elsewhere.
     */
    @Test
    void aFencedWriteChecksTheFenceBeforeEachSystemCall() throws Exception {
        FcPath a = paths.get(0);
        StorageException lost = new StorageException(ErrorCode.DEVICE_UNAVAILABLE, "this host's lease expired");
        byte[] data = random(3 << 20, 5);
        java.util.concurrent.atomic.AtomicInteger checks = new java.util.concurrent.atomic.AtomicInteger();
        StorageException e = assertThrows(StorageException.class, () -> a.write(ByteBuffer.wrap(data), 1 << 20, () -> {
            if (checks.incrementAndGet() > 1) {
                throw lost;
            }
        }));
        assertEquals(lost, e);
        assertEquals(2, checks.get());
        assertArrayEquals(java.util.Arrays.copyOf(data, 1 << 20), read(a, 1 << 20, 1 << 20), "the first chunk");
        assertArrayEquals(new byte[2 << 20], read(a, 2 << 20, 2 << 20), "nothing after it");
        a.write(ByteBuffer.wrap(data), 1 << 20, io.strata.api.device.WriteFence.NONE);
        assertArrayEquals(data, read(a, 1 << 20, 3 << 20));
    }

    @Test
    void whatOnePathWritesTheOtherReads() throws Exception {
        FcPath a = paths.get(0);
        FcPath b = paths.get(2);
        assertEquals(a.identity(), b.identity());
        byte[] data = random(8192, 1);
        a.write(ByteBuffer.wrap(data), 4096);
        a.flush();
        assertArrayEquals(data, read(b, 4096, 8192));
        assertTrue(a.uncached(), "opened with O_DIRECT");
        byte[] onDisk = new byte[8192];
        try (RandomAccessFile f = new RandomAccessFile(fake.backing("lun0").toFile(), "r")) {
            f.seek(4096);
            f.readFully(onDisk);
        }
        assertArrayEquals(data, onDisk);
        // an odd-address direct buffer goes through a bounce buffer
        ByteBuffer odd = ByteBuffer.allocateDirect(512 + 3).position(3).slice();
        b.read(odd, 4096);
        assertEquals(0, odd.remaining());
    }

    @Test
    void outOfRangeAndMisalignedAreTheCallersErrors() {
        FcPath a = paths.get(0);
        assertCode(ErrorCode.OUT_OF_RANGE, () -> a.read(ByteBuffer.allocate(1024), a.size() - 512));
        assertCode(ErrorCode.OUT_OF_RANGE, () -> a.write(ByteBuffer.allocate(512), a.size()));
        assertCode(ErrorCode.OUT_OF_RANGE, () -> a.unmap(a.size() - 512, 4096));
        assertCode(ErrorCode.INVALID_ARGUMENT, () -> a.read(ByteBuffer.allocate(512), 100));
        assertCode(ErrorCode.INVALID_ARGUMENT, () -> a.read(ByteBuffer.allocate(100), 0));
        assertDoesNotThrow(() -> a.read(ByteBuffer.allocate(512), a.size() - 512));
    }

    @Test
    void checkFollowsTheHbaPortTheRemotePortAndTheDevice() {
        FcPath a = paths.get(0);
        FcPath other = paths.get(2);
        a.check();
        fake.setHostState(3, "Linkdown");
        PathFailedException e = assertThrows(PathFailedException.class, a::check);
        assertTrue(e.getMessage().contains("host3") && e.getMessage().contains("Linkdown"), e.getMessage());
        other.check();
        fake.setHostState(3, "Online");
        a.check();
        fake.setRportState("rport-3:0-0", "Blocked");
        e = assertThrows(PathFailedException.class, a::check);
        assertTrue(e.getMessage().contains("rport-3:0-0") && e.getMessage().contains("Blocked"), e.getMessage());
        fake.setRportState("rport-3:0-0", "Online");
        fake.setDeviceState("3:0:0:0", "offline");
        e = assertThrows(PathFailedException.class, a::check);
        assertTrue(e.getMessage().contains("offline"), e.getMessage());
        fake.setDeviceState("3:0:0:0", "running");
        a.check();
    }

    @Test
    void aVanishedNodeFailsThePath() throws Exception {
        FcPath a = paths.get(0);
        a.write(ByteBuffer.wrap(random(512, 2)), 0);
        Files.delete(fake.dev().resolve("sdb"));
        assertThrows(PathFailedException.class, () -> a.read(ByteBuffer.allocate(512), 0));
        assertThrows(PathFailedException.class, () -> a.write(ByteBuffer.allocate(512), 0));
        assertThrows(PathFailedException.class, a::flush);
        assertThrows(PathFailedException.class, a::check);
        assertArrayEquals(random(512, 2), read(paths.get(2), 0, 512), "the other path still works");
        // a new, different disk under the same name: the path stays failed until reconnected
        Files.write(fake.dev().resolve("sdb"), new byte[4 << 20]);
        assertThrows(PathFailedException.class, () -> a.read(ByteBuffer.allocate(512), 0));
        a.reconnect();
        assertArrayEquals(new byte[512], read(a, 0, 512), "reopened: the new disk");
    }

    @Test
    void aNodeThatWasNeverThereFailsThePath() throws Exception {
        Files.delete(fake.dev().resolve("sdc"));
        assertThrows(PathFailedException.class, () -> paths.get(1).read(ByteBuffer.allocate(512), 0));
    }

    @Test
    void unmapPunchesAHoleInAFile() {
        FcPath a = paths.get(1);
        assertTrue(a.canUnmap());
        a.write(ByteBuffer.wrap(random(1 << 20, 3)), 0);
        a.flush();
        long before = Posix.allocatedBytes(fake.backing("lun1"));
        a.unmap(0, 1 << 20);
        assertArrayEquals(new byte[4096], read(paths.get(3), 8192, 4096));
        assertTrue(Posix.allocatedBytes(fake.backing("lun1")) < before, "the range was deallocated");
        a.unmap(0, 0);
    }

    @Test
    void closedPathsFail() {
        FcPath a = paths.get(0);
        a.read(ByteBuffer.allocate(512), 0);
        a.close();
        a.close();
        assertThrows(PathFailedException.class, a::check);
        assertThrows(RuntimeException.class, () -> a.read(ByteBuffer.allocate(512), 0));
    }
}

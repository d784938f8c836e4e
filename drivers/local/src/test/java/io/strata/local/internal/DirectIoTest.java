package io.strata.local.internal;

import static io.strata.local.internal.LocalDriverTest.assertCode;
import static io.strata.local.internal.LocalDriverTest.run;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.device.BlockDevice;
import io.strata.api.device.StorageResource;
import io.strata.posix.Posix;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** direct=true: uncached I/O (O_DIRECT) on file-backed LUNs and block devices. */
class DirectIoTest {
    @TempDir
    Path tmp;
    final LocalDriver driver = new LocalDriver();

    private static byte[] random(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    private static byte[] onDisk(Path f, long offset, int n) throws Exception {
        byte[] b = new byte[n];
        try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "r")) {
            raf.seek(offset);
            raf.readFully(b);
        }
        return b;
    }

    /** Writes and reads back through every kind of buffer the caller may hand in. */
    private static void roundTrips(BlockDevice d, Path backing) throws Exception {
        // a heap buffer
        byte[] a = random(3 * 512, 1);
        d.write(ByteBuffer.wrap(a), 512);
        ByteBuffer heap = ByteBuffer.allocate(a.length);
        d.read(heap, 512);
        assertArrayEquals(a, heap.array());
        // a direct buffer at an odd address, and a heap buffer with a position
        ByteBuffer odd = ByteBuffer.allocateDirect(8192 + 3).position(3).slice();
        odd.put(random(8192, 2)).flip();
        d.write(odd, 1L << 20);
        assertEquals(0, odd.remaining(), "the buffer is consumed");
        ByteBuffer positioned = ByteBuffer.allocate(8192 + 7).position(7);
        d.read(positioned, 1L << 20);
        assertEquals(0, positioned.remaining());
        assertArrayEquals(random(8192, 2), java.util.Arrays.copyOfRange(positioned.array(), 7, 8192 + 7));
        // an aligned direct buffer, used in place, larger than one bounce chunk
        byte[] big = random((3 << 20) / 2, 3);
        ByteBuffer aligned = ByteBuffer.allocateDirect(big.length + 8192).alignedSlice(4096).limit(big.length).slice();
        aligned.put(big).flip();
        d.write(aligned, 2L << 20);
        d.flush();
        ByteBuffer back = ByteBuffer.allocateDirect(big.length + 8192).alignedSlice(4096).limit(big.length).slice();
        d.read(back, 2L << 20);
        byte[] got = new byte[big.length];
        back.flip().get(got);
        assertArrayEquals(big, got);
        // what reached the storage is what a plain reader of the backing store sees
        assertArrayEquals(a, onDisk(backing, 512, a.length));
        assertArrayEquals(big, onDisk(backing, 2L << 20, big.length));
        // the device's own rules still hold
        assertCode(ErrorCode.INVALID_ARGUMENT, () -> d.read(ByteBuffer.allocate(512), 100));
        assertCode(ErrorCode.OUT_OF_RANGE, () -> d.read(ByteBuffer.allocate(1024), d.size() - 512));
    }

    @Test
    void aFileLunWithDirectDoesUncachedIo() throws Exception {
        Path f = tmp.resolve("lun.img");
        StorageResource r = driver.attach("lun", Map.of("kind", "file-lun", "path", f.toString(), "size", "8M",
                "direct", "true"));
        try (BlockDevice d = (BlockDevice) r.openDevice("lun")) {
            assertTrue(((LocalBlockDevice) d).uncached(), "the descriptor carries O_DIRECT");
            roundTrips(d, f);
        }
        // and the same with a time limit: the worker thread's own buffer, copied back
        StorageResource limited = driver.attach("lun", Map.of("kind", "file-lun", "path", f.toString(),
                "direct", "true", "io.timeout.ms", "60000"));
        try (BlockDevice d = (BlockDevice) limited.openDevice("lun")) {
            roundTrips(d, f);
        }
        try (BlockDevice d = (BlockDevice) driver.attach("lun", Map.of("kind", "file-lun", "path", f.toString()))
                .openDevice("lun")) {
            assertFalse(((LocalBlockDevice) d).uncached(), "buffered unless asked");
        }
    }

    @Test
    void ioParametersAreChecked() {
        String p = tmp.resolve("x.img").toString();
        assertTrue(assertCode(ErrorCode.INVALID_ARGUMENT, () -> driver.attach("l",
                Map.of("kind", "file-lun", "path", p, "size", "1M", "direct", "sometimes"))).getMessage().contains("'direct'"));
        for (String bad : new String[] {"-1", "soon", "100000000000"}) {
            assertTrue(assertCode(ErrorCode.INVALID_ARGUMENT, () -> driver.attach("l",
                    Map.of("kind", "file-lun", "path", p, "size", "1M", "io.timeout.ms", bad)))
                    .getMessage().contains("'io.timeout.ms'"), bad);
        }
        assertTrue(assertCode(ErrorCode.INVALID_ARGUMENT, () -> driver.attach("l",
                Map.of("kind", "directory", "path", tmp.toString(), "direct", "true"))).getMessage().contains("'direct'"));
        assertTrue(assertCode(ErrorCode.INVALID_ARGUMENT, () -> driver.attach("l",
                Map.of("kind", "block", "io.timeout.ms", "x"))).getMessage().contains("'io.timeout.ms'"));
        assertFalse(Files.exists(Path.of(p)), "a refused attach creates nothing");
    }

    @Test
    void aFilesystemThatRefusesODirectIsAClearError() throws Exception {
        assumeTrue(Posix.isRoot(), "mounting a ramfs needs root");
        Path mnt = Files.createDirectories(tmp.resolve("ramfs"));
        Process p = new ProcessBuilder("mount", "-t", "ramfs", "ramfs", mnt.toString()).redirectErrorStream(true).start();
        p.getInputStream().readAllBytes();
        assumeTrue(p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0, "this host cannot mount a ramfs");
        try {
            Path f = mnt.resolve("lun.img");
            StorageException e = assertCode(ErrorCode.UNSUPPORTED, () -> driver.attach("r",
                    Map.of("kind", "file-lun", "path", f.toString(), "size", "1M", "direct", "true")));
            assertTrue(e.getMessage().contains("refuses uncached I/O") && e.getMessage().contains("without direct=true"),
                    e.getMessage());
            assertFalse(Files.exists(f), "the LUN file made for the refused attach is gone again");
            // buffered it works; asking for direct on the existing file is refused again, at attach
            StorageResource buffered = driver.attach("r", Map.of("kind", "file-lun", "path", f.toString(), "size", "1M"));
            try (BlockDevice d = (BlockDevice) buffered.openDevice("lun")) {
                d.write(ByteBuffer.wrap(random(512, 4)), 0);
            }
            assertCode(ErrorCode.UNSUPPORTED, () -> driver.attach("r",
                    Map.of("kind", "file-lun", "path", f.toString(), "direct", "true")));
        } finally {
            new ProcessBuilder("umount", "-l", mnt.toString()).start().waitFor(60, TimeUnit.SECONDS);
        }
    }

    @Test
    void aLoopDeviceWithDirectDoesUncachedIo() throws Exception {
        assumeTrue(Posix.isRoot(), "losetup needs root");
        Path img = tmp.resolve("loop.img");
        try (RandomAccessFile raf = new RandomAccessFile(img.toFile(), "rw")) {
            raf.setLength(8L << 20);
        }
        String loop = run("losetup", "--find", "--show", img.toString()).trim();
        try {
            String k = Path.of(loop).getFileName().toString();
            StorageResource r = driver.attach("loops", Map.of("kind", "block", "devices", k, "direct", "true",
                    "io.timeout.ms", "60000"));
            try (BlockDevice d = (BlockDevice) r.openDevice(k)) {
                assertTrue(((LocalBlockDevice) d).uncached());
                d.write(ByteBuffer.wrap(random(4096, 5)), 4096);
                d.flush();
                ByteBuffer back = ByteBuffer.allocate(4096);
                d.read(back, 4096);
                assertArrayEquals(random(4096, 5), back.array());
            }
            assertArrayEquals(random(4096, 5), onDisk(img, 4096, 4096), "written through to the backing file");
        } finally {
            run("losetup", "-d", loop);
        }
    }
}

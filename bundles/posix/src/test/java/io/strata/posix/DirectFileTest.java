package io.strata.posix;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

class DirectFileTest {
    @TempDir
    Path tmp;

    static StorageException assertCode(ErrorCode code, Executable e) {
        StorageException ex = assertThrows(StorageException.class, e);
        assertEquals(code, ex.code(), ex.getMessage());
        return ex;
    }

    private Path file(long size) throws Exception {
        Path f = tmp.resolve("lun.img");
        try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
            raf.setLength(size);
        }
        return f;
    }

    private static byte[] random(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    /** A direct buffer whose address is deliberately one byte past an aligned one. */
    private static ByteBuffer unalignedDirect(int n) {
        ByteBuffer b = ByteBuffer.allocateDirect(n + 2 * 4096).alignedSlice(4096);
        return b.position(1).limit(1 + n).slice();
    }

    @Test
    void writesAndReadsUncachedWithAnyKindOfBuffer() throws Exception {
        Path f = file(8L << 20);
        try (DirectFile d = DirectFile.open(f, true)) {
            assertTrue(d.isUncached(), "the descriptor carries O_DIRECT");
            int a = d.alignment();
            assertTrue(a >= 512 && a <= 4096 && Integer.bitCount(a) == 1, "alignment " + a);

            byte[] one = random(3 * 4096, 1);
            d.write(ByteBuffer.wrap(one), 4096); // heap buffer: bounced
            ByteBuffer back = unalignedDirect(one.length); // misaligned address: bounced
            d.read(back, 4096);
            assertEquals(0, back.remaining());
            byte[] got = new byte[one.length];
            back.flip().get(got);
            assertArrayEquals(one, got);

            ByteBuffer aligned = ByteBuffer.allocateDirect(8192 + 4096).alignedSlice(4096).limit(8192).slice();
            aligned.put(random(8192, 2)).flip();
            d.write(aligned, 65536); // aligned: in place
            assertEquals(0, aligned.remaining());
            ByteBuffer heap = ByteBuffer.allocate(8192);
            d.read(heap, 65536);
            assertArrayEquals(random(8192, 2), heap.array());

            byte[] big = random(DirectFile.CHUNK * 2 + 3 * 4096, 3); // several bounce chunks
            d.write(ByteBuffer.wrap(big), 1L << 20);
            ByteBuffer bigBack = ByteBuffer.allocate(big.length);
            d.read(bigBack, 1L << 20);
            assertArrayEquals(big, bigBack.array());
            d.sync();
        }
        // what went to the storage is what a plain reader sees
        try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "r")) {
            byte[] onDisk = new byte[3 * 4096];
            raf.seek(4096);
            raf.readFully(onDisk);
            assertArrayEquals(random(3 * 4096, 1), onDisk);
        }
    }

    @Test
    void misalignedRequestsAndClosedFilesAreRefused() throws Exception {
        Path f = file(1L << 20);
        DirectFile d = DirectFile.open(f, true);
        int a = d.alignment();
        assertTrue(assertCode(ErrorCode.INVALID_ARGUMENT, () -> d.read(ByteBuffer.allocate(a), a / 2))
                .getMessage().contains("not aligned"));
        assertCode(ErrorCode.INVALID_ARGUMENT, () -> d.write(ByteBuffer.allocate(a + 1), 0));
        assertCode(ErrorCode.INVALID_ARGUMENT, () -> d.read(ByteBuffer.allocate(a), -a));
        d.close();
        d.close();
        assertTrue(assertCode(ErrorCode.DEVICE_UNAVAILABLE, () -> d.read(ByteBuffer.allocate(a), 0))
                .getMessage().contains("closed"));
    }

    /** The vectored calls (bound by direct mapping) report the kernel's errno as a typed error, and EINTR-free data. */
    @Test
    void vectoredCallsTransferAndReportErrno() throws Exception {
        Path f = file(1L << 20);
        int rw = Posix.open(f, true, false);
        int ro = Posix.open(f, false, false);
        try {
            ByteBuffer a = ByteBuffer.allocateDirect(4096);
            ByteBuffer b = ByteBuffer.allocateDirect(512);
            for (int i = 0; i < 4096; i++) {
                a.put((byte) i);
            }
            a.flip();
            b.put(new byte[512]).flip();
            assertEquals(4608, Posix.transferAll(rw, new ByteBuffer[] {a, b}, 8192, true, f));
            ByteBuffer back = ByteBuffer.allocateDirect(4608);
            assertEquals(4608, Posix.transferAll(ro, new ByteBuffer[] {back}, 8192, false, f));
            assertEquals((byte) 7, back.get(7));
            StorageException e = assertThrows(StorageException.class,
                    () -> Posix.transferAll(ro, new ByteBuffer[] {ByteBuffer.allocateDirect(512)}, 0, true, f));
            assertEquals(ErrorCode.IO_ERROR, e.code()); // EBADF: written through a read-only descriptor
            assertTrue(e.getMessage().contains(f.toString()), e.getMessage());
        } finally {
            Posix.close(rw);
            Posix.close(ro);
        }
    }

    @Test
    void aReadOnlyOpenRefusesWrites() throws Exception {
        Path f = file(1L << 20);
        try (DirectFile d = DirectFile.open(f, false)) {
            d.read(ByteBuffer.allocate(4096), 0);
            assertEquals(ErrorCode.IO_ERROR, assertThrows(StorageException.class,
                    () -> d.write(ByteBuffer.allocate(4096), 0)).code()); // EBADF
        }
        assertCode(ErrorCode.FILE_NOT_FOUND, () -> DirectFile.open(tmp.resolve("missing"), false));
    }

    @Test
    void aFilesystemWithoutDirectIoIsRefusedClearly() throws Exception {
        assumeTrue(Posix.isRoot(), "mounting a ramfs needs root");
        Path mnt = Files.createDirectories(tmp.resolve("ramfs"));
        Process p = new ProcessBuilder("mount", "-t", "ramfs", "ramfs", mnt.toString()).redirectErrorStream(true).start();
        p.getInputStream().readAllBytes();
        assumeTrue(p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0, "this host cannot mount a ramfs");
        try {
            Path f = mnt.resolve("lun.img");
            Files.write(f, new byte[8192]);
            StorageException e = assertCode(ErrorCode.UNSUPPORTED, () -> DirectFile.open(f, true));
            assertTrue(e.getMessage().contains("refuses uncached I/O") && e.getMessage().contains(f.toString()),
                    e.getMessage());
        } finally {
            new ProcessBuilder("umount", "-l", mnt.toString()).start().waitFor(60, TimeUnit.SECONDS);
        }
    }

    @Test
    void logicalBlockSizeComesFromTheDiskOfAPartition() throws Exception {
        Path devices = tmp.resolve("sys/devices/virtual/block/sdz");
        Files.createDirectories(devices.resolve("queue"));
        Files.writeString(devices.resolve("queue/logical_block_size"), "4096\n");
        Files.createDirectories(devices.resolve("sdz1"));
        Path devBlock = Files.createDirectories(tmp.resolve("sys/dev/block"));
        Files.createSymbolicLink(devBlock.resolve("8:0"), devices);
        Files.createSymbolicLink(devBlock.resolve("8:1"), devices.resolve("sdz1"));
        assertEquals(4096, DirectFile.logicalBlockSize(devBlock, 8, 0));
        assertEquals(4096, DirectFile.logicalBlockSize(devBlock, 8, 1));
        assertEquals(-1, DirectFile.logicalBlockSize(devBlock, 8, 2));
        assertEquals(-1, DirectFile.logicalBlockSize(devBlock, 0, 45), "an anonymous device (tmpfs, NFS)");
    }

    @Test
    void vanishedDevicesAreUnavailable() {
        assertEquals(ErrorCode.DEVICE_UNAVAILABLE, Errno.code(Errno.ENXIO));
        assertEquals(ErrorCode.DEVICE_UNAVAILABLE, Errno.code(Errno.ENODEV));
        assertEquals(ErrorCode.DEVICE_UNAVAILABLE, Errno.code(Errno.ESTALE));
        assertEquals(ErrorCode.DEVICE_UNAVAILABLE, Errno.codeFromText("No such device or address"));
        assertEquals(ErrorCode.IO_ERROR, Errno.codeFromText("Input/output error"));
    }
}

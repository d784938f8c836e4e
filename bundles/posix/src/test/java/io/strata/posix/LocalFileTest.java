package io.strata.posix;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.fs.DatastoreFile;
import io.strata.api.fs.FileWindow;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

class LocalFileTest {
    private static final int MIB = 1 << 20;

    @TempDir
    Path dir;
    LocalDirectoryDatastore ds;

    @BeforeEach
    void open() {
        ds = new LocalDirectoryDatastore("ds", "dir", dir, null);
    }

    static void assertCode(ErrorCode code, Executable e) {
        StorageException ex = assertThrows(StorageException.class, e);
        assertEquals(code, ex.code(), ex.getMessage());
    }

    static byte[] random(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    @Test
    void writeThenReadBackAndShortReadAtEnd() {
        byte[] data = random(3 * MIB + 17, 1);
        try (DatastoreFile f = ds.create("f")) {
            f.write(ByteBuffer.wrap(data), 5);
            assertEquals(data.length + 5, f.size());
            ByteBuffer back = ByteBuffer.allocateDirect(data.length);
            assertEquals(data.length, f.read(back, 5));
            byte[] got = new byte[data.length];
            back.flip().get(got);
            assertArrayEquals(data, got);
            ByteBuffer tail = ByteBuffer.allocate(100);
            assertEquals(10, f.read(tail, f.size() - 10));
            assertEquals(0, f.read(ByteBuffer.allocate(10), f.size()));
        }
    }

    @Test
    void readOnlyFilesRefuseChanges() {
        ds.create("f").close();
        try (DatastoreFile f = ds.open("f", false)) {
            assertEquals(false, f.writable());
            assertCode(ErrorCode.READ_ONLY, () -> f.write(ByteBuffer.allocate(1), 0));
            assertCode(ErrorCode.READ_ONLY, () -> f.setSize(10));
            assertCode(ErrorCode.READ_ONLY, () -> f.allocate(0, 10));
            assertCode(ErrorCode.READ_ONLY, () -> f.punchHole(0, 10));
        }
    }

    @Test
    void setSizeGrowsSparseAndShrinks() {
        try (DatastoreFile f = ds.create("f")) {
            f.setSize(64L * MIB);
            assertEquals(64L * MIB, f.size());
            assertTrue(f.allocatedBytes() < MIB, "grown file must stay sparse: " + f.allocatedBytes());
            f.setSize(4096);
            assertEquals(4096, f.size());
        }
    }

    @Test
    void allocateReservesSpace() {
        try (DatastoreFile f = ds.create("f")) {
            f.setSize(16L * MIB);
            f.allocate(0, 8L * MIB);
            assertTrue(f.allocatedBytes() >= 8L * MIB, "allocated " + f.allocatedBytes());
            assertEquals(16L * MIB, f.size());
            ByteBuffer b = ByteBuffer.allocate(MIB);
            f.read(b, 0);
            assertTrue(isZero(b.array()), "reserved space reads as zeros");
        }
    }

    @Test
    void punchHoleFreesBlocksKeepsSizeAndReadsZeros() {
        byte[] data = random(4 * MIB, 2);
        try (DatastoreFile f = ds.create("f")) {
            f.write(ByteBuffer.wrap(data), 0);
            f.flush();
            long before = f.allocatedBytes();
            assertTrue(before >= 4L * MIB);
            f.punchHole(MIB, 2L * MIB);
            assertEquals(4L * MIB, f.size());
            assertTrue(f.allocatedBytes() <= before - 2L * MIB, before + " -> " + f.allocatedBytes());
            ByteBuffer b = ByteBuffer.allocate(2 * MIB);
            f.read(b, MIB);
            assertTrue(isZero(b.array()));
            ByteBuffer first = ByteBuffer.allocate(MIB);
            f.read(first, 0);
            assertArrayEquals(java.util.Arrays.copyOf(data, MIB), first.array());
        }
    }

    @Test
    void locksConflictBetweenHandlesAndAreReleased() throws Exception {
        ds.create("f").close();
        try (DatastoreFile a = ds.open("f", true); DatastoreFile b = ds.open("f", true);
                DatastoreFile c = ds.open("f", false)) {
            AutoCloseable la = a.lock(true);
            assertCode(ErrorCode.LOCKED, () -> b.lock(true));
            assertCode(ErrorCode.LOCKED, () -> c.lock(false));
            la.close();
            la.close();
            AutoCloseable s1 = b.lock(false);
            AutoCloseable s2 = c.lock(false);
            assertCode(ErrorCode.LOCKED, () -> a.lock(true));
            s1.close();
            s2.close();
            a.lock(true).close();
            // an exclusive lock needs write access, as with fcntl
            assertCode(ErrorCode.INVALID_ARGUMENT, () -> c.lock(true));
        }
    }

    @Test
    void closingAnotherHandleKeepsTheLock() throws Exception {
        ds.create("f").close();
        try (DatastoreFile a = ds.open("f", true)) {
            a.lock(true);
            ds.open("f", false).close(); // with plain POSIX record locks this close would drop a's lock
            try (DatastoreFile b = ds.open("f", true)) {
                assertCode(ErrorCode.LOCKED, () -> b.lock(true));
            }
        }
    }

    @Test
    void anOpenFileFollowsItsInodeAcrossRename() {
        try (DatastoreFile f = ds.create("old")) {
            ds.rename("old", "new");
            f.write(ByteBuffer.wrap(new byte[] {7}), 0);
            f.setSize(100);
        }
        assertEquals(100, ds.stat("new").size());
    }

    @Test
    void negativeRangesAreRefused() {
        try (DatastoreFile f = ds.create("f")) {
            assertCode(ErrorCode.INVALID_ARGUMENT, () -> f.read(ByteBuffer.allocate(1), -1));
            assertCode(ErrorCode.INVALID_ARGUMENT, () -> f.punchHole(0, -5));
        }
    }

    @Test
    void fullFilesystemMapsToDatastoreFull() throws Exception {
        assumeTrue(Posix.isRoot(), "mounting a small tmpfs needs root");
        Path mnt = Files.createDirectory(dir.resolve("small"));
        Process p = new ProcessBuilder("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", mnt.toString())
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertEquals(0, p.waitFor(), "mount tmpfs: " + out);
        try {
            LocalDirectoryDatastore small = new LocalDirectoryDatastore("small", "dir", mnt, null);
            try (DatastoreFile f = small.create("big")) {
                assertCode(ErrorCode.DATASTORE_FULL, () -> f.write(ByteBuffer.wrap(new byte[4 * MIB]), 0));
                f.setSize(4L * MIB);
                // no window over a hole: storing into it would need a block the datastore lacks
                assertTrue(f.window(2 * MIB, MIB).isEmpty());
                f.setSize(0);
                assertCode(ErrorCode.DATASTORE_FULL, () -> f.allocate(0, 4L * MIB));
            }
            small.delete("big");
            assertCode(ErrorCode.DATASTORE_FULL, () -> small.writeAtomically("meta", new byte[4 * MIB]));
            assertEquals(List.of(), small.list());
            try (var s = Files.list(mnt)) {
                assertEquals(0, s.count(), "a failed atomic write leaves no temporary file");
            }
            small.close();
        } finally {
            new ProcessBuilder("umount", mnt.toString()).start().waitFor();
        }
    }

    /** Puts {@code data} through a window at {@code position}, which must be offered. */
    static void putThroughWindow(DatastoreFile f, long position, byte[] data) {
        try (FileWindow w = f.window(position, data.length).orElseThrow()) {
            ByteBuffer b = w.buffer();
            assertTrue(b.isDirect());
            assertEquals(data.length, b.remaining());
            b.put(data);
        }
    }

    static byte[] readBack(DatastoreFile f, long position, int n) {
        ByteBuffer b = ByteBuffer.allocate(n);
        assertEquals(n, f.read(b, position));
        return b.array();
    }

    @Test
    void aWindowIsTheFilesPagesAndIsOfferedOnlyOverAllocatedBytesInsideTheFile() throws IOException {
        try (DatastoreFile f = ds.create("w")) {
            f.write(ByteBuffer.wrap(random(4 * MIB, 1)), 0); // allocated
            f.setSize(8L * MIB); // a hole after it
            byte[] data = random(MIB, 2);
            putThroughWindow(f, MIB + 512, data);
            assertArrayEquals(data, readBack(f, MIB + 512, data.length), "read through the file");
            f.flush();
            byte[] onDisk = new byte[data.length];
            try (var in = java.nio.channels.FileChannel.open(dir.resolve("w"))) {
                in.read(ByteBuffer.wrap(onDisk), MIB + 512);
            }
            assertArrayEquals(data, onDisk, "read through another descriptor");
            assertEquals(1, ((LocalFile) f).windows());

            assertTrue(f.window(4L * MIB - 4096, 8192).isEmpty(), "half over a hole");
            assertTrue(f.window(5L * MIB, 4096).isEmpty(), "a hole");
            assertTrue(f.window(8L * MIB - 4096, 8192).isEmpty(), "past the end");
            assertTrue(f.window(100L * MIB, 4096).isEmpty(), "far past the end");
            assertTrue(f.window(0, 0).isEmpty(), "empty");
            assertCode(ErrorCode.INVALID_ARGUMENT, () -> f.window(-1, 4096));
            assertEquals(1, ((LocalFile) f).windows());
        }
    }

    @Test
    void aWindowNeverSpansTwoMappings() {
        long edge = LocalFile.MAP_CHUNK;
        try (DatastoreFile f = ds.create("w")) {
            f.write(ByteBuffer.wrap(random(2 * MIB, 3)), edge - MIB);
            assertTrue(f.window(edge - 4096, 8192).isEmpty());
            byte[] before = random(4096, 4);
            byte[] after = random(4096, 5);
            putThroughWindow(f, edge - 4096, before);
            putThroughWindow(f, edge, after);
            assertArrayEquals(before, readBack(f, edge - 4096, 4096));
            assertArrayEquals(after, readBack(f, edge, 4096));
        }
    }

    @Test
    void windowsOfAReadOnlyOrClosedFileAreRefused() {
        try (DatastoreFile f = ds.create("w")) {
            f.write(ByteBuffer.wrap(random(MIB, 6)), 0);
        }
        try (DatastoreFile f = ds.open("w", false)) {
            assertCode(ErrorCode.READ_ONLY, () -> f.window(0, 4096));
        }
        DatastoreFile f = ds.open("w", true);
        f.close();
        assertCode(ErrorCode.DEVICE_UNAVAILABLE, () -> f.window(0, 4096));
    }

    /**
     * A window outlives what would unmap its chunk, the file's close or the eviction of its
     * chunk by newer ones, and its bytes still land; the chunks are unmapped after.
     */
    @Test
    void aWindowInUseKeepsItsMappingThroughEvictionAndClose() throws IOException {
        int chunks = LocalFile.MAX_MAPPED + 2;
        byte[] late = random(4096, 7);
        byte[] afterClose = random(4096, 8);
        DatastoreFile f = ds.create("w");
        try {
            for (int i = 0; i < chunks; i++) {
                f.write(ByteBuffer.wrap(new byte[8192]), (long) i * LocalFile.MAP_CHUNK); // sparse, 8 KiB a chunk
            }
            FileWindow first = f.window(0, 4096).orElseThrow();
            for (int i = 1; i < chunks; i++) {
                putThroughWindow(f, (long) i * LocalFile.MAP_CHUNK, random(4096, 100 + i));
            }
            assertEquals(LocalFile.MAX_MAPPED + 1, mappingsOf(dir.resolve("w")), "at most 32, and the evicted one in use");
            first.buffer().put(late); // chunk 0 was evicted meanwhile; still mapped for this window
            first.close();
            assertEquals(LocalFile.MAX_MAPPED, mappingsOf(dir.resolve("w")), "the evicted chunk unmapped once unused");
            FileWindow open = f.window(4096, 4096).orElseThrow();
            f.close();
            open.buffer().put(afterClose);
            open.close();
        } finally {
            f.close();
        }
        assertEquals(0, mappingsOf(dir.resolve("w")), "every chunk unmapped once the file and its windows are closed");
        try (DatastoreFile g = ds.open("w", false)) {
            assertArrayEquals(late, readBack(g, 0, 4096));
            assertArrayEquals(afterClose, readBack(g, 4096, 4096));
            for (int i = 1; i < chunks; i++) {
                assertArrayEquals(random(4096, 100 + i), readBack(g, (long) i * LocalFile.MAP_CHUNK, 4096));
            }
        }
    }

    /**
     * A window whose file another program cut short: the kernel's copy into it (what a socket
     * read does) fails with an I/O error instead of a fault, and {@link FileWindow#write}, which
     * goes through {@code pwrite}, still writes (extending the file again).
     */
    @Test
    void aWindowOfAFileCutShortFailsCleanly() throws IOException {
        Path source = dir.resolve("source");
        Files.write(source, random(MIB, 10));
        byte[] head = random(4096, 11);
        try (DatastoreFile f = ds.create("w")) {
            f.write(ByteBuffer.wrap(random(2 * MIB, 9)), 0);
            try (FileWindow w = f.window(MIB, MIB).orElseThrow()) {
                try (var other = java.nio.channels.FileChannel.open(dir.resolve("w"),
                        java.nio.file.StandardOpenOption.WRITE)) {
                    other.truncate(4096);
                }
                w.write(ByteBuffer.wrap(head));
                assertEquals(4096, w.buffer().position());
                try (var in = java.nio.channels.FileChannel.open(source)) {
                    assertThrows(IOException.class, () -> in.read(w.buffer(), 0));
                }
            }
            assertArrayEquals(head, readBack(f, MIB, 4096));
        }
    }

    @Test
    void aWindowsWriteGoesThroughTheFileAndAdvancesTheWindow() {
        try (DatastoreFile f = ds.create("w")) {
            f.write(ByteBuffer.wrap(new byte[MIB]), 0);
            byte[] a = random(1000, 12);
            byte[] b = random(3096, 13);
            try (FileWindow w = f.window(4096, 4096).orElseThrow()) {
                w.write(ByteBuffer.wrap(a));
                w.buffer().put(b); // the rest stored into the mapping
                assertCode(ErrorCode.INVALID_ARGUMENT, () -> w.write(ByteBuffer.allocate(1)));
            }
            assertArrayEquals(a, readBack(f, 4096, 1000));
            assertArrayEquals(b, readBack(f, 5096, 3096));
        }
    }

    /** @return how many mappings of the file this process has ({@code /proc/self/maps}) */
    static long mappingsOf(Path file) throws IOException {
        String name = file.toRealPath().toString();
        try (var lines = Files.lines(Path.of("/proc/self/maps"))) {
            return lines.filter(l -> l.endsWith(" " + name)).count();
        }
    }

    static boolean isZero(byte[] b) {
        for (byte x : b) {
            if (x != 0) {
                return false;
            }
        }
        return true;
    }

    @Test
    void errnoMapping() throws IOException {
        assertEquals(ErrorCode.DATASTORE_FULL, Errno.code(Errno.ENOSPC));
        assertEquals(ErrorCode.UNSUPPORTED, Errno.code(Errno.EOPNOTSUPP));
        assertEquals(ErrorCode.PERMISSION_DENIED, Errno.code(Errno.EACCES));
        assertEquals(ErrorCode.PERMISSION_DENIED, Errno.code(Errno.EPERM));
        assertEquals(ErrorCode.IO_ERROR, Errno.code(Errno.EIO));
        StorageException e = Errno.exception(Errno.ENOSPC, "write", Path.of("/x/y"));
        assertEquals("cannot write /x/y: No space left on device (errno 28)", e.getMessage());
        assertEquals(ErrorCode.DATASTORE_FULL, Errno.exception(new IOException("No space left on device"),
                "write", Path.of("/x")).code());
    }

    /** Descriptors of this process open on {@code p} (also once it is deleted). */
    private static long descriptorsOn(Path p) throws IOException {
        try (var s = Files.list(Path.of("/proc/self/fd"))) {
            return s.filter(fd -> {
                try {
                    return Files.readSymbolicLink(fd).toString().startsWith(p.toString());
                } catch (IOException e) {
                    return false; // closed meanwhile (the listing's own descriptor)
                }
            }).count();
        }
    }

    /**
     * A slice goes out through a real socket (sendfile) with the bytes the file holds, and
     * keeps the descriptor open after the file is closed and deleted, until the slice closes.
     */
    @Test
    void aSliceSendsFromTheFileAndPinsItsDescriptor() throws Exception {
        Path p = dir.resolve("s.img");
        byte[] data = random(2 * MIB, 5);
        LocalFile f = LocalFile.open("s.img", p, true, true, null);
        f.write(ByteBuffer.wrap(data), 0);
        io.strata.api.fs.FileSlice slice = f.slice(4096, MIB).orElseThrow();
        assertEquals(MIB, slice.length());
        f.close();
        Files.delete(p);
        assertCode(ErrorCode.DEVICE_UNAVAILABLE, () -> f.read(ByteBuffer.allocate(1), 0));
        assertCode(ErrorCode.DEVICE_UNAVAILABLE, () -> f.slice(0, 1));
        assertTrue(descriptorsOn(p) > 0, "pinned by the slice (the descriptor and its channel)");
        try (var server = java.nio.channels.ServerSocketChannel.open()
                .bind(new java.net.InetSocketAddress("127.0.0.1", 0));
                var client = java.nio.channels.SocketChannel.open(server.getLocalAddress());
                var peer = server.accept()) {
            var sender = java.util.concurrent.CompletableFuture.runAsync(() -> {
                try {
                    slice.transferTo(client);
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
            ByteBuffer got = ByteBuffer.allocate(MIB);
            while (got.hasRemaining() && peer.read(got) >= 0) {
                // reading what the slice sends
            }
            sender.get();
            assertArrayEquals(java.util.Arrays.copyOfRange(data, 4096, 4096 + MIB), got.array());
        }
        slice.close();
        slice.close(); // idempotent
        assertEquals(0, descriptorsOn(p), "released with the last slice");
    }

    @Test
    void aSlicePastTheEndOfTheFileFailsWhenSent() throws Exception {
        Path p = dir.resolve("short.img");
        try (LocalFile f = LocalFile.open("short.img", p, true, true, null)) {
            f.write(ByteBuffer.wrap(random(1000, 6)), 0);
            try (io.strata.api.fs.FileSlice s = f.slice(0, 4096).orElseThrow()) {
                var sink = java.nio.channels.Channels.newChannel(new java.io.ByteArrayOutputStream());
                IOException e = assertThrows(IOException.class, () -> s.transferTo(sink));
                assertTrue(e.getMessage().contains("ends before 4096"), e.getMessage());
            }
            assertCode(ErrorCode.INVALID_ARGUMENT, () -> f.slice(-1, 10));
        }
    }

    /** Direct buffers of odd sizes, each a slice starting past a few bytes, holding {@code data} in order. */
    static ByteBuffer[] pieces(byte[] data, int count) {
        ByteBuffer[] bufs = new ByteBuffer[count];
        int at = 0;
        for (int i = 0; i < count; i++) {
            int len = i == count - 1 ? data.length - at : data.length / count + (i % 3) - 1;
            ByteBuffer b = ByteBuffer.allocateDirect(len + 7);
            b.position(7);
            b.put(data, at, len).position(7);
            bufs[i] = b;
            at += len;
        }
        return bufs;
    }

    /** A counter of /proc/self/io: syscr (read calls) or syscw (write calls) of this process. */
    static long ioCalls(String key) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/io"))) {
            if (line.startsWith(key + ":")) {
                return Long.parseLong(line.substring(key.length() + 1).trim());
            }
        }
        throw new IllegalStateException(key + " is not in /proc/self/io");
    }

    @Test
    void buffersAreWrittenAndReadInOneSystemCallEach() throws IOException {
        assumeTrue(Files.isReadable(Path.of("/proc/self/io")));
        byte[] data = random(3 * MIB + 5, 7);
        try (DatastoreFile f = ds.create("v")) {
            ByteBuffer[] out = pieces(data, 32);
            long w0 = ioCalls("syscw");
            f.write(out, 4096 + 3);
            long writes = ioCalls("syscw") - w0;
            // one pwritev (a little allowance for other threads of the JVM); 32 one by one
            assertTrue(writes <= 4, writes + " write calls for 32 buffers");
            for (ByteBuffer b : out) {
                assertEquals(b.limit(), b.position(), "every buffer written to its limit");
            }

            ByteBuffer[] in = new ByteBuffer[32];
            for (int i = 0; i < in.length; i++) {
                in[i] = ByteBuffer.allocateDirect(data.length / 32 + 1);
            }
            long r0 = ioCalls("syscr");
            long r1 = ioCalls("syscr"); // what reading the counter itself costs
            long got = f.read(in, 4096 + 3);
            long reads = ioCalls("syscr") - r1 - (r1 - r0);
            assertTrue(reads <= 4, reads + " read calls for 32 buffers");
            assertEquals(data.length, got);
            ByteBuffer all = ByteBuffer.allocate(data.length);
            for (ByteBuffer b : in) {
                b.flip();
                all.put(b.limit(Math.min(b.limit(), all.remaining())));
            }
            assertArrayEquals(data, all.array());
        }
    }

    /**
     * {@code IOV_MAX} buffers fill a thread's native iovec array to its last entry; two threads
     * writing and reading at once each fill their own (one array shared between them would send
     * one thread's buffers to the other's range).
     */
    @Test
    void theMostBuffersOneCallTakesGoThroughEachThreadsOwnIovecArray() throws Exception {
        int n = Posix.IOV_MAX;
        byte[][] data = {random(n * 9, 11), random(n * 9, 12)};
        int span = data[0].length;
        java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(2);
        try (DatastoreFile f = ds.create("m")) {
            for (int round = 0; round < 20; round++) {
                List<java.util.concurrent.Future<byte[]>> done = new java.util.ArrayList<>();
                for (int t = 0; t < 2; t++) {
                    int which = (t + round) % 2;
                    long at = (long) t * span;
                    done.add(pool.submit(() -> {
                        ByteBuffer[] out = pieces(data[which], n);
                        f.write(out, at);
                        ByteBuffer[] in = new ByteBuffer[n];
                        for (int i = 0; i < n; i++) {
                            in[i] = ByteBuffer.allocateDirect(out[i].capacity() - 7);
                        }
                        assertEquals(span, f.read(in, at));
                        ByteBuffer all = ByteBuffer.allocate(span);
                        for (ByteBuffer b : in) {
                            all.put(b.flip());
                        }
                        return all.array();
                    }));
                }
                for (int t = 0; t < 2; t++) {
                    assertArrayEquals(data[(t + round) % 2], done.get(t).get(), "round " + round + ", thread " + t);
                }
            }
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void aScatteredReadStopsAtTheEndOfTheFileAndHeapBuffersWorkToo() {
        byte[] data = random(10_000, 8);
        try (DatastoreFile f = ds.create("s")) {
            // heap buffers among direct ones: written one by one, the same bytes in the end
            ByteBuffer[] out = {ByteBuffer.wrap(data, 0, 3000), ByteBuffer.allocateDirect(7000).put(data, 3000, 7000).flip()};
            f.write(out, 100);
            assertEquals(10_100, f.size());

            ByteBuffer[] in = {ByteBuffer.allocateDirect(4000), ByteBuffer.allocateDirect(4000), ByteBuffer.allocateDirect(4000)};
            assertEquals(9_900, f.read(in, 200), "fewer bytes only at the end of the file");
            assertEquals(4000, in[0].position());
            assertEquals(4000, in[1].position());
            assertEquals(1900, in[2].position());
            byte[] got = new byte[9_900];
            in[0].flip().get(got, 0, 4000);
            in[1].flip().get(got, 4000, 4000);
            in[2].flip().get(got, 8000, 1900);
            assertArrayEquals(java.util.Arrays.copyOfRange(data, 100, 10_000), got);
            ByteBuffer[] past = {ByteBuffer.allocateDirect(10), ByteBuffer.allocateDirect(10)};
            assertEquals(0, f.read(past, 20_000));

            ByteBuffer[] mixed = {ByteBuffer.allocate(50), ByteBuffer.allocateDirect(50)};
            assertEquals(100, f.read(mixed, 100));
            assertEquals(ByteBuffer.wrap(data, 50, 50), mixed[1].flip());

            assertCode(ErrorCode.INVALID_ARGUMENT, () -> f.read(new ByteBuffer[] {ByteBuffer.allocateDirect(1)}, -1));
            assertCode(ErrorCode.INVALID_ARGUMENT, () -> f.write(new ByteBuffer[] {ByteBuffer.allocateDirect(1)}, -1));
        }
    }

    @Test
    void vectoredWritesToAReadOnlyOrClosedFileAreRefused() {
        ds.create("ro").close();
        DatastoreFile f = ds.open("ro", false);
        ByteBuffer[] bufs = {ByteBuffer.allocateDirect(10), ByteBuffer.allocateDirect(10)};
        assertCode(ErrorCode.READ_ONLY, () -> f.write(bufs, 0));
        f.close();
        assertCode(ErrorCode.DEVICE_UNAVAILABLE, () -> f.write(bufs, 0));
        assertCode(ErrorCode.DEVICE_UNAVAILABLE, () -> f.read(bufs, 0));
        assertEquals(10, bufs[0].remaining(), "nothing consumed");
    }

    /** Waits up to 30 s for {@code cond}: a thread on a loaded machine may take a while to queue. */
    private static void await(java.util.function.BooleanSupplier cond, String what) throws InterruptedException {
        long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(30);
        while (!cond.getAsBoolean()) {
            assertTrue(System.nanoTime() < deadline, "timed out waiting until " + what);
            Thread.sleep(5);
        }
    }

    @Test
    void largeWritesTakeTurnsWhileSmallOnesGoStraightToTheFile() throws Exception {
        byte[] big = random(MIB, 7);
        byte[] heap = random(LocalFile.TURN_MIN, 8);
        byte[] small = random(LocalFile.TURN_MIN - 1, 9);
        java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(3);
        try (DatastoreFile df = ds.create("turns")) {
            LocalFile f = (LocalFile) df;
            f.setSize(4 * MIB);
            java.util.concurrent.Future<?> first;
            java.util.concurrent.Future<?> second;
            f.writeTurn.lock(); // another writer's turn, held for as long as the test says
            try {
                // 1 MiB in four direct buffers (one pwritev), as the NBD server hands over a payload
                ByteBuffer[] bufs = new ByteBuffer[4];
                for (int i = 0; i < bufs.length; i++) {
                    bufs[i] = ByteBuffer.allocateDirect(MIB / 4).put(big, i * MIB / 4, MIB / 4).flip();
                }
                first = pool.submit(() -> f.write(bufs, 0));
                await(() -> f.writeTurn.getQueueLength() == 1, "the 1 MiB write waits for its turn");
                second = pool.submit(() -> f.write(ByteBuffer.wrap(heap), MIB));
                await(() -> f.writeTurn.getQueueLength() == 2, "a write of TURN_MIN bytes waits too");
                // a smaller write never waits for a turn
                pool.submit(() -> f.write(ByteBuffer.wrap(small), 3 * MIB)).get(30, java.util.concurrent.TimeUnit.SECONDS);
                assertArrayEquals(small, readBack(f, 3 * MIB, small.length));
                assertArrayEquals(new byte[MIB], readBack(f, 0, MIB), "nothing of a waiting write has landed");
                assertEquals(2, f.turnWaits());
                assertTrue(!first.isDone() && !second.isDone());
            } finally {
                f.writeTurn.unlock();
            }
            first.get(30, java.util.concurrent.TimeUnit.SECONDS);
            second.get(30, java.util.concurrent.TimeUnit.SECONDS);
            assertArrayEquals(big, readBack(f, 0, MIB));
            assertArrayEquals(heap, readBack(f, MIB, heap.length));
            assertEquals(2, f.turnWaits(), "a write that finds the turn free counts no wait");
            f.write(ByteBuffer.wrap(heap), 2 * MIB);
            assertEquals(2, f.turnWaits());
        } finally {
            pool.shutdownNow();
        }
    }
}

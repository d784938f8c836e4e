package io.strata.vhd.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.api.format.DiskSpec;
import io.strata.api.format.Provisioning;
import io.strata.api.format.VirtualDisk;
import io.strata.api.fs.DatastoreFile;
import io.strata.testing.MemoryFile;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A VHD on a latency-bound file (VIMS on a LUN) starts reads and writes that need no metadata
 * change straight on the file's asynchronous calls, and runs the others (allocation, a
 * differencing block not wholly in the child) on threads of its own, never in the caller's.
 * Asserted on which calls the file saw and from which threads, and on every byte.
 */
class AsyncIoTest {
    private static final int MIB = 1 << 20;
    private static final int BLOCK = 2 * MIB;
    private final ExecutorService fileIo = Executors.newFixedThreadPool(4, r -> {
        Thread t = new Thread(r, "file-io");
        t.setDaemon(true);
        return t;
    });

    @AfterEach
    void stop() {
        fileIo.shutdownNow();
    }

    /**
     * A file in memory that says its I/O waits on a round trip: its asynchronous calls run on
     * threads of its own; its blocking calls record the thread that made them.
     */
    final class LatencyFile implements DatastoreFile {
        final MemoryFile f;
        final AtomicInteger asyncReads = new AtomicInteger();
        final AtomicInteger asyncWrites = new AtomicInteger();
        final AtomicInteger blockingCalls = new AtomicInteger();
        final Set<String> blockingThreads = ConcurrentHashMap.newKeySet();

        LatencyFile(MemoryFile f) {
            this.f = f;
        }

        private void blocking() {
            blockingCalls.incrementAndGet();
            blockingThreads.add(Thread.currentThread().getName().replaceAll("-\\d+$", ""));
        }

        @Override
        public boolean concurrentIo() {
            return true;
        }

        @Override
        public CompletableFuture<Void> readAsync(ByteBuffer dst, long position) {
            asyncReads.incrementAndGet();
            return CompletableFuture.runAsync(() -> {
                int start = dst.position();
                while (dst.hasRemaining()) {
                    if (f.read(dst, position + dst.position() - start) <= 0) {
                        throw new IllegalStateException("read past the end of " + f.name());
                    }
                }
            }, fileIo);
        }

        @Override
        public CompletableFuture<Void> writeAsync(ByteBuffer src, long position) {
            asyncWrites.incrementAndGet();
            return CompletableFuture.runAsync(() -> f.write(src, position), fileIo);
        }

        @Override
        public int read(ByteBuffer dst, long position) {
            blocking();
            return f.read(dst, position);
        }

        @Override
        public void write(ByteBuffer src, long position) {
            blocking();
            f.write(src, position);
        }

        @Override
        public String name() {
            return f.name();
        }

        @Override
        public boolean writable() {
            return f.writable();
        }

        @Override
        public long size() {
            return f.size();
        }

        @Override
        public long allocatedBytes() {
            return f.allocatedBytes();
        }

        @Override
        public void setSize(long size) {
            f.setSize(size);
        }

        @Override
        public void allocate(long position, long length) {
            f.allocate(position, length);
        }

        @Override
        public void punchHole(long position, long length) {
            f.punchHole(position, length);
        }

        @Override
        public void flush() {
            f.flush();
        }

        @Override
        public AutoCloseable lock(boolean exclusive) {
            return f.lock(exclusive);
        }

        @Override
        public Optional<Path> localPath() {
            return Optional.empty();
        }

        @Override
        public void close() {
        }
    }

    private static byte[] pattern(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    private static void write(VirtualDisk d, byte[] model, long off, byte[] data) {
        ByteBuffer src = ByteBuffer.wrap(data);
        d.writeAsync(src, off).join();
        assertFalse(src.hasRemaining(), "the write's buffer is at its limit once done");
        System.arraycopy(data, 0, model, (int) off, data.length);
    }

    private static byte[] read(VirtualDisk d, long off, int len) {
        ByteBuffer dst = ByteBuffer.allocateDirect(len);
        d.readAsync(dst, off).join();
        assertFalse(dst.hasRemaining(), "the read's buffer is at its limit once done");
        byte[] b = new byte[len];
        dst.flip().get(b);
        return b;
    }

    private static byte[] slice(byte[] model, long off, int len) {
        byte[] b = new byte[len];
        System.arraycopy(model, (int) off, b, 0, len);
        return b;
    }

    @Test
    void aDynamicDiskStartsIoInAllocatedBlocksOnTheFileAndAllocatesOnItsOwnThreads() {
        VhdFormat format = new VhdFormat();
        MemoryFile mem = new MemoryFile("d.vhd");
        LatencyFile file = new LatencyFile(mem);
        long size = 16L * MIB;
        byte[] model = new byte[(int) size];
        try (VirtualDisk d = format.create(file, new DiskSpec(size, Provisioning.THIN))) {
            assertTrue(d.concurrentIo(), "a disk on a latency-bound file says so");
            file.blockingCalls.set(0);
            file.blockingThreads.clear();

            // A first write into a block allocates it: the blocking path, never in this thread.
            write(d, model, 4096, pattern(4096, 1));
            assertTrue(file.blockingCalls.get() > 0, "the allocation wrote metadata");
            assertEquals(Set.of("strata-vhd-io"), file.blockingThreads, "allocation ran on the disk's own threads");

            // The block is allocated now: a write and a read go to the file without waiting.
            int blocking = file.blockingCalls.get();
            int writes = file.asyncWrites.get();
            write(d, model, 8192, pattern(4096, 2));
            assertEquals(writes + 1, file.asyncWrites.get());
            int reads = file.asyncReads.get();
            assertArrayEquals(slice(model, 0, 16384), read(d, 0, 16384));
            assertEquals(reads + 1, file.asyncReads.get());
            // An unallocated block reads as zeros without touching the file; a read across an
            // allocated block and a hole reads one piece from the file.
            reads = file.asyncReads.get();
            assertArrayEquals(new byte[65536], read(d, 5L * MIB, 65536));
            assertEquals(reads, file.asyncReads.get());
            assertArrayEquals(slice(model, BLOCK - 4096, 8192), read(d, BLOCK - 4096, 8192));
            assertEquals(reads + 1, file.asyncReads.get());
            assertEquals(blocking, file.blockingCalls.get(), "no blocking call for requests that need no metadata");

            // Many requests at once, some allocating, some not: every byte lands where it should.
            Random r = new Random(3);
            for (int round = 0; round < 4; round++) {
                List<CompletableFuture<Void>> all = new ArrayList<>();
                for (int i = 0; i < 32; i++) {
                    int len = 512 * (1 + r.nextInt(64));
                    // disjoint ranges within a round: slot i of 512 KiB
                    long off = (long) i * (size / 32) + 512L * r.nextInt(512);
                    byte[] data = pattern(len, round * 100 + i);
                    System.arraycopy(data, 0, model, (int) off, len);
                    all.add(d.writeAsync(ByteBuffer.wrap(data), off));
                }
                CompletableFuture.allOf(all.toArray(CompletableFuture[]::new)).join();
            }
            assertFalse(file.blockingThreads.contains("main"), "no blocking call in the caller's thread");
            assertArrayEquals(model, read(d, 0, (int) size));
            d.flush();
        }
        try (VirtualDisk d = format.open(mem, true)) {
            byte[] b = new byte[(int) size];
            d.read(ByteBuffer.wrap(b), 0);
            assertArrayEquals(model, b, "what the asynchronous writes left in the image, reopened");
        }
    }

    @Test
    void aDifferencingDiskGoesToTheFileOnlyForBlocksWhollyInTheChild() {
        VhdFormat format = new VhdFormat();
        MemoryStore store = new MemoryStore();
        long size = 8L * MIB;
        byte[] model = new byte[(int) size];
        try (VirtualDisk p = format.create(store.create("p.vhd"), new DiskSpec(size, Provisioning.THIN))) {
            byte[] base = pattern((int) size, 9);
            p.write(ByteBuffer.wrap(base), 0);
            System.arraycopy(base, 0, model, 0, base.length);
            p.flush();
        }
        MemoryFile mem = store.create("c.vhd");
        LatencyFile file = new LatencyFile(mem);
        try (VirtualDisk c = format.createChild(file, "p.vhd", store)) {
            assertTrue(c.concurrentIo());
            file.blockingThreads.clear(); // creating the child wrote its metadata from here
            // Part of a block: the child's bitmap changes, the rest comes from the parent.
            write(c, model, 4096, pattern(4096, 10));
            assertArrayEquals(slice(model, 0, 3 * 4096), read(c, 0, 3 * 4096));
            int writes = file.asyncWrites.get();
            int reads = file.asyncReads.get();
            // The whole second block: from then on it is wholly in the child.
            write(c, model, BLOCK, pattern(BLOCK, 11));
            write(c, model, BLOCK + 8192, pattern(4096, 12));
            assertEquals(writes + 1, file.asyncWrites.get(), "only the write into a full block went straight");
            assertArrayEquals(slice(model, BLOCK, 65536), read(c, BLOCK, 65536));
            assertEquals(reads + 1, file.asyncReads.get());
            assertFalse(file.blockingThreads.contains("main"), "no blocking call in the caller's thread");
            assertArrayEquals(model, read(c, 0, (int) size));
            c.flush();
        }
        try (VirtualDisk c = format.open(mem, true, store)) {
            byte[] b = new byte[(int) size];
            c.read(ByteBuffer.wrap(b), 0);
            assertArrayEquals(model, b);
        }
    }

    @Test
    void aDiskOnALocalFileKeepsTheBlockingPath() {
        VhdFormat format = new VhdFormat();
        MemoryFile mem = new MemoryFile("l.vhd");
        try (VirtualDisk d = format.create(mem, new DiskSpec(4L * MIB, Provisioning.THIN))) {
            assertFalse(d.concurrentIo());
            CompletableFuture<Void> f = d.writeAsync(ByteBuffer.wrap(pattern(4096, 5)), 0);
            assertTrue(f.isDone(), "done in the caller's thread");
            assertTrue(d.readAsync(ByteBuffer.allocate(4096), 0).isDone());
        }
    }
}

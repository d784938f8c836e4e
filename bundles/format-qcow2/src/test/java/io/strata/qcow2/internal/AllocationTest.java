package io.strata.qcow2.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.format.CheckReport;
import io.strata.api.format.DiskSpec;
import io.strata.api.format.Provisioning;
import io.strata.api.format.VirtualDisk;
import io.strata.api.fs.DatastoreFile;
import io.strata.testing.LocalFile;
import io.strata.testing.MemoryFile;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * How writes allocate: a partial write into a cluster that reads as zeros writes only its
 * own bytes; writers that allocate write their data outside the allocation lock, so one
 * slow data write holds up neither other allocations nor readers, while a second write to
 * the same cluster waits for the first to land; a data write that fails leaves no entry
 * pointing at it.
 */
class AllocationTest {
    private static final int CS = 65536;
    private static final long SIZE = 64L << 20;

    @TempDir
    Path dir;

    private static byte[] fill(int length, int value) {
        byte[] b = new byte[length];
        Arrays.fill(b, (byte) value);
        return b;
    }

    private static long dataBytesWritten(MemoryFile f) {
        return f.log().stream().filter(o -> o.kind().equals("write")).mapToLong(o -> o.data().length).sum();
    }

    @Test
    void aPartialWriteIntoAFreshClusterWritesOnlyItsOwnBytes() {
        MemoryFile f = new MemoryFile("p.qcow2");
        Qcow2Format format = new Qcow2Format();
        try (VirtualDisk d = format.create(f, new DiskSpec(SIZE, Provisioning.THIN))) {
            f.clearLog();
            for (int c = 0; c < 16; c++) {
                d.write(ByteBuffer.wrap(fill(4096, c + 1)), (long) c * 3 * CS + (c % 16) * 4096L);
            }
            d.flush();
            // 16 x 4 KiB of data, then one L2 table, one refcount block and the L1 entry; writing
            // whole clusters (zeros around each write) would be 16 x 64 KiB of data alone
            long written = dataBytesWritten(f);
            assertTrue(written <= 16 * 4096 + 2 * CS + 4096, "bytes written: " + written);
            for (int c = 0; c < 16; c++) {
                byte[] want = new byte[CS];
                System.arraycopy(fill(4096, c + 1), 0, want, (c % 16) * 4096, 4096);
                byte[] got = new byte[CS];
                d.read(ByteBuffer.wrap(got), (long) c * 3 * CS);
                assertArrayEquals(want, got, "cluster " + c);
            }
        }
        assertTrue(format.check(f, null, false).clean());
    }

    /** The same on a real file, where the last cluster ends short of its 64 KiB: qemu reads what Strata wrote. */
    @Test
    void qemuReadsAnImageWhoseClustersWereWrittenInPart() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(Fixtures.haveQemu(), "qemu-img not installed");
        Path image = dir.resolve("short.qcow2");
        byte[] model = new byte[(int) SIZE];
        Qcow2Format format = new Qcow2Format();
        try (VirtualDisk d = format.create(LocalFile.open(image, true), new DiskSpec(SIZE, Provisioning.THIN))) {
            java.util.Random r = new java.util.Random(3);
            for (int i = 0; i < 200; i++) {
                byte[] data = new byte[1 + r.nextInt(9000)];
                r.nextBytes(data);
                long off = (long) (r.nextDouble() * (SIZE - data.length));
                d.write(ByteBuffer.wrap(data), off);
                System.arraycopy(data, 0, model, (int) off, data.length);
            }
            byte[] last = fill(512, 0x6c);
            d.write(ByteBuffer.wrap(last), SIZE - CS); // a new cluster at the end of the file, written in part
            System.arraycopy(last, 0, model, (int) (SIZE - CS), 512);
        }
        assertTrue(Files.size(image) % CS != 0, "the file ends inside its last cluster: " + Files.size(image));
        Fixtures.assertQemuCheckClean(image);
        Path raw = dir.resolve("short.raw");
        Fixtures.run("qemu-img", "convert", "-f", "qcow2", "-O", "raw", image.toString(), raw.toString());
        assertArrayEquals(model, Files.readAllBytes(raw));
    }

    @Test
    void aPartialWriteOverBackingDataStillCopiesTheRestOfTheCluster() {
        Fixtures.MemoryStore store = new Fixtures.MemoryStore();
        Qcow2Format format = new Qcow2Format();
        try (VirtualDisk p = format.create(store.file("base.qcow2"), new DiskSpec(SIZE, Provisioning.THIN))) {
            p.write(ByteBuffer.wrap(fill(CS, 0x11)), 0);
        }
        MemoryFile top = store.file("top.qcow2");
        try (VirtualDisk d = format.createChild(top, "base.qcow2", store)) {
            d.write(ByteBuffer.wrap(fill(4096, 0x22)), 8192);
            d.write(ByteBuffer.wrap(fill(4096, 0x33)), CS + 8192); // nothing of the base under it
            byte[] got = new byte[2 * CS];
            d.read(ByteBuffer.wrap(got), 0);
            byte[] want = new byte[2 * CS];
            Arrays.fill(want, 0, CS, (byte) 0x11);
            Arrays.fill(want, 8192, 8192 + 4096, (byte) 0x22);
            Arrays.fill(want, CS + 8192, CS + 8192 + 4096, (byte) 0x33);
            assertArrayEquals(want, got);
        }
        assertTrue(format.check(top, store, false).clean());
    }

    @Test
    void aSlowAllocatingWriteHoldsUpNeitherOtherAllocationsNorReaders() throws Exception {
        GateFile f = new GateFile(new MemoryFile("g.qcow2"), (byte) 0xA1);
        Qcow2Format format = new Qcow2Format();
        try (VirtualDisk d = format.create(f, new DiskSpec(SIZE, Provisioning.THIN))) {
            f.armed = true;
            CompletableFuture<Void> slow = CompletableFuture.runAsync(
                    () -> d.write(ByteBuffer.wrap(fill(4096, 0xA1)), 0));
            assertTrue(f.entered.await(30, TimeUnit.SECONDS), "the slow write reached the file");
            try {
                // another cluster allocates and lands while the first write's data is still on its way
                CompletableFuture<Void> other = CompletableFuture.runAsync(
                        () -> d.write(ByteBuffer.wrap(fill(4096, 0xB2)), 5L * CS));
                other.get(30, TimeUnit.SECONDS);
                byte[] got = new byte[4096];
                d.read(ByteBuffer.wrap(got), 5L * CS);
                assertArrayEquals(fill(4096, 0xB2), got);
                // the slow write has not landed: its cluster still reads as zeros
                d.read(ByteBuffer.wrap(got), 0);
                assertArrayEquals(new byte[4096], got);
                // a second write into the slow write's cluster waits for it to land
                CompletableFuture<Void> same = CompletableFuture.runAsync(
                        () -> d.write(ByteBuffer.wrap(fill(4096, 0xC3)), 8192));
                assertThrows(TimeoutException.class, () -> same.get(300, TimeUnit.MILLISECONDS));
                assertFalse(slow.isDone());
                f.release.countDown();
                slow.get(30, TimeUnit.SECONDS);
                same.get(30, TimeUnit.SECONDS);
            } finally {
                f.release.countDown();
            }
            byte[] want = new byte[CS];
            Arrays.fill(want, 0, 4096, (byte) 0xA1);
            Arrays.fill(want, 8192, 8192 + 4096, (byte) 0xC3);
            byte[] got = new byte[CS];
            d.read(ByteBuffer.wrap(got), 0);
            assertArrayEquals(want, got);
        }
        CheckReport r = format.check(f.inner, null, false);
        assertTrue(r.clean(), r.toString());
    }

    @Test
    void aDataWriteThatFailsLeavesNoEntryPointingAtIt() {
        GateFile f = new GateFile(new MemoryFile("e.qcow2"), (byte) 0xE5);
        Qcow2Format format = new Qcow2Format();
        try (VirtualDisk d = format.create(f, new DiskSpec(SIZE, Provisioning.THIN))) {
            f.fail = true;
            StorageException e = assertThrows(StorageException.class,
                    () -> d.write(ByteBuffer.wrap(fill(4096, 0xE5)), 3L * CS));
            assertEquals(ErrorCode.IO_ERROR, e.code());
            byte[] got = new byte[CS];
            d.read(ByteBuffer.wrap(got), 3L * CS);
            assertArrayEquals(new byte[CS], got, "the failed write left the cluster unmapped");
            f.fail = false;
            d.write(ByteBuffer.wrap(fill(4096, 0x5E)), 3L * CS + 4096); // the cluster can be written again
            d.flush();
            d.read(ByteBuffer.wrap(got), 3L * CS);
            byte[] want = new byte[CS];
            Arrays.fill(want, 4096, 8192, (byte) 0x5E);
            assertArrayEquals(want, got);
        }
        CheckReport r = format.check(f.inner, null, false);
        assertTrue(r.errors().isEmpty(), r.toString());
        assertEquals(1, r.leaks().size(), "the failed write's cluster is a leak, nothing worse: " + r);
    }

    /**
     * One write over a fresh cluster and then a cluster copied from the parent, where the
     * copy fails: the fresh cluster reserved before it is released again, so a later write
     * to it does not wait forever for data that was never going to land.
     */
    @Test
    void aFailureLaterInTheWriteReleasesTheFreshClustersReservedBeforeIt() throws Exception {
        Fixtures.MemoryStore store = new Fixtures.MemoryStore();
        Qcow2Format format = new Qcow2Format();
        try (VirtualDisk p = format.create(store.file("base.qcow2"), new DiskSpec(SIZE, Provisioning.THIN))) {
            p.write(ByteBuffer.wrap(fill(CS, 0x11)), CS);
        }
        MemoryFile inner = store.file("top.qcow2");
        format.createChild(inner, "base.qcow2", store).close();
        GateFile f = new GateFile(inner, (byte) 0xE5);
        try (VirtualDisk d = format.open(f, false, store)) {
            byte[] data = new byte[CS + 4096];
            Arrays.fill(data, 0, CS, (byte) 0x01); // cluster 0 whole: written straight, after the lock
            Arrays.fill(data, CS, CS + 4096, (byte) 0xE5); // cluster 1 in part: copied from the base, fails
            f.fail = true;
            StorageException e = assertThrows(StorageException.class, () -> d.write(ByteBuffer.wrap(data), 0));
            assertEquals(ErrorCode.IO_ERROR, e.code());
            f.fail = false;
            CompletableFuture.runAsync(() -> d.write(ByteBuffer.wrap(fill(4096, 0x02)), 0)).get(30, TimeUnit.SECONDS);
            byte[] got = new byte[2 * CS];
            d.read(ByteBuffer.wrap(got), 0);
            byte[] want = new byte[2 * CS];
            Arrays.fill(want, 0, 4096, (byte) 0x02);
            Arrays.fill(want, CS, 2 * CS, (byte) 0x11);
            assertArrayEquals(want, got);
        }
        CheckReport r = format.check(inner, store, false);
        assertTrue(r.errors().isEmpty(), r.toString());
    }

    /**
     * A file that holds (or fails) writes whose first byte is a marker, until released:
     * stands in for a data write that takes its time on a slow datastore. It can also hold
     * the next read of one thread, once that read is done, until released.
     */
    static final class GateFile implements DatastoreFile {
        final MemoryFile inner;
        final byte marker;
        final CountDownLatch entered = new CountDownLatch(1);
        final CountDownLatch release = new CountDownLatch(1);
        volatile boolean armed;
        volatile boolean fail;
        volatile Thread readGate;
        final CountDownLatch readEntered = new CountDownLatch(1);
        final CountDownLatch readRelease = new CountDownLatch(1);

        GateFile(MemoryFile inner, byte marker) {
            this.inner = inner;
            this.marker = marker;
        }

        @Override
        public void write(ByteBuffer src, long position) {
            if (src.hasRemaining() && src.get(src.position()) == marker) {
                if (fail) {
                    throw new StorageException(ErrorCode.IO_ERROR, "injected: the device failed the write");
                }
                if (armed) {
                    entered.countDown();
                    try {
                        release.await();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }
            }
            inner.write(src, position);
        }

        @Override
        public String name() {
            return inner.name();
        }

        @Override
        public boolean writable() {
            return inner.writable();
        }

        @Override
        public long size() {
            return inner.size();
        }

        @Override
        public long allocatedBytes() {
            return inner.allocatedBytes();
        }

        @Override
        public int read(ByteBuffer dst, long position) {
            int n = inner.read(dst, position);
            if (Thread.currentThread() == readGate) {
                readGate = null;
                readEntered.countDown();
                try {
                    readRelease.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            return n;
        }

        @Override
        public void setSize(long size) {
            inner.setSize(size);
        }

        @Override
        public void allocate(long position, long length) {
            inner.allocate(position, length);
        }

        @Override
        public void punchHole(long position, long length) {
            inner.punchHole(position, length);
        }

        @Override
        public void flush() {
            inner.flush();
        }

        @Override
        public AutoCloseable lock(boolean exclusive) {
            return inner.lock(exclusive);
        }

        @Override
        public Optional<Path> localPath() {
            return Optional.empty();
        }

        @Override
        public void close() {
            inner.close();
        }
    }
}

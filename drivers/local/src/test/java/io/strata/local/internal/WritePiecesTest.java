package io.strata.local.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.api.StorageException;
import io.strata.api.device.BlockDevice;
import io.strata.api.device.StorageResource;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A buffered file LUN writes to its file in pieces of at most 256 KiB, whatever the caller
 * writes at once (a large write would leave one large page-cache folio that makes every later
 * small write into it dearer), and the bytes land where they belong. A write-through (a lease
 * record) goes through the file's {@code O_DSYNC} descriptor and flushes nothing else.
 */
class WritePiecesTest {
    @TempDir
    Path tmp;

    @Test
    void largeWritesReachTheFileInPiecesOfAtMost256KiB() throws IOException {
        Path f = tmp.resolve("lun.img");
        Files.write(f, new byte[8 << 20]);
        List<long[]> writes = new CopyOnWriteArrayList<>();
        try (FileChannel real = FileChannel.open(f, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            LocalBlockDevice.ChannelBackend backend = new LocalBlockDevice.ChannelBackend(f, new Recording(real, writes), null);
            byte[] data = new byte[(2 << 20) + 4096];
            new Random(3).nextBytes(data);
            ByteBuffer heap = ByteBuffer.wrap(data, 512, data.length - 512).slice(); // a slice: position 0, its own limit
            backend.write(heap, 4096);
            assertEquals(0, heap.remaining(), "all of it was written");
            assertEquals(heap.capacity(), heap.limit(), "the caller's limit is as it was");
            ByteBuffer direct = ByteBuffer.allocateDirect(300 << 10).put(data, 0, 300 << 10).flip();
            backend.write(direct, 6L << 20);
            backend.write(ByteBuffer.wrap(data, 0, 4096), 7L << 20); // a small one: one write
            long largest = writes.stream().mapToLong(w -> w[1]).max().orElse(0);
            assertTrue(largest <= 256 << 10 && LocalBlockDevice.ChannelBackend.MAX_PIECE == 256 << 10,
                    "a write of " + largest + " bytes reached the file at once");
            assertTrue(writes.size() >= 9 + 2 + 1, writes.size() + " writes");
            long[] first = writes.get(0);
            assertEquals(4096, first[0]);
            byte[] back = Files.readAllBytes(f);
            byte[] want = new byte[data.length - 512];
            System.arraycopy(data, 512, want, 0, want.length);
            byte[] got = new byte[want.length];
            System.arraycopy(back, 4096, got, 0, got.length);
            assertArrayEquals(want, got);
            System.arraycopy(back, 6 << 20, got = new byte[300 << 10], 0, got.length);
            byte[] want2 = new byte[300 << 10];
            System.arraycopy(data, 0, want2, 0, want2.length);
            assertArrayEquals(want2, got);

            // a piece that fails: a typed error, and the caller's buffer keeps its limit
            Recording failing = new Recording(real, writes);
            failing.failFrom = writes.size() + 2;
            LocalBlockDevice.ChannelBackend broken = new LocalBlockDevice.ChannelBackend(f, failing, null);
            ByteBuffer again = ByteBuffer.wrap(data);
            assertThrows(StorageException.class, () -> broken.write(again, 0));
            assertEquals(data.length, again.limit(), "the buffer's limit after a failed piece");
        }
    }

    @Test
    void aWriteThroughGoesThroughTheDsyncDescriptorAndForcesNothing() throws IOException {
        Path f = tmp.resolve("lun.img");
        Files.write(f, new byte[4 << 20]);
        List<long[]> plain = new CopyOnWriteArrayList<>();
        List<long[]> synced = new CopyOnWriteArrayList<>();
        try (FileChannel real = FileChannel.open(f, StandardOpenOption.READ, StandardOpenOption.WRITE);
                FileChannel realSync = FileChannel.open(f, StandardOpenOption.WRITE, StandardOpenOption.DSYNC)) {
            Recording main = new Recording(real, plain);
            Recording sync = new Recording(realSync, synced);
            LocalBlockDevice.ChannelBackend backend = new LocalBlockDevice.ChannelBackend(f, main, sync);
            byte[] data = new byte[1 << 20];
            new Random(5).nextBytes(data);
            backend.write(ByteBuffer.wrap(data), 1 << 20); // dirty data of the guest's
            int before = plain.size();
            byte[] record = new byte[512];
            new Random(6).nextBytes(record);
            ByteBuffer r = ByteBuffer.wrap(record);
            backend.writeThrough(r, 0);
            assertEquals(0, r.remaining());
            assertEquals(1, synced.size(), "the record went through the O_DSYNC descriptor");
            assertArrayEquals(new long[] {0, 512}, synced.get(0));
            assertEquals(before, plain.size(), "nothing through the plain descriptor");
            assertEquals(0, main.forces + sync.forces, "no fsync: the guest's dirty data is not the record's to flush");
            byte[] back = Files.readAllBytes(f);
            assertArrayEquals(record, Arrays.copyOf(back, 512));
            assertArrayEquals(data, Arrays.copyOfRange(back, 1 << 20, 2 << 20));
        }
    }

    @Test
    void aFileLunOpensItsFileASecondTimeWithODsync() throws IOException {
        Path f = tmp.resolve("luns/lun.img");
        StorageResource r = new LocalDriver().attach("lun",
                Map.of("kind", "file-lun", "path", f.toString(), "size", "1M"));
        try (BlockDevice d = (BlockDevice) r.openDevice("lun")) {
            byte[] record = new byte[512];
            new Random(7).nextBytes(record);
            d.writeThrough(ByteBuffer.wrap(record), 4096);
            ByteBuffer back = ByteBuffer.allocate(512);
            d.read(back, 4096);
            assertArrayEquals(record, back.array());
            // the kernel's own word on the descriptors this process holds on the file
            int dsync = 0;
            int plainRw = 0;
            try (var fds = Files.list(Path.of("/proc/self/fd"))) {
                for (Path fd : fds.toList()) {
                    Path target;
                    try {
                        target = Files.readSymbolicLink(fd);
                    } catch (IOException gone) {
                        continue;
                    }
                    if (!target.equals(f.toRealPath())) {
                        continue;
                    }
                    String flags = Files.readAllLines(Path.of("/proc/self/fdinfo/" + fd.getFileName())).stream()
                            .filter(l -> l.startsWith("flags:")).findFirst().orElseThrow().substring(6).trim();
                    if ((Integer.parseInt(flags, 8) & 010000) != 0) { // O_DSYNC
                        dsync++;
                    } else {
                        plainRw++;
                    }
                }
            }
            assertEquals(1, dsync, "one O_DSYNC descriptor for write-through");
            assertEquals(1, plainRw, "one plain descriptor for the guest's I/O");
        }
    }

    /** A channel that passes everything to a real one and notes each positional write (offset, length). */
    private static final class Recording extends FileChannel {
        private final FileChannel d;
        private final List<long[]> writes;
        /** Calls of {@link #force}. */
        int forces;
        /** Writes from this one on (counting all noted) fail as a full disk would. */
        int failFrom = Integer.MAX_VALUE;

        Recording(FileChannel d, List<long[]> writes) {
            this.d = d;
            this.writes = writes;
        }

        @Override
        public int write(ByteBuffer src, long position) throws IOException {
            if (writes.size() + 1 >= failFrom) {
                throw new IOException("No space left on device");
            }
            writes.add(new long[] {position, src.remaining()});
            return d.write(src, position);
        }

        @Override
        public int read(ByteBuffer dst, long position) throws IOException {
            return d.read(dst, position);
        }

        @Override
        public int read(ByteBuffer dst) throws IOException {
            return d.read(dst);
        }

        @Override
        public long read(ByteBuffer[] dsts, int offset, int length) throws IOException {
            return d.read(dsts, offset, length);
        }

        @Override
        public int write(ByteBuffer src) throws IOException {
            throw new IOException("only positional writes are expected");
        }

        @Override
        public long write(ByteBuffer[] srcs, int offset, int length) throws IOException {
            throw new IOException("only positional writes are expected");
        }

        @Override
        public long position() throws IOException {
            return d.position();
        }

        @Override
        public FileChannel position(long newPosition) throws IOException {
            d.position(newPosition);
            return this;
        }

        @Override
        public long size() throws IOException {
            return d.size();
        }

        @Override
        public FileChannel truncate(long size) throws IOException {
            d.truncate(size);
            return this;
        }

        @Override
        public void force(boolean metaData) throws IOException {
            forces++;
            d.force(metaData);
        }

        @Override
        public long transferTo(long position, long count, WritableByteChannel target) throws IOException {
            return d.transferTo(position, count, target);
        }

        @Override
        public long transferFrom(ReadableByteChannel src, long position, long count) throws IOException {
            return d.transferFrom(src, position, count);
        }

        @Override
        public MappedByteBuffer map(MapMode mode, long position, long size) throws IOException {
            return d.map(mode, position, size);
        }

        @Override
        public FileLock lock(long position, long size, boolean shared) throws IOException {
            return d.lock(position, size, shared);
        }

        @Override
        public FileLock tryLock(long position, long size, boolean shared) throws IOException {
            return d.tryLock(position, size, shared);
        }

        @Override
        protected void implCloseChannel() throws IOException {
            d.close();
        }
    }
}

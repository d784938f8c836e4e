package io.strata.nbd.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.strata.api.Bounds;
import io.strata.api.ErrorCode;
import io.strata.api.format.Extent;
import io.strata.api.format.Provisioning;
import io.strata.api.format.VirtualDisk;
import io.strata.api.service.VolumeRef;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.WritableByteChannel;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Arbitrary client bytes through a real {@link Connection} (handshake and transmission),
 * over an in-memory wire and an in-memory 2 MiB volume, with workers and senders run inline
 * on the connection's thread, so one iteration is one thread and no socket. Whatever the
 * bytes, the connection must end cleanly (a reply, an error reply or a disconnect) within a
 * minute: no hang, no unexpected exception, nothing left of the pools' buffers, the wire
 * closed, and the greeting sent first.
 * Seeds: {@code src/test/resources/io/strata/nbd/internal/ConnectionFuzzTestInputs/connection/}.
 */
class ConnectionFuzzTest {
    static final long SIZE = 2L << 20;
    /** 2 MiB for replies, 1 MiB a connection: 1 MiB reads are queued, 2 MiB ones streamed. */
    static final BufferPool REPLIES = new BufferPool(Resources.CHUNK, 2L << 20);
    static final BufferPool CONNECTIONS = new BufferPool(Resources.CHUNK, 2L * Connection.BUF);
    static final Resources RESOURCES = new Resources(Runnable::run, Runnable::run, REPLIES, CONNECTIONS,
            (1 << 20) / Resources.CHUNK, true, Resources.newZeros());
    static final MemoryDisk DISK = new MemoryDisk();
    /**
     * Runs each input's connection, so an input that hangs it fails the target in a minute
     * (libFuzzer's own per-input timeout is 20 minutes, and a thread blocked uninterruptibly
     * would not heed JUnit's {@code @Timeout}). A CI run once hung that way.
     */
    static final ExecutorService RUNNER = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "fuzz-connection");
        t.setDaemon(true);
        return t;
    });
    static final int HUNG_SECONDS = 60;
    static final Export EXPORT = new Export("fuzz", new VolumeRef("local", "fuzz"), false, new Volumes() {
        @Override
        public VirtualDisk open(VolumeRef ref, boolean readOnly) {
            return DISK;
        }

        @Override
        public boolean fastZero(VolumeRef ref) {
            return true;
        }
    });
    static final Export READ_ONLY = new Export("ro", new VolumeRef("local", "ro"), true, new Volumes() {
        @Override
        public VirtualDisk open(VolumeRef ref, boolean readOnly) {
            return DISK;
        }

        @Override
        public boolean fastZero(VolumeRef ref) {
            return false;
        }
    });

    static final Connection.Exports EXPORTS = new Connection.Exports() {
        @Override
        public Export find(String name) {
            if (name == null) {
                return null;
            }
            return name.equals("fuzz") ? EXPORT : name.equals("ro") ? READ_ONLY : null;
        }

        @Override
        public List<Export> all() {
            return List.of(EXPORT, READ_ONLY);
        }

        @Override
        public void opened(Connection c, Export e) {
        }

        @Override
        public void closed(Connection c) {
        }

        /** With {@code send.overlap} on: the hand-over of batches to a sender is the path with more to get wrong. */
        @Override
        public boolean sendOverlap() {
            return true;
        }
    };

    @FuzzTest(maxDuration = "10s")
    void connection(byte[] input) throws InterruptedException {
        MemoryWire wire = new MemoryWire(input);
        Connection c = new Connection(wire, EXPORTS, "fuzz", RESOURCES);
        Future<?> run = RUNNER.submit(c);
        try {
            run.get(HUNG_SECONDS, TimeUnit.SECONDS);
        } catch (TimeoutException e) {
            throw new AssertionError("the connection hung on this input (no end in " + HUNG_SECONDS + " s)");
        } catch (ExecutionException e) {
            if (e.getCause() instanceof Error err) {
                throw err;
            }
            throw (RuntimeException) e.getCause(); // run() throws nothing checked
        }
        assertNull(c.unexpected, () -> "unexpected failure: " + c.unexpected);
        assertFalse(wire.isOpen(), "the connection ended without closing its wire");
        assertEquals(0, REPLIES.inUseBytes(), "reply buffers leaked");
        assertEquals(0, CONNECTIONS.inUseBytes(), "connection buffers leaked");
        assertTrue(wire.written >= 18, "no greeting");
        assertEquals(Protocol.NBDMAGIC, wire.first.getLong(0));
    }

    /** The client's bytes in, the server's bytes counted (the greeting kept); shutdown ends both. */
    static final class MemoryWire implements Wire {
        private final ByteBuffer in;
        final ByteBuffer first = ByteBuffer.allocate(18);
        long written;
        private boolean shut;
        private boolean open = true;

        MemoryWire(byte[] input) {
            in = ByteBuffer.wrap(input);
        }

        /**
         * When set, a read of several buffers scatters over them as {@code readv} does, at most
         * this many bytes a call (what has arrived); unset, it fills the first with room.
         */
        java.util.function.IntSupplier scatter;
        /** Reads the server made, of one buffer or several. */
        int reads;
        /** When not null, each write the server made: how much of the input had been read then, and its bytes. */
        List<int[]> writeLog;

        @Override
        public long read(ByteBuffer[] dsts) throws java.io.IOException {
            if (scatter == null) {
                return Wire.super.read(dsts);
            }
            if (!open) {
                throw new ClosedChannelException();
            }
            reads++;
            if (shut || !in.hasRemaining()) {
                return -1;
            }
            int budget = Math.max(1, scatter.getAsInt());
            long total = 0;
            for (ByteBuffer b : dsts) {
                int n = Math.min(budget, Math.min(b.remaining(), in.remaining()));
                ByteBuffer part = in.slice();
                part.limit(n);
                b.put(part);
                in.position(in.position() + n);
                budget -= n;
                total += n;
            }
            return total;
        }

        @Override
        public int read(ByteBuffer dst) throws ClosedChannelException {
            if (!open) {
                throw new ClosedChannelException();
            }
            reads++;
            if (shut || !in.hasRemaining()) {
                return -1;
            }
            int n = Math.min(dst.remaining(), in.remaining());
            ByteBuffer part = in.slice();
            part.limit(n);
            dst.put(part);
            in.position(in.position() + n);
            return n;
        }

        @Override
        public int write(ByteBuffer src) throws ClosedChannelException {
            if (!open || shut) {
                throw new ClosedChannelException();
            }
            int n = src.remaining();
            if (writeLog != null && n > 0) {
                writeLog.add(new int[] {in.position(), n});
            }
            if (all != null) {
                ByteBuffer copy = src.duplicate();
                byte[] b = new byte[n];
                copy.get(b);
                all.write(b, 0, n);
            }
            while (first.hasRemaining() && src.hasRemaining()) {
                first.put(src.get());
            }
            src.position(src.limit());
            written += n;
            return n;
        }

        @Override
        public long write(ByteBuffer[] srcs, int offset, int length) throws ClosedChannelException {
            long n = 0;
            for (int i = offset; i < offset + length; i++) {
                n += write(srcs[i]);
            }
            return n;
        }

        @Override
        public long write(ByteBuffer[] srcs) throws ClosedChannelException {
            return write(srcs, 0, srcs.length);
        }

        @Override
        public boolean isOpen() {
            return open;
        }

        @Override
        public void close() {
            open = false;
        }

        @Override
        public void shutdown() {
            shut = true;
        }

        @Override
        public WritableByteChannel sink() {
            return this;
        }

        /**
         * What {@link #readArrived} finds arrived: everything left (the default), or, once set,
         * at most this many bytes on the next ask and none after (a payload still on its way).
         */
        int firstAvailable = Integer.MAX_VALUE;
        /** When set, each ask within {@link #readArrived} finds at most this many bytes (a socket filling in bursts). */
        java.util.function.IntSupplier arrivals;
        /** Everything the server wrote, when not null. */
        java.io.ByteArrayOutputStream all;
        /** How many times the server read what had arrived. */
        int readsArrived;

        @Override
        public boolean readsArrived() {
            return true;
        }

        /** As a socket does: asks what has arrived and reads it, until nothing more has or dst is full. */
        @Override
        public int readArrived(ByteBuffer dst) throws ClosedChannelException {
            readsArrived++;
            int total = 0;
            while (dst.hasRemaining()) {
                if (open && (shut || !in.hasRemaining())) {
                    return total > 0 ? total : -1;
                }
                int arrived = arrived();
                if (arrived == 0) {
                    break;
                }
                int limit = dst.limit();
                dst.limit(dst.position() + Math.min(arrived, dst.remaining()));
                try {
                    total += read(dst);
                } finally {
                    dst.limit(limit);
                }
            }
            return total;
        }

        private int arrived() {
            if (arrivals != null) {
                return Math.min(in.remaining(), arrivals.getAsInt());
            }
            int n = Math.min(in.remaining(), firstAvailable);
            if (firstAvailable != Integer.MAX_VALUE) {
                firstAvailable = 0; // what follows "has not arrived"
            }
            return n;
        }
    }

    /** A 2 MiB volume in memory, range-checked like the formats. */
    static final class MemoryDisk implements VirtualDisk {
        private final byte[] data = new byte[(int) SIZE];

        @Override
        public String format() {
            return "memory";
        }

        @Override
        public long virtualSize() {
            return SIZE;
        }

        @Override
        public Provisioning provisioning() {
            return Provisioning.THIN;
        }

        @Override
        public boolean readOnly() {
            return false;
        }

        @Override
        public void read(ByteBuffer dst, long offset) {
            Bounds.checkRange(offset, dst.remaining(), SIZE, "read");
            dst.put(data, (int) offset, dst.remaining());
        }

        @Override
        public void write(ByteBuffer src, long offset) {
            Bounds.checkRange(offset, src.remaining(), SIZE, "write");
            src.get(data, (int) offset, src.remaining());
        }

        @Override
        public void flush() {
        }

        /** Windows into the array for ranges starting on an even 4 KiB block (others decline). */
        @Override
        public java.util.Optional<io.strata.api.fs.FileWindow> window(long offset, int length) {
            Bounds.checkRange(offset, length, SIZE, "write");
            if (length <= 0 || (offset >> 12 & 1) != 0) {
                return java.util.Optional.empty();
            }
            ByteBuffer b = ByteBuffer.wrap(data, (int) offset, length).slice();
            windows++;
            return java.util.Optional.of(new io.strata.api.fs.FileWindow() {
                @Override
                public ByteBuffer buffer() {
                    return b;
                }

                @Override
                public void write(ByteBuffer src) {
                    if (offset == failWritesAt) {
                        throw new io.strata.api.StorageException(ErrorCode.DATASTORE_FULL, "full (test)");
                    }
                    b.put(src);
                }

                @Override
                public void close() {
                }
            });
        }

        /** Windows handed out. */
        volatile long windows;
        /** A window at this offset fails its {@code write} (bytes already in memory): a full datastore. */
        volatile long failWritesAt = -1;

        @Override
        public void trim(long offset, long length) {
            Bounds.checkRange(offset, length, SIZE, "trim");
            java.util.Arrays.fill(data, (int) offset, (int) (offset + length), (byte) 0);
        }

        @Override
        public List<Extent> blockStatus(long offset, long length) {
            Bounds.checkRange(offset, length, SIZE, "block status");
            long half = SIZE / 2;
            return List.of(new Extent(0, half, true, false), new Extent(half, half, false, true));
        }

        @Override
        public void resize(long newSize) {
            throw new io.strata.api.StorageException(ErrorCode.UNSUPPORTED, "no resize");
        }

        @Override
        public long allocatedBytes() {
            return SIZE;
        }

        @Override
        public void close() {
        }
    }
}

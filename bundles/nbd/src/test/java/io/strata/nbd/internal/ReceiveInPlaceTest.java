package io.strata.nbd.internal;

import static io.strata.nbd.internal.Protocol.*;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.api.format.VirtualDisk;
import io.strata.api.service.VolumeRef;
import io.strata.nbd.internal.ConnectionFuzzTest.MemoryDisk;
import io.strata.nbd.internal.ConnectionFuzzTest.MemoryWire;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Large writes received straight into the volume's {@link io.strata.api.fs.FileWindow}
 * ({@code Connection.receiveInPlace}), deterministically: a real {@link Connection} over an
 * in-memory wire that says how much of the client's stream "has arrived", and an in-memory
 * disk that offers windows for ranges starting on an even 4 KiB block and declines the rest.
 * Every byte must land where the client wrote it, by either path, and every write be answered.
 */
class ReceiveInPlaceTest {
    private final MemoryDisk disk = new MemoryDisk();
    private final Connection.Exports exports = exportsOf(exportOf(disk, false));

    static Export exportOf(MemoryDisk disk, boolean readOnly) {
        return new Export("w", new VolumeRef("local", "w"), readOnly, new Volumes() {
            @Override
            public VirtualDisk open(VolumeRef ref, boolean ro) {
                return disk;
            }

            @Override
            public boolean fastZero(VolumeRef ref) {
                return true;
            }
        });
    }

    private static Connection.Exports exportsOf(Export export) {
        return exportsOf(export, true);
    }

    static Connection.Exports exportsOf(Export export, boolean inPlace) {
        return new Connection.Exports() {
            @Override
            public Export find(String name) {
                return "w".equals(name) ? export : null;
            }

            @Override
            public List<Export> all() {
                return List.of(export);
            }

            @Override
            public void opened(Connection c, Export e) {
            }

            @Override
            public void closed(Connection c) {
            }

            @Override
            public boolean receiveInPlace() {
                return inPlace;
            }
        };
    }

    /** A client's stream: the handshake (EXPORT_NAME "w", no zeroes), then requests. */
    static final class Stream {
        final ByteArrayOutputStream out = new ByteArrayOutputStream();
        final ByteBuffer scratch = ByteBuffer.allocate(64);

        Stream() {
            scratch.clear().putInt(CLIENT_FIXED_NEWSTYLE | CLIENT_NO_ZEROES);
            byte[] name = "w".getBytes(StandardCharsets.UTF_8);
            scratch.putLong(IHAVEOPT).putInt(OPT_EXPORT_NAME).putInt(name.length).put(name);
            flushScratch();
        }

        Stream request(int type, int flags, long cookie, long offset, int length, byte[] payload) {
            scratch.clear().putInt(REQUEST_MAGIC).putShort((short) flags).putShort((short) type).putLong(cookie)
                    .putLong(offset).putInt(length);
            flushScratch();
            if (payload != null) {
                out.write(payload, 0, payload.length);
            }
            return this;
        }

        private void flushScratch() {
            out.write(scratch.array(), 0, scratch.position());
        }
    }

    static byte[] data(int n, int seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    /** Runs the session to its end and returns what the server wrote after the handshake. */
    static ByteBuffer run(MemoryWire wire, Connection c) {
        wire.all = new ByteArrayOutputStream();
        c.run();
        assertNull(c.unexpected, () -> "unexpected failure: " + c.unexpected);
        assertFalse(wire.isOpen(), "the session did not end");
        ByteBuffer replies = ByteBuffer.wrap(wire.all.toByteArray());
        replies.position(18 + 10); // greeting, then the export's size and flags (no zeroes)
        return replies;
    }

    private static void assertReplies(ByteBuffer replies, long... cookies) {
        for (long cookie : cookies) {
            assertEquals(SIMPLE_REPLY_MAGIC, replies.getInt());
            assertEquals(0, replies.getInt(), "error for request " + cookie);
            assertEquals(cookie, replies.getLong());
        }
        assertFalse(replies.hasRemaining(), "more replies than requests");
    }

    private void assertOnDisk(byte[] expected, long offset) {
        ByteBuffer b = ByteBuffer.allocate(expected.length);
        disk.read(b, offset);
        assertArrayEquals(expected, b.array(), "bytes at " + offset);
    }

    @Test
    void largeWritesGoIntoWindowsWhereOffered() {
        byte[] a = data(1 << 20, 1); // block 0: a window
        byte[] b = data(256 << 10, 2); // block 1 (odd): declined, the ordinary path
        byte[] c = data(1 << 20, 3); // block 256: a window, with FUA
        byte[] small = data(64 << 10, 4); // under the window's threshold
        Stream s = new Stream()
                .request(CMD_WRITE, 0, 1, 0, a.length, a)
                .request(CMD_WRITE, 0, 2, 4096, b.length, b)
                .request(CMD_WRITE, CMD_FLAG_FUA, 3, 1 << 20, c.length, c)
                .request(CMD_WRITE, 0, 4, 0, small.length, small)
                .request(CMD_DISC, 0, 5, 0, 0, null);
        MemoryWire wire = new MemoryWire(s.out.toByteArray());
        Connection conn = new Connection(wire, exports, "test", ConnectionFuzzTest.RESOURCES);
        assertReplies(run(wire, conn), 1, 2, 3, 4);

        assertEquals(2, conn.windowWrites(), "the two writes on even blocks, no others");
        assertEquals(2, disk.windows);
        byte[] first = a.clone();
        System.arraycopy(b, 0, first, 4096, b.length);
        System.arraycopy(small, 0, first, 0, small.length);
        assertOnDisk(first, 0);
        assertOnDisk(c, 1 << 20);
    }

    /** The window takes what has arrived; the rest of the payload, still on its way, goes the ordinary way. */
    @Test
    void aPayloadStillArrivingIsFinishedOutsideTheWindow() {
        byte[] a = data(1 << 20, 5);
        byte[] next = data(128 << 10, 6);
        Stream s = new Stream()
                .request(CMD_WRITE, 0, 7, 0, a.length, a)
                .request(CMD_WRITE, 0, 8, 1 << 20, next.length, next)
                .request(CMD_DISC, 0, 9, 0, 0, null);
        MemoryWire wire = new MemoryWire(s.out.toByteArray());
        wire.firstAvailable = 100_000;
        Connection conn = new Connection(wire, exports, "test", ConnectionFuzzTest.RESOURCES);
        assertReplies(run(wire, conn), 7, 8);

        assertEquals(1, conn.windowWrites(), "the first write's start only: nothing more arrived after");
        assertOnDisk(a, 0);
        assertOnDisk(next, 1 << 20);
        byte[] rest = new byte[(int) ConnectionFuzzTest.SIZE - (1 << 20) - next.length];
        assertOnDisk(rest, (1 << 20) + next.length); // nothing written past the payloads
    }

    /** A window that cannot take the bytes already read: the write fails, its payload is skipped, the session goes on. */
    @Test
    void aWindowThatFailsFailsItsWriteOnly() {
        disk.failWritesAt = 0;
        byte[] a = data(1 << 20, 8);
        byte[] next = data(256 << 10, 9);
        Stream s = new Stream()
                .request(CMD_WRITE, 0, 1, 0, a.length, a)
                .request(CMD_WRITE, 0, 2, 1 << 20, next.length, next)
                .request(CMD_DISC, 0, 3, 0, 0, null);
        MemoryWire wire = new MemoryWire(s.out.toByteArray());
        Connection conn = new Connection(wire, exports, "test", ConnectionFuzzTest.RESOURCES);
        ByteBuffer replies = run(wire, conn);
        assertEquals(SIMPLE_REPLY_MAGIC, replies.getInt());
        assertEquals(ENOSPC, replies.getInt());
        assertEquals(1, replies.getLong());
        assertReplies(replies, 2);
        assertOnDisk(new byte[a.length], 0);
        assertOnDisk(next, 1 << 20);
    }

    /**
     * Random sessions: writes of random sizes (some over the window threshold, some under) at
     * random offsets, some with FUA, flushes between, and a socket that reports what has arrived
     * in random bursts (sometimes nothing). Whatever mix of windows, partial windows and ordinary
     * writes results, the disk must equal a model of the writes and every request be answered.
     */
    @Test
    void randomSessionsLandEveryByteWhereItWasWritten() {
        int size = (int) ConnectionFuzzTest.SIZE;
        long windowsSeen = 0;
        for (int seed = 0; seed < 40; seed++) {
            Random rnd = new Random(seed);
            MemoryDisk d = new MemoryDisk();
            byte[] model = new byte[size];
            Export e = exportOf(d, false);
            Stream s = new Stream();
            int requests = 20 + rnd.nextInt(20);
            long[] cookies = new long[requests];
            for (int i = 0; i < requests; i++) {
                cookies[i] = 1000L * seed + i;
                if (rnd.nextInt(8) == 0) {
                    s.request(CMD_FLUSH, 0, cookies[i], 0, 0, null);
                    continue;
                }
                int n = rnd.nextBoolean() ? 1 + rnd.nextInt(64 << 10) : (128 << 10) + rnd.nextInt(size / 2);
                int offset = rnd.nextBoolean() ? rnd.nextInt(size - n + 1) : (rnd.nextInt((size - n) / 4096 + 1) * 4096);
                byte[] b = data(n, seed * 100 + i);
                System.arraycopy(b, 0, model, offset, n);
                s.request(CMD_WRITE, rnd.nextInt(4) == 0 ? CMD_FLAG_FUA : 0, cookies[i], offset, n, b);
            }
            s.request(CMD_DISC, 0, 0, 0, 0, null);
            MemoryWire wire = new MemoryWire(s.out.toByteArray());
            Random bursts = new Random(seed + 7);
            wire.arrivals = () -> bursts.nextInt(4) == 0 ? 0 : 1 + bursts.nextInt(512 << 10);
            Connection conn = new Connection(wire, exportsOf(e), "test", ConnectionFuzzTest.RESOURCES);
            assertReplies(run(wire, conn), cookies);
            ByteBuffer all = ByteBuffer.allocate(size);
            d.read(all, 0);
            assertArrayEquals(model, all.array(), "seed " + seed);
            windowsSeen += conn.windowWrites();
        }
        assertTrue(windowsSeen > 40, "the sessions hardly used windows: " + windowsSeen);
    }

    /** A read-only export never asks for a window: the write is refused whole, the session goes on. */
    @Test
    void aReadOnlyExportTakesNoWindow() {
        Connection.Exports only = exportsOf(exportOf(disk, true));
        byte[] a = data(1 << 20, 7);
        Stream s = new Stream()
                .request(CMD_WRITE, 0, 1, 0, a.length, a)
                .request(CMD_DISC, 0, 2, 0, 0, null);
        MemoryWire wire = new MemoryWire(s.out.toByteArray());
        Connection conn = new Connection(wire, only, "test", ConnectionFuzzTest.RESOURCES);
        ByteBuffer replies = run(wire, conn);
        assertEquals(SIMPLE_REPLY_MAGIC, replies.getInt());
        assertEquals(EPERM, replies.getInt());
        assertEquals(0, conn.windowWrites());
        assertEquals(0, disk.windows);
        assertOnDisk(new byte[a.length], 0);
    }
}

package io.strata.nbd.internal;

import static io.strata.nbd.internal.Protocol.*;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.nbd.internal.ConnectionFuzzTest.MemoryDisk;
import io.strata.nbd.internal.ConnectionFuzzTest.MemoryWire;
import io.strata.nbd.internal.ReceiveInPlaceTest.Stream;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * How a large write's payload is read from the socket ({@code Connection.receiveAndWrite}): into
 * pooled buffers, the read that ends it taking the next request's header too when the client
 * has sent it. A real {@link Connection} over an in-memory wire whose reads scatter over several
 * buffers as {@code readv} does, and an in-memory disk.
 */
class PayloadReadTest {
    private static final int SIZE = (int) ConnectionFuzzTest.SIZE;

    private static Connection connection(MemoryWire wire, MemoryDisk disk) {
        return new Connection(wire, ReceiveInPlaceTest.exportsOf(ReceiveInPlaceTest.exportOf(disk, false), false),
                "test", ConnectionFuzzTest.RESOURCES);
    }

    /** 32 writes of 256 KiB sent back to back: one read each (two when the header came with part of the payload). */
    @Test
    void aClientThatKeepsLargeWritesComingCostsOneReadPerWrite() {
        MemoryDisk disk = new MemoryDisk();
        Stream s = new Stream();
        byte[][] payloads = new byte[32][];
        for (int i = 0; i < payloads.length; i++) {
            payloads[i] = ReceiveInPlaceTest.data(256 << 10, i);
            s.request(CMD_WRITE, 0, i, (i % 8) * (256L << 10), payloads[i].length, payloads[i]);
        }
        s.request(CMD_DISC, 0, 99, 0, 0, null);
        MemoryWire wire = new MemoryWire(s.out.toByteArray());
        wire.scatter = () -> Integer.MAX_VALUE; // everything has arrived
        Connection conn = connection(wire, disk);
        ByteBuffer replies = ReceiveInPlaceTest.run(wire, conn);
        for (int i = 0; i < payloads.length; i++) {
            assertEquals(SIMPLE_REPLY_MAGIC, replies.getInt());
            assertEquals(0, replies.getInt());
            assertEquals(i, replies.getLong());
        }
        assertFalse(replies.hasRemaining());
        for (int i = 24; i < 32; i++) {
            ByteBuffer b = ByteBuffer.allocate(256 << 10);
            disk.read(b, (i % 8) * (256L << 10));
            assertArrayEquals(payloads[i], b.array(), "write " + i);
        }
        // the handshake's reads, the first write's two (header with what follows it, then the
        // rest with the next header), then one per write; two per write before
        assertTrue(wire.reads <= payloads.length + 8, wire.reads + " reads for " + payloads.length + " writes");
    }

    /**
     * The reply to a large write goes out before the next request is served, although that
     * request's header came with the payload's last read: a client waiting for it to send more
     * is not kept waiting behind the next write.
     */
    @Test
    void theReplyToALargeWriteGoesOutBeforeTheNextRequestIsServed() {
        MemoryDisk disk = new MemoryDisk();
        Stream s = new Stream();
        int n = 512 << 10;
        List<Integer> headerEnds = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            s.request(CMD_WRITE, 0, i, (long) i * n, n, ReceiveInPlaceTest.data(n, 20 + i));
            headerEnds.add(s.out.size() + 28); // where the next request's 28-byte header ends
        }
        s.request(CMD_DISC, 0, 99, 0, 0, null);
        MemoryWire wire = new MemoryWire(s.out.toByteArray());
        wire.scatter = () -> Integer.MAX_VALUE;
        wire.writeLog = new ArrayList<>();
        ByteBuffer replies = ReceiveInPlaceTest.run(wire, connection(wire, disk));
        assertEquals(3 * 16, replies.remaining());
        // after the handshake's writes, one write of 16 bytes per reply, each before the next
        // request's payload was read
        List<int[]> log = wire.writeLog;
        List<int[]> replyWrites = log.subList(log.size() - 3, log.size());
        for (int i = 0; i < 3; i++) {
            assertEquals(16, replyWrites.get(i)[1], "write " + i + "'s reply went out with others");
        }
        for (int i = 0; i < 2; i++) {
            int consumed = replyWrites.get(i)[0];
            assertTrue(consumed <= headerEnds.get(i), "the reply to write " + i + " went out after " + consumed
                    + " bytes of input had been read, past the next header at " + headerEnds.get(i));
        }
    }

    /**
     * Random sessions over a socket whose reads bring random amounts, often a few bytes, so that
     * a next header arrives whole, in part or not at all with a payload's last read: writes
     * large and small, reads, flushes; every reply in order, every read returning the model's
     * bytes, the disk equal to the model.
     */
    @Test
    void randomSessionsWithHeadersSplitAnywhere() {
        int largeWrites = 0;
        for (int seed = 0; seed < 60; seed++) {
            Random rnd = new Random(seed);
            MemoryDisk disk = new MemoryDisk();
            byte[] model = new byte[SIZE];
            Stream s = new Stream();
            int requests = 20 + rnd.nextInt(30);
            List<long[]> expected = new ArrayList<>(); // cookie, read offset, read length (0: no data)
            for (int i = 0; i < requests; i++) {
                long cookie = 1000L * seed + i;
                int kind = rnd.nextInt(10);
                if (kind == 0) {
                    s.request(CMD_FLUSH, 0, cookie, 0, 0, null);
                    expected.add(new long[] {cookie, 0, 0});
                    continue;
                }
                int len = kind < 6 ? (64 << 10) + 1 + rnd.nextInt(SIZE / 2) : 1 + rnd.nextInt(16 << 10);
                int offset = rnd.nextBoolean() ? rnd.nextInt(SIZE - len + 1) : rnd.nextInt((SIZE - len) / 4096 + 1) * 4096;
                if (kind == 9) {
                    s.request(CMD_READ, 0, cookie, offset, len, null);
                    expected.add(new long[] {cookie, offset, len});
                    // the model as it stands when the read is served (requests are served in order)
                    byte[] snapshot = java.util.Arrays.copyOfRange(model, offset, offset + len);
                    reads.add(snapshot);
                    continue;
                }
                byte[] b = ReceiveInPlaceTest.data(len, seed * 100 + i);
                System.arraycopy(b, 0, model, offset, len);
                s.request(CMD_WRITE, rnd.nextInt(4) == 0 ? CMD_FLAG_FUA : 0, cookie, offset, len, b);
                expected.add(new long[] {cookie, 0, 0});
                if (len > (64 << 10)) {
                    largeWrites++;
                }
            }
            s.request(CMD_DISC, 0, 0, 0, 0, null);
            MemoryWire wire = new MemoryWire(s.out.toByteArray());
            Random bursts = new Random(seed + 5);
            wire.scatter = () -> switch (bursts.nextInt(4)) {
                case 0 -> 1 + bursts.nextInt(40); // a header's worth or less
                case 1 -> 1 + bursts.nextInt(4096);
                default -> 1 + bursts.nextInt(600 << 10);
            };
            ByteBuffer replies = ReceiveInPlaceTest.run(wire, connection(wire, disk));
            int r = 0;
            for (long[] e : expected) {
                assertEquals(SIMPLE_REPLY_MAGIC, replies.getInt(), "seed " + seed);
                assertEquals(0, replies.getInt(), "seed " + seed + ", request " + e[0]);
                assertEquals(e[0], replies.getLong(), "seed " + seed);
                if (e[2] > 0) {
                    byte[] got = new byte[(int) e[2]];
                    replies.get(got);
                    assertArrayEquals(reads.get(r++), got, "seed " + seed + ", read " + e[0]);
                }
            }
            assertFalse(replies.hasRemaining(), "seed " + seed + ": more replies than requests");
            reads.clear();
            ByteBuffer all = ByteBuffer.allocate(SIZE);
            disk.read(all, 0);
            assertArrayEquals(model, all.array(), "seed " + seed);
        }
        assertTrue(largeWrites > 300, "too few large writes to mean anything: " + largeWrites);
    }

    private final List<byte[]> reads = new ArrayList<>();
}

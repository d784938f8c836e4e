package io.strata.nbd.internal;

import static io.strata.nbd.internal.Protocol.*;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.format.VirtualDisk;
import io.strata.api.service.Availability;
import io.strata.api.service.ExportInfo;
import io.strata.api.service.VolumeRef;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The server against a client whose every byte is the test's: the handshake and its
 * options, each command with good and bad arguments, and malformed or vanishing
 * clients, after each of which the server and other clients carry on.
 */
class ProtocolTest {
    static final long SIZE = 8L << 20;
    static final VolumeRef VOL = new VolumeRef("local", "vol");
    static final VolumeRef RO = new VolumeRef("local", "ro");

    @TempDir
    Path tmp;
    Fixture fx;
    NbdService nbd;

    @BeforeEach
    void start() throws Exception {
        fx = new Fixture(tmp);
        fx.volume("vol", "vhd", SIZE);
        fx.volume("ro", "qcow2", SIZE);
        nbd = fx.start();
        nbd.add(VOL, null, false);
        nbd.add(RO, "ro", true);
    }

    @AfterEach
    void stop() {
        fx.close();
    }

    RawClient connect(String export, boolean structured) throws Exception {
        RawClient c = new RawClient(nbd.port()).hello();
        if (structured) {
            c.option(OPT_STRUCTURED_REPLY, new byte[0]);
            assertEquals(REP_ACK, c.reply().type());
        }
        long[] go = c.go(export);
        assertEquals(SIZE, go[0]);
        return c;
    }

    static byte[] data(int n, int seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    byte[] readSimple(RawClient c, long cookie, long offset, int n) throws Exception {
        c.request(CMD_READ, 0, cookie, offset, n, null);
        assertEquals(0, c.simpleReply(cookie));
        byte[] b = new byte[n];
        c.in.readFully(b);
        return b;
    }

    @Test
    void handshakeAdvertisesFixedNewstyleAndListsExports() throws Exception {
        try (RawClient c = new RawClient(nbd.port()).hello()) {
            assertEquals(FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES, c.serverFlags);
            c.option(OPT_LIST, new byte[0]);
            RawClient.OptionReply a = c.reply();
            RawClient.OptionReply b = c.reply();
            assertEquals(REP_SERVER, a.type());
            assertEquals("ro", new String(a.data(), 4, a.data().length - 4, StandardCharsets.UTF_8));
            assertEquals("vol", new String(b.data(), 4, b.data().length - 4, StandardCharsets.UTF_8));
            assertEquals(REP_ACK, c.reply().type());

            c.option(OPT_LIST, new byte[] {1});
            assertEquals(REP_ERR_INVALID, c.reply().type());
            c.option(42, new byte[] {1, 2, 3});
            RawClient.OptionReply unsup = c.reply();
            assertEquals(REP_ERR_UNSUP, unsup.type());
            assertEquals(42, unsup.option());
            c.option(OPT_STARTTLS, new byte[0]);
            assertEquals(REP_ERR_POLICY, c.reply().type());

            c.option(OPT_INFO, RawClient.goData("nope"));
            RawClient.OptionReply unknown = c.reply();
            assertEquals(REP_ERR_UNKNOWN, unknown.type());
            assertTrue(unknown.text().contains("nope"), unknown.text());
            c.option(OPT_INFO, new byte[] {0, 0, 0, 9, 'v', 'o', 'l', 0, 0});
            assertEquals(REP_ERR_INVALID, c.reply().type(), "name length past the data");

            // INFO then GO: the export, its flags and the block sizes
            c.option(OPT_INFO, RawClient.goData("vol", INFO_NAME, INFO_BLOCK_SIZE));
            boolean sawExport = false;
            boolean sawBlockSize = false;
            while (true) {
                RawClient.OptionReply r = c.reply();
                if (r.type() == REP_ACK) {
                    break;
                }
                ByteBuffer d = ByteBuffer.wrap(r.data());
                int info = d.getShort();
                if (info == INFO_EXPORT) {
                    sawExport = true;
                    assertEquals(SIZE, d.getLong());
                    int flags = d.getShort() & 0xffff;
                    int want = HAS_FLAGS | SEND_FLUSH | SEND_FUA | SEND_TRIM | SEND_WRITE_ZEROES | CAN_MULTI_CONN
                            | SEND_FAST_ZERO | SEND_DF;
                    assertEquals(want, flags & want);
                    assertEquals(0, flags & READ_ONLY);
                } else if (info == INFO_BLOCK_SIZE) {
                    sawBlockSize = true;
                    assertEquals(1, d.getInt());
                    assertEquals(4096, d.getInt());
                    assertEquals(MAX_PAYLOAD, d.getInt());
                } else if (info == INFO_NAME) {
                    assertEquals("vol", new String(r.data(), 2, r.data().length - 2, StandardCharsets.UTF_8));
                }
            }
            assertTrue(sawExport && sawBlockSize);
            long[] go = c.go("ro");
            assertEquals(SIZE, go[0]);
            assertEquals(READ_ONLY, go[1] & READ_ONLY);
            assertEquals(0, go[1] & (SEND_TRIM | SEND_WRITE_ZEROES));
        }
    }

    @Test
    void oldStyleExportNameAndAbort() throws Exception {
        try (RawClient c = new RawClient(nbd.port()).hello()) {
            c.option(OPT_EXPORT_NAME, "vol".getBytes(StandardCharsets.UTF_8));
            assertEquals(SIZE, c.in.readLong());
            assertTrue((c.in.readUnsignedShort() & HAS_FLAGS) != 0);
            byte[] back = readSimple(c, 1, 0, 512);
            assertArrayEquals(new byte[512], back);
        }
        try (RawClient c = new RawClient(nbd.port()).hello()) {
            c.option(OPT_ABORT, new byte[0]);
            assertEquals(REP_ACK, c.reply().type());
            assertTrue(c.closedByServer());
        }
        try (RawClient c = new RawClient(nbd.port()).hello()) {
            c.option(OPT_EXPORT_NAME, "nope".getBytes(StandardCharsets.UTF_8));
            assertTrue(c.closedByServer(), "an unknown export by NBD_OPT_EXPORT_NAME ends the session");
        }
    }

    @Test
    void writeReadFlushTrimZeroAndTheirErrors() throws Exception {
        try (RawClient c = connect("vol", false)) {
            byte[] a = data(70_000, 1);
            c.request(CMD_WRITE, CMD_FLAG_FUA, 7, 4096 + 17, a.length, a);
            assertEquals(0, c.simpleReply(7));
            assertArrayEquals(a, readSimple(c, 8, 4096 + 17, a.length));
            // at the very end of the export
            byte[] tail = data(3000, 2);
            c.request(CMD_WRITE, 0, 9, SIZE - tail.length, tail.length, tail);
            assertEquals(0, c.simpleReply(9));
            assertArrayEquals(tail, readSimple(c, 10, SIZE - tail.length, tail.length));
            // one byte past it: refused, and the session goes on
            c.request(CMD_READ, 0, 11, SIZE - 100, 101, null);
            assertEquals(EINVAL, c.simpleReply(11));
            c.request(CMD_WRITE, 0, 12, SIZE, 1, new byte[1]);
            assertEquals(EINVAL, c.simpleReply(12));
            c.request(CMD_READ, 0, 13, 0, MAX_PAYLOAD + 1L, null);
            assertEquals(EINVAL, c.simpleReply(13));
            c.request(99, 0, 14, 0, 0, null);
            assertEquals(EINVAL, c.simpleReply(14));
            c.request(CMD_FLUSH, 0, 15, 0, 0, null);
            assertEquals(0, c.simpleReply(15));
            c.request(CMD_WRITE_ZEROES, 0, 16, 4096 + 17, 1000, null);
            assertEquals(0, c.simpleReply(16));
            byte[] expect = a.clone();
            java.util.Arrays.fill(expect, 0, 1000, (byte) 0);
            assertArrayEquals(expect, readSimple(c, 17, 4096 + 17, a.length));
            c.request(CMD_WRITE_ZEROES, CMD_FLAG_NO_HOLE | CMD_FLAG_FAST_ZERO, 18, 0, 4096, null);
            assertEquals(ENOTSUP, c.simpleReply(18), "zeroing without holes is not faster than writing");
            c.request(CMD_TRIM, 0, 19, 0, 2L << 20, null);
            assertEquals(0, c.simpleReply(19));
            c.request(CMD_DISC, 0, 20, 0, 0, null);
            assertTrue(c.closedByServer());
        }
        try (RawClient c = connect("ro", false)) {
            c.request(CMD_WRITE, 0, 1, 0, 512, new byte[512]);
            assertEquals(EPERM, c.simpleReply(1));
            c.request(CMD_TRIM, 0, 2, 0, 512, null);
            assertEquals(EPERM, c.simpleReply(2));
            assertArrayEquals(new byte[512], readSimple(c, 3, 0, 512));
        }
    }

    /** The chunks of one structured reply, up to the one with DONE. */
    static List<RawClient.Chunk> chunks(RawClient c, long cookie) throws Exception {
        List<RawClient.Chunk> all = new ArrayList<>();
        RawClient.Chunk k;
        do {
            k = c.chunk();
            assertEquals(cookie, k.cookie());
            all.add(k);
        } while ((k.flags() & REPLY_FLAG_DONE) == 0);
        return all;
    }

    /**
     * Structured reads of 64 KiB and more answer holes with OFFSET_HOLE chunks (no zeros on
     * the wire) when the data is one run; the data chunk comes last, with DONE. Two runs of data,
     * small reads and simple replies carry the zeros as before. Every answer covers the range
     * once and reads as the image does.
     */
    @Test
    void structuredReadsAnswerHolesWithHoleChunks() throws Exception {
        VolumeRef q = new VolumeRef("local", "sparse");
        fx.volume("sparse", "qcow2", SIZE); // 64 KiB clusters
        nbd.add(q, null, false);
        int k64 = 64 << 10;
        int mib = 1 << 20;
        byte[] a = data(k64, 21);
        byte[] b = data(k64, 22);
        try (RawClient c = connect("sparse", true)) {
            c.request(CMD_WRITE, 0, 1, mib, k64, a);
            assertEquals(0, c.simpleReply(1));
            c.request(CMD_WRITE, 0, 2, 3L * mib, k64, b);
            assertEquals(0, c.simpleReply(2));
            c.request(CMD_WRITE, 0, 3, 3L * mib + 4 * k64, k64, b);
            assertEquals(0, c.simpleReply(3));

            // All holes: one hole chunk, DONE.
            c.request(CMD_READ, 0, 10, 0, mib, null);
            List<RawClient.Chunk> none = chunks(c, 10);
            assertEquals(1, none.size());
            assertEquals(REPLY_TYPE_OFFSET_HOLE, none.get(0).type());
            ByteBuffer h = ByteBuffer.wrap(none.get(0).payload());
            assertEquals(0, h.getLong());
            assertEquals(mib, h.getInt());

            // Hole, data, hole: two hole chunks, then the data with DONE.
            c.request(CMD_READ, 0, 11, mib / 2, mib, null);
            List<RawClient.Chunk> mixed = chunks(c, 11);
            assertEquals(3, mixed.size(), "two holes and the data");
            byte[] got = new byte[mib];
            boolean[] covered = new boolean[mib];
            for (RawClient.Chunk k : mixed) {
                ByteBuffer p = ByteBuffer.wrap(k.payload());
                int at = (int) (p.getLong() - mib / 2);
                int len = k.type() == REPLY_TYPE_OFFSET_HOLE ? p.getInt() : p.remaining();
                if (k.type() == REPLY_TYPE_OFFSET_DATA) {
                    p.get(got, at, len);
                } else {
                    assertEquals(REPLY_TYPE_OFFSET_HOLE, k.type());
                }
                for (int i = at; i < at + len; i++) {
                    assertFalse(covered[i], "byte " + i + " answered twice");
                    covered[i] = true;
                }
            }
            assertEquals(REPLY_TYPE_OFFSET_DATA, mixed.get(2).type(), "the data chunk is the last");
            assertEquals(0, mixed.get(0).flags() & REPLY_FLAG_DONE);
            for (boolean x : covered) {
                assertTrue(x, "a byte not answered");
            }
            byte[] want = new byte[mib];
            System.arraycopy(a, 0, want, mib / 2, k64);
            assertArrayEquals(want, got);

            // Two runs of data: one data chunk with the zeros between them.
            c.request(CMD_READ, 0, 12, 3L * mib, 5 * k64, null);
            List<RawClient.Chunk> two = chunks(c, 12);
            assertEquals(1, two.size());
            assertEquals(REPLY_TYPE_OFFSET_DATA, two.get(0).type());
            byte[] whole = new byte[5 * k64];
            System.arraycopy(b, 0, whole, 0, k64);
            System.arraycopy(b, 0, whole, 4 * k64, k64);
            assertArrayEquals(whole, java.util.Arrays.copyOfRange(two.get(0).payload(), 8, 8 + 5 * k64));

            // A small read of a hole carries its zeros.
            c.request(CMD_READ, 0, 13, 4096, 4096, null);
            List<RawClient.Chunk> small = chunks(c, 13);
            assertEquals(REPLY_TYPE_OFFSET_DATA, small.get(0).type());
            assertEquals(8 + 4096, small.get(0).payload().length);
        }
        // Simple replies have no hole chunks: the zeros are sent.
        try (RawClient c = connect("sparse", false)) {
            assertArrayEquals(new byte[mib], readSimple(c, 1, 0, mib));
        }
    }

    @Test
    void structuredReadsAndBlockStatus() throws Exception {
        try (RawClient c = new RawClient(nbd.port()).hello()) {
            c.option(OPT_SET_META_CONTEXT, RawClient.metaData("vol", BASE_ALLOCATION));
            assertEquals(REP_ERR_INVALID, c.reply().type(), "meta contexts need structured replies first");
            c.option(OPT_STRUCTURED_REPLY, new byte[0]);
            assertEquals(REP_ACK, c.reply().type());
            c.option(OPT_LIST_META_CONTEXT, RawClient.metaData("vol"));
            RawClient.OptionReply listed = c.reply();
            assertEquals(REP_META_CONTEXT, listed.type());
            assertEquals(BASE_ALLOCATION, new String(listed.data(), 4, listed.data().length - 4,
                    StandardCharsets.US_ASCII));
            assertEquals(REP_ACK, c.reply().type());
            c.option(OPT_SET_META_CONTEXT, RawClient.metaData("vol", "x-unknown:thing", BASE_ALLOCATION));
            RawClient.OptionReply set = c.reply();
            assertEquals(REP_META_CONTEXT, set.type());
            int id = ByteBuffer.wrap(set.data()).getInt();
            assertEquals(REP_ACK, c.reply().type());
            c.go("vol");

            byte[] a = data(1 << 20, 3);
            c.request(CMD_WRITE, 0, 1, 4L << 20, a.length, a);
            assertEquals(0, c.simpleReply(1));
            c.request(CMD_READ, 0, 2, 4L << 20, a.length, null);
            RawClient.Chunk r = c.chunk();
            assertEquals(REPLY_FLAG_DONE, r.flags() & REPLY_FLAG_DONE);
            assertEquals(REPLY_TYPE_OFFSET_DATA, r.type());
            assertEquals(2, r.cookie());
            ByteBuffer p = ByteBuffer.wrap(r.payload());
            assertEquals(4L << 20, p.getLong());
            byte[] got = new byte[a.length];
            p.get(got);
            assertArrayEquals(a, got);

            c.request(CMD_READ, 0, 21, 4096, 0, null);
            RawClient.Chunk none = c.chunk();
            assertEquals(REPLY_TYPE_NONE, none.type(), "an empty read");
            assertEquals(REPLY_FLAG_DONE, none.flags());
            assertEquals(0, none.payload().length);

            c.request(CMD_READ, 0, 3, SIZE, 1, null);
            RawClient.Chunk err = c.chunk();
            assertEquals(REPLY_TYPE_ERROR, err.type());
            assertEquals(EINVAL, ByteBuffer.wrap(err.payload()).getInt());

            c.request(CMD_BLOCK_STATUS, 0, 4, 0, SIZE, null);
            RawClient.Chunk bs = c.chunk();
            assertEquals(REPLY_TYPE_BLOCK_STATUS, bs.type());
            ByteBuffer d = ByteBuffer.wrap(bs.payload());
            assertEquals(id, d.getInt());
            long pos = 0;
            long data = 0;
            while (d.hasRemaining()) {
                long len = d.getInt() & 0xffffffffL;
                int state = d.getInt();
                if (state == 0) {
                    assertTrue(pos <= 4L << 20 && pos + len >= 5L << 20, "data at " + pos + "+" + len);
                    data += len;
                } else {
                    assertEquals(STATE_HOLE | STATE_ZERO, state);
                }
                pos += len;
            }
            assertEquals(SIZE, pos, "the extents cover the request");
            assertEquals(2L << 20, data, "the one allocated 2 MiB VHD block");
            c.request(CMD_BLOCK_STATUS, CMD_FLAG_REQ_ONE, 5, 0, SIZE, null);
            assertEquals(4 + 8, c.chunk().payload().length, "REQ_ONE: one extent");
        }
    }

    @Test
    void malformedAndVanishingClientsLeaveTheServerAndOthersWorking() throws Exception {
        try (RawClient good = connect("vol", false)) {
            byte[] a = data(4096, 4);
            good.request(CMD_WRITE, 0, 1, 0, a.length, a);
            assertEquals(0, good.simpleReply(1));

            try (RawClient bad = new RawClient(nbd.port())) {
                bad.in.readFully(new byte[18]);
                bad.out.writeInt(0x1234); // client flags with unknown bits
                bad.out.flush();
                assertTrue(bad.closedByServer());
            }
            try (RawClient bad = new RawClient(nbd.port()).hello()) {
                bad.out.writeLong(0xdeadbeefL); // wrong option magic
                bad.out.writeInt(OPT_LIST);
                bad.out.writeInt(0);
                bad.out.flush();
                assertTrue(bad.closedByServer());
            }
            try (RawClient bad = new RawClient(nbd.port()).hello()) {
                bad.out.writeLong(IHAVEOPT);
                bad.out.writeInt(OPT_GO);
                bad.out.writeInt(1 << 30); // an option of 1 GiB
                bad.out.flush();
                assertTrue(bad.closedByServer());
            }
            try (RawClient bad = connect("vol", false)) {
                bad.request(0x7777, 0, 1, 0, 0, null);
                assertEquals(EINVAL, bad.simpleReply(1));
                bad.out.writeInt(0x11111111); // wrong request magic
                bad.out.write(new byte[24]);
                bad.out.flush();
                assertTrue(bad.closedByServer());
            }
            try (RawClient bad = connect("vol", false)) {
                bad.request(CMD_WRITE, 0, 1, 0, (long) MAX_PAYLOAD + 4096, null);
                assertEquals(EOVERFLOW, bad.simpleReply(1));
                assertTrue(bad.closedByServer(), "an oversized write cannot be skipped: hard disconnect");
            }
            // a client that vanishes halfway through a write payload: nothing of it is applied
            try (RawClient bad = connect("vol", false)) {
                bad.out.writeInt(REQUEST_MAGIC);
                bad.out.writeShort(0);
                bad.out.writeShort(CMD_WRITE);
                bad.out.writeLong(5);
                bad.out.writeLong(0);
                bad.out.writeInt(8192);
                bad.out.write(data(5000, 9)); // 5000 of 8192 bytes, then gone
                bad.out.flush();
            }
            Thread.sleep(200);
            assertArrayEquals(a, readSimple(good, 2, 0, a.length), "the acknowledged write is intact");
            // a client that never finishes its handshake is cut off after the timeout (5 s here)
            try (RawClient idle = new RawClient(nbd.port())) {
                idle.socket.setSoTimeout(15_000);
                idle.in.readFully(new byte[18]);
                assertTrue(idle.closedByServer());
            }
            byte[] b = data(4096, 5);
            good.request(CMD_WRITE, 0, 3, 8192, b.length, b);
            assertEquals(0, good.simpleReply(3));
            assertArrayEquals(b, readSimple(good, 4, 8192, b.length));
        }
    }

    /**
     * A client that has sent its disconnect is counted until the server's thread for it has read
     * it, which a loaded host delays: a removal right after qemu-io exited was refused in CI.
     */
    @Test
    void aRemovalWithoutForceWaitsForConnectedClientsToLeave() throws Exception {
        nbd.removeGrace(60_000);
        RawClient c = connect("vol", false);
        CompletableFuture<Void> removal = CompletableFuture.runAsync(() -> nbd.remove("vol", false));
        try {
            Thread.sleep(300);
            assertFalse(removal.isDone(), "the removal did not wait for the connected client");
            c.request(CMD_DISC, 0, 1, 0, 0, null);
        } finally {
            c.close();
        }
        removal.get(30, TimeUnit.SECONDS); // the client left: removed, long before the 60 s wait ended
        assertEquals(ErrorCode.EXPORT_NOT_FOUND, assertThrows(StorageException.class, () -> nbd.info("vol")).code());
    }

    /**
     * Large writes into allocated blocks of the VHD are received in place once that is turned on
     * (one copy, through the production LocalFile's mapping of the image), and not before,
     * pipelined as fio sends them, and read back exactly; an image written this way opens again
     * with the same bytes.
     */
    @Test
    void largeWritesIntoAllocatedBlocksAreReceivedInPlace() throws Exception {
        int piece = 256 << 10;
        int count = 32; // 8 MiB: the whole volume
        byte[] expect = new byte[(int) SIZE];
        try (RawClient c = connect("vol", false)) {
            c.request(CMD_WRITE, 0, 1, 0, SIZE, new byte[(int) SIZE]); // allocates every block (no window: holes)
            assertEquals(0, c.simpleReply(1));
            // Off by default (receive.in.place): the same writes take the ordinary path.
            for (int i = 0; i < count; i++) {
                c.request(CMD_WRITE, 0, 10 + i, (long) i * piece, piece, data(piece, 50 + i));
            }
            for (int i = 0; i < count; i++) {
                assertEquals(0, c.simpleReply(10 + i));
            }
            assertEquals(0, nbd.windowWrites(), "a write was received in place while that is off");
            nbd.receiveInPlace(true);
            long before = nbd.windowWrites();
            for (int i = 0; i < count; i++) {
                byte[] b = data(piece, 100 + i);
                System.arraycopy(b, 0, expect, i * piece, piece);
                c.request(CMD_WRITE, 0, 10 + i, (long) i * piece, piece, b);
            }
            for (int i = 0; i < count; i++) {
                assertEquals(0, c.simpleReply(10 + i));
            }
            assertTrue(nbd.windowWrites() > before, "no write was received in place");
            assertArrayEquals(expect, readSimple(c, 99, 0, (int) SIZE));
        }
        nbd.remove("vol", true);
        try (VirtualDisk d = fx.volumes.open(VOL, true)) {
            ByteBuffer b = ByteBuffer.allocate((int) SIZE);
            d.read(b, 0);
            assertArrayEquals(expect, b.array());
        }
    }

    @Test
    void exportsAreConfigurationAndKeepTheirVolumeInUse() throws Exception {
        StorageException dup = assertThrows(StorageException.class, () -> nbd.add(VOL, "other", false));
        assertEquals(ErrorCode.ALREADY_EXISTS, dup.code());
        assertEquals(ErrorCode.INVALID_NAME, assertThrows(StorageException.class,
                () -> nbd.add(new VolumeRef("local", "x"), "../x", false)).code());
        assertEquals(ErrorCode.VOLUME_NOT_FOUND, assertThrows(StorageException.class,
                () -> nbd.add(new VolumeRef("local", "missing"), null, false)).code());
        assertEquals(2, fx.store.load().size(), "refused exports are not saved");

        try (RawClient c = connect("vol", false)) {
            ExportInfo info = nbd.info("vol");
            assertEquals(1, info.clients().size());
            assertEquals(Availability.ONLINE, info.state());
            assertEquals(fx.uri("vol"), info.uri());
            nbd.removeGrace(200);
            StorageException busy = assertThrows(StorageException.class, () -> nbd.remove("vol", false));
            assertEquals(ErrorCode.EXPORT_IN_USE, busy.code());
            assertTrue(busy.getMessage().contains("after waiting 0.2 s"), busy.getMessage());
            byte[] a = data(4096, 6);
            c.request(CMD_WRITE, 0, 1, 0, a.length, a);
            assertEquals(0, c.simpleReply(1));
            nbd.remove("vol", true);
            assertTrue(c.closedByServer());
        }
        assertEquals(ErrorCode.EXPORT_NOT_FOUND, assertThrows(StorageException.class, () -> nbd.info("vol")).code());
        // the acknowledged write reached the image
        try (VirtualDisk d = fx.volumes.open(VOL, true)) {
            ByteBuffer b = ByteBuffer.allocate(4096);
            d.read(b, 0);
            assertArrayEquals(data(4096, 6), b.array());
        }
        // a restart finds the saved export; one whose datastore is gone is listed UNAVAILABLE
        nbd.add(VOL, "again", false);
        nbd.close();
        fx.unavailable.add(RO);
        nbd = fx.start();
        assertEquals(java.util.List.of("again", "ro"), nbd.list().stream().map(ExportInfo::name).toList());
        assertEquals(Availability.UNAVAILABLE, nbd.info("ro").state());
        assertTrue(nbd.info("ro").message().startsWith("DEVICE_UNAVAILABLE"), nbd.info("ro").message());
        try (RawClient c = new RawClient(nbd.port()).hello()) {
            c.option(OPT_GO, RawClient.goData("ro"));
            RawClient.OptionReply r = c.reply();
            assertEquals(REP_ERR_UNKNOWN, r.type());
            assertTrue(r.text().contains("unavailable"), r.text());
            fx.unavailable.remove(RO);
            assertEquals(SIZE, c.go("ro")[0], "served again once its datastore is back");
        }
        assertFalse(nbd.info("again").readOnly());
    }

    @Test
    void aVolumeWhoseDriverGoesAwayMidSessionFailsWithEioAndComesBackWithItsData() throws Exception {
        VolumeRef b = new VolumeRef("local", "b");
        fx.volume("b", "vhd", SIZE);
        fx.broken.add(b);
        nbd.add(b, null, false);
        try (RawClient c = connect("b", true)) {
            byte[] a = data(8192, 7);
            c.request(CMD_WRITE, CMD_FLAG_FUA, 1, 4096, a.length, a);
            assertEquals(0, c.simpleReply(1));
            fx.gone.add(b); // the driver bundle is uninstalled: handles die
            c.request(CMD_READ, 0, 2, 4096, a.length, null);
            RawClient.Chunk err = c.chunk();
            assertEquals(REPLY_TYPE_ERROR, err.type());
            assertEquals(EIO, ByteBuffer.wrap(err.payload()).getInt());
            c.request(CMD_WRITE, 0, 3, 0, 512, new byte[512]);
            assertEquals(EIO, c.simpleReply(3), "nothing is written while the volume is unavailable");
            assertEquals(Availability.UNAVAILABLE, nbd.info("b").state());
            assertTrue(nbd.info("b").message().startsWith("DEVICE_UNAVAILABLE"), nbd.info("b").message());
            fx.gone.remove(b); // reinstalled: the next request opens the volume again
            c.request(CMD_READ, 0, 4, 4096, a.length, null);
            RawClient.Chunk ok = c.chunk();
            assertEquals(REPLY_TYPE_OFFSET_DATA, ok.type());
            ByteBuffer p = ByteBuffer.wrap(ok.payload());
            assertEquals(4096, p.getLong());
            byte[] got = new byte[a.length];
            p.get(got);
            assertArrayEquals(a, got, "the acknowledged write is there after the driver came back");
            assertEquals(Availability.ONLINE, nbd.info("b").state());
        }
    }

    /**
     * Large reads of allocated VHD blocks go from the image file to the socket (sendfile),
     * in simple and structured replies; a read that spans two blocks, or an unallocated one,
     * is copied as before. A second connection that is idle changes nothing; while two
     * connections are busy (a window of the server's clock with 16 requests each), large
     * reads are copied and sent by the connection's own thread, no sender woken; once they are
     * not, sendfile again. Every reply carries exactly the bytes written.
     */
    @Test
    void largeReadsOfAllocatedBlocksAreSentFromTheImageFile() throws Exception {
        java.util.concurrent.atomic.AtomicLong clock = new java.util.concurrent.atomic.AtomicLong(1_000_000_000L);
        nbd.clock(clock::get);
        // as for a client on another host: the host's congestion control, under which sendfile is used
        // (local connections run reno and copy large reads: CongestionTest)
        nbd.localCongestion("");
        VolumeRef z = new VolumeRef("local", "z");
        fx.volume("z", "vhd", SIZE);
        fx.broken.add(z); // the counting handle; never gone
        nbd.add(z, null, false);
        int mib = 1 << 20;
        byte[] a = data(4 * mib, 11);
        try (RawClient c = connect("z", false)) {
            for (int off = 0; off < a.length; off += 256 << 10) {
                c.request(CMD_WRITE, 0, 100 + off, off, 256 << 10, java.util.Arrays.copyOfRange(a, off, off + (256 << 10)));
                assertEquals(0, c.simpleReply(100 + off));
            }
            int before = fx.slices.get();
            for (long off : new long[] {0, mib, 2L * mib + 512, 3L * mib - 4096}) {
                assertArrayEquals(java.util.Arrays.copyOfRange(a, (int) off, (int) off + mib),
                        readSimple(c, 1, off, mib), "1 MiB at " + off);
            }
            assertEquals(before + 4, fx.slices.get(), "four reads inside one block each, sent from the file");
            // across the boundary of the first two 2 MiB blocks: copied
            assertArrayEquals(java.util.Arrays.copyOfRange(a, mib + mib / 2, 2 * mib + mib / 2),
                    readSimple(c, 2, mib + mib / 2, mib));
            // an unallocated block reads zeros
            assertArrayEquals(new byte[mib], readSimple(c, 3, 6L * mib, mib));
            assertEquals(before + 4, fx.slices.get());
            try (RawClient c2 = connect("z", false)) {
                assertArrayEquals(java.util.Arrays.copyOfRange(a, 0, mib), readSimple(c, 5, 0, mib));
                assertEquals(before + 5, fx.slices.get(), "sendfile beside a connection that sends nothing");
                for (int i = 0; i < Connection.BUSY_REQUESTS; i++) {
                    assertArrayEquals(java.util.Arrays.copyOfRange(a, 4096 * i, 4096 * (i + 1)),
                            readSimple(c2, 200 + i, 4096L * i, 4096));
                }
                clock.addAndGet(Connection.BUSY_WINDOW / 4); // both still in their window; a fresh count
                long senders = nbd.senderTasks();
                assertArrayEquals(java.util.Arrays.copyOfRange(a, 0, mib), readSimple(c, 6, 0, mib));
                assertArrayEquals(java.util.Arrays.copyOfRange(a, mib, 2 * mib), readSimple(c2, 7, mib, mib));
                assertArrayEquals(java.util.Arrays.copyOfRange(a, 2 * mib, 3 * mib), readSimple(c, 8, 2L * mib, mib));
                assertEquals(before + 5, fx.slices.get(), "no sendfile with two busy connections");
                assertEquals(senders, nbd.senderTasks(), "copied reads sent by the connections' own threads");
                // two windows without a request: neither is busy, though both are connected
                clock.addAndGet(2 * Connection.BUSY_WINDOW);
                assertArrayEquals(java.util.Arrays.copyOfRange(a, mib, 2 * mib), readSimple(c, 9, mib, mib));
                assertEquals(before + 6, fx.slices.get(), "sendfile again once only one connection is busy");
                assertEquals(senders + 1, nbd.senderTasks(), "and a sender thread sends it, as before");
            }
            clock.addAndGet(2 * Connection.BUSY_WINDOW);
            assertArrayEquals(java.util.Arrays.copyOfRange(a, 0, mib), readSimple(c, 10, 0, mib));
            assertEquals(before + 7, fx.slices.get(), "sendfile again once alone");
        }
        try (RawClient c = connect("z", true)) {
            c.request(CMD_READ, 0, 4, 2L * mib, mib, null);
            RawClient.Chunk ok = c.chunk();
            assertEquals(REPLY_TYPE_OFFSET_DATA, ok.type());
            ByteBuffer p = ByteBuffer.wrap(ok.payload());
            assertEquals(2L * mib, p.getLong());
            byte[] got = new byte[mib];
            p.get(got);
            assertArrayEquals(java.util.Arrays.copyOfRange(a, 2 * mib, 3 * mib), got);
        }
    }

    /**
     * A batch of requests that arrived together is not answered only at its end: the first
     * replies go out after 8 requests, while the rest are served. Here the 9th read is held
     * until the client has the first 8 replies, which it would never get if the server
     * waited for the end of the batch.
     */
    @Test
    void theFirstRepliesOfALongBatchAreSentWhileTheRestIsServed() throws Exception {
        VolumeRef g = new VolumeRef("local", "g");
        fx.volume("g", "raw", SIZE);
        fx.broken.add(g);
        nbd.add(g, null, false);
        java.util.concurrent.CountDownLatch gotFirst = new java.util.concurrent.CountDownLatch(1);
        java.util.concurrent.CountDownLatch held = new java.util.concurrent.CountDownLatch(1);
        fx.beforeRead = off -> {
            if (off == 8 * 4096L) {
                held.countDown();
                try {
                    gotFirst.await(60, java.util.concurrent.TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        };
        try (RawClient c = connect("g", false)) {
            java.io.ByteArrayOutputStream batch = new java.io.ByteArrayOutputStream();
            java.io.DataOutputStream b = new java.io.DataOutputStream(batch);
            for (int i = 0; i < 16; i++) {
                b.writeInt(Protocol.REQUEST_MAGIC);
                b.writeShort(0);
                b.writeShort(CMD_READ);
                b.writeLong(i);
                b.writeLong(i * 4096L);
                b.writeInt(4096);
            }
            c.out.write(batch.toByteArray()); // one write: the server finds all 16 buffered at once
            c.out.flush();
            for (int i = 0; i < 8; i++) {
                assertEquals(0, c.simpleReply(i), "reply " + i + " (the client times out after 10 s)");
                c.in.readFully(new byte[4096]);
            }
            // the server goes on to the 9th read after sending the first 8 replies; it is held
            // there until now, so those replies could not have waited for the end of the batch
            assertTrue(held.await(30, java.util.concurrent.TimeUnit.SECONDS), "the 9th read is served");
            gotFirst.countDown();
            for (int i = 8; i < 16; i++) {
                assertEquals(0, c.simpleReply(i));
                c.in.readFully(new byte[4096]);
            }
        } finally {
            gotFirst.countDown();
            fx.beforeRead = off -> { };
        }
    }

    /**
     * A large write's payload goes to the disk as one write of the buffers it arrived in (the
     * part read with the request header used where it lies, the rest read straight from the
     * socket), and a large read copied through the workers is one read into its buffers: a
     * raw or VHD image on a local file makes each one system call. The bytes are those sent.
     */
    @Test
    void largeWritesAndCopiedReadsReachTheDiskAsOneCall() throws Exception {
        VolumeRef q = new VolumeRef("local", "q");
        fx.volume("q", "qcow2", SIZE); // qcow2 reads are copied through the reply pool (no slices)
        fx.broken.add(q); // the counting handle; never gone
        nbd.add(q, null, false);
        int mib = 1 << 20;
        byte[] a = data(3 * mib + 4096, 12);
        try (RawClient c = connect("q", false)) {
            int writes = fx.vectoredWrites.get();
            c.request(CMD_WRITE, 0, 1, 512, mib, java.util.Arrays.copyOfRange(a, 0, mib));
            assertEquals(0, c.simpleReply(1));
            assertEquals(writes + 1, fx.vectoredWrites.get(), "one write of the pooled buffers");
            c.request(CMD_WRITE, CMD_FLAG_FUA, 2, 512L + mib, a.length - mib, java.util.Arrays.copyOfRange(a, mib, a.length));
            assertEquals(0, c.simpleReply(2));
            assertEquals(writes + 2, fx.vectoredWrites.get());
            int reads = fx.vectoredReads.get();
            assertArrayEquals(java.util.Arrays.copyOfRange(a, 1000, 1000 + 2 * mib), readSimple(c, 3, 512L + 1000, 2 * mib));
            assertEquals(reads + 1, fx.vectoredReads.get(), "one read into the reply's buffers");
            assertArrayEquals(a, readSimple(c, 4, 512, a.length));
        }
    }

    /**
     * A client that stops reading while large replies are being sent is still disconnected at
     * once by a forced export-remove, and the server goes on serving others: alone, the server
     * is blocked in sendfile on a full socket (a sender thread); beside another busy
     * connection, in a copied reply's write on the connection's own thread.
     */
    @org.junit.jupiter.params.ParameterizedTest(name = "beside a busy connection: {0}")
    @org.junit.jupiter.params.provider.ValueSource(booleans = {false, true})
    void aClientThatStopsReadingMidSendIsDisconnectedByAForcedRemove(boolean besideBusy) throws Exception {
        java.util.concurrent.atomic.AtomicLong clock = new java.util.concurrent.atomic.AtomicLong(1_000_000_000L);
        nbd.clock(clock::get);
        nbd.localCongestion(""); // the host's: alone, a large read goes by sendfile (CongestionTest)
        VolumeRef z = new VolumeRef("local", "stuck");
        fx.volume("stuck", "vhd", SIZE);
        nbd.add(z, null, false);
        int mib = 1 << 20;
        try (RawClient busy = connect("vol", false); RawClient c = connect("stuck", false)) {
            byte[] a = data(2 * mib, 12);
            for (int off = 0; off < a.length; off += 256 << 10) {
                c.request(CMD_WRITE, 0, off, off, 256 << 10, java.util.Arrays.copyOfRange(a, off, off + (256 << 10)));
                assertEquals(0, c.simpleReply(off));
            }
            if (besideBusy) {
                for (int i = 0; i < Connection.BUSY_REQUESTS; i++) {
                    readSimple(busy, 100 + i, 0, 4096);
                    readSimple(c, 100 + i, 0, 4096);
                }
                clock.addAndGet(Connection.BUSY_WINDOW / 4); // a fresh count: two busy connections
            }
            long senders = nbd.senderTasks();
            for (int i = 0; i < 32; i++) { // 32 MiB of replies that nobody reads
                c.request(CMD_READ, 0, 1000 + i, (i % 2) * mib, mib, null);
            }
            Thread.sleep(500); // the socket buffers fill; the sending thread blocks
            if (besideBusy) {
                assertEquals(senders, nbd.senderTasks(), "the connection's own thread sends");
            } else {
                assertTrue(nbd.senderTasks() > senders, "a sender thread sends");
            }
            long t0 = System.nanoTime();
            nbd.remove("stuck", true);
            long ms = (System.nanoTime() - t0) / 1_000_000;
            assertTrue(ms < 4000, "the forced remove waited " + ms + " ms for a send to end");
            assertArrayEquals(new byte[4096], readSimple(busy, 1, 0, 4096), "the busy connection carries on");
        }
        try (RawClient other = connect("vol", false)) {
            assertArrayEquals(new byte[4096], readSimple(other, 1, 0, 4096), "the server carries on");
        }
    }
}

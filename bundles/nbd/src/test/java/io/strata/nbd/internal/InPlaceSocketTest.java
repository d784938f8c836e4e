package io.strata.nbd.internal;

import static io.strata.nbd.internal.Protocol.CMD_READ;
import static io.strata.nbd.internal.Protocol.CMD_WRITE;
import static io.strata.nbd.internal.Protocol.SIMPLE_REPLY_MAGIC;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.api.service.VolumeRef;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Large writes received in place ({@code Connection.receiveInPlace}) over real sockets, TCP
 * and Unix, while large reads of the same connection go out with sendfile from other threads.
 * Reading what has arrived turns a blocking socket non-blocking for a moment; a reply sent in
 * that moment would find the socket full and fail, so the connection holds its send side for
 * the read. Every request must be answered, every read return the image's bytes, and the
 * image end with every write.
 */
class InPlaceSocketTest {
    private static final int SIZE = 8 << 20;
    private static final int PIECE = 256 << 10;
    private static final int READ = 1 << 20;

    @TempDir
    Path tmp;

    @ParameterizedTest
    @ValueSource(strings = {"tcp", "unix"})
    @Timeout(value = 180, unit = TimeUnit.SECONDS)
    void writesReceivedInPlaceAndReadsSentMeanwhileAllArrive(String transport) throws Exception {
        Path sock = tmp.resolve("nbd.sock");
        try (Fixture fx = new Fixture(tmp)) {
            fx.volume("v", "raw", SIZE);
            NbdService nbd = fx.start(new LocalSocket(sock, LocalSocket.mode("0600"), ""));
            nbd.localCongestion(""); // the host's, under which TCP's large reads go by sendfile too
            nbd.add(new VolumeRef("local", "v"), null, false);
            nbd.receiveInPlace(true);
            byte[] model = new byte[SIZE];
            new Random(1).nextBytes(model);
            try (RawClient c = "tcp".equals(transport) ? new RawClient(nbd.port()) : new RawClient(sock)) {
                c.hello().go("v");
                // Every byte allocated: a raw file offers windows only where it has no hole.
                c.request(CMD_WRITE, 0, 1, 0, SIZE, model);
                assertEquals(0, c.simpleReply(1));
                long before = nbd.windowWrites();

                Map<Long, Integer> pending = new ConcurrentHashMap<>(); // cookie -> read offset, or -1 for a write
                AtomicReference<Throwable> failed = new AtomicReference<>();
                Thread reader = new Thread(() -> readReplies(c, pending, model, failed), "replies");
                reader.setDaemon(true);
                reader.start();

                Random rnd = new Random(2);
                long cookie = 100;
                for (int round = 0; round < 24 && failed.get() == null; round++) {
                    // The upper half is written, each 256 KiB piece once a round, in random
                    // order; the lower half is only read, so every read knows its bytes.
                    List<Integer> pieces = new ArrayList<>();
                    for (int p = SIZE / 2; p < SIZE; p += PIECE) {
                        pieces.add(p);
                    }
                    Collections.shuffle(pieces, rnd);
                    for (int i = 0; i < pieces.size(); i++) {
                        if (i % 4 == 0) {
                            int at = rnd.nextInt(SIZE / 2 - READ + 1);
                            pending.put(++cookie, at);
                            c.request(CMD_READ, 0, cookie, at, READ, null);
                        }
                        byte[] b = new byte[PIECE];
                        rnd.nextBytes(b);
                        int at = pieces.get(i);
                        System.arraycopy(b, 0, model, at, PIECE);
                        pending.put(++cookie, -1);
                        c.request(CMD_WRITE, 0, cookie, at, PIECE, b);
                    }
                    // Writes of one round never overlap; the next round waits for their replies.
                    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
                    while (!pending.isEmpty() && failed.get() == null && System.nanoTime() < deadline) {
                        Thread.sleep(2);
                    }
                    assertTrue(pending.isEmpty() || failed.get() != null, "replies missing after 120 s: " + pending.keySet());
                }
                assertNull(failed.get(), () -> "the session failed: " + failed.get());
                assertTrue(nbd.windowWrites() > before, "no write was received in place over " + transport);
            }
            nbd.remove("v", true);
            assertArrayEquals(model, fx.image("v"), "the image does not hold every write");
        }
    }

    /** Reads replies in the order the server sends them; a read's bytes must be the model's. */
    private static void readReplies(RawClient c, Map<Long, Integer> pending, byte[] model,
            AtomicReference<Throwable> failed) {
        try {
            byte[] data = new byte[READ];
            while (true) {
                int magic = c.in.readInt();
                if (magic != SIMPLE_REPLY_MAGIC) {
                    throw new AssertionError("reply magic 0x" + Integer.toHexString(magic));
                }
                int error = c.in.readInt();
                long cookie = c.in.readLong();
                Integer at = pending.get(cookie);
                if (at == null) {
                    throw new AssertionError("reply to unknown request " + cookie);
                }
                if (error != 0) {
                    throw new AssertionError("request " + cookie + " failed with error " + error);
                }
                if (at >= 0) {
                    // Slowly, so that the server's sends often find the socket full and wait.
                    for (int done = 0; done < READ; done += 32 << 10) {
                        c.in.readFully(data, done, 32 << 10);
                        Thread.sleep(1);
                    }
                    if (!Arrays.equals(data, 0, READ, model, at, at + READ)) {
                        throw new AssertionError("read " + cookie + " at " + at + " returned other bytes");
                    }
                }
                pending.remove(cookie);
            }
        } catch (java.io.EOFException e) {
            if (!pending.isEmpty()) {
                failed.compareAndSet(null, new AssertionError("the server ended the session with "
                        + pending.size() + " request(s) unanswered"));
            }
        } catch (Throwable e) {
            failed.compareAndSet(null, e);
        }
    }
}

package io.strata.nbd.internal;

import static io.strata.nbd.internal.Protocol.CMD_READ;
import static io.strata.nbd.internal.Protocol.CMD_WRITE;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.api.service.VolumeRef;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A busy connection polls its socket for the next request before its thread sleeps on it
 * ({@code poll.us}), over real TCP and Unix sockets. The server's clock stands still, so that
 * the connection counts as busy from its 16th request on however slowly the machine runs.
 * The client is the raw test client, one request at a time, checking every reply.
 */
class PollTest {
    private static final int SIZE = 1 << 20;
    private static final int BLOCK = 4096;

    @TempDir
    Path tmp;

    private byte[] model;

    private NbdService start(Fixture fx, int pollMicros) throws IOException {
        fx.volume("v", "raw", SIZE);
        NbdService nbd = fx.start(new LocalSocket(tmp.resolve("nbd.sock"), LocalSocket.mode("0600"), ""));
        nbd.clock(() -> 0L);
        nbd.pollMicros(pollMicros);
        nbd.add(new VolumeRef("local", "v"), null, false);
        return nbd;
    }

    private RawClient connect(NbdService nbd, String transport) throws IOException {
        RawClient c = "tcp".equals(transport) ? new RawClient(nbd.port()) : new RawClient(tmp.resolve("nbd.sock"));
        c.hello().go("v");
        model = new byte[SIZE];
        new Random(7).nextBytes(model);
        c.request(CMD_WRITE, 0, 1, 0, SIZE, model);
        assertEquals(0, c.simpleReply(1));
        return c;
    }

    /** One 4 KiB read at a random block, its reply checked against the model. */
    private void read(RawClient c, Random rnd, long cookie) throws IOException {
        int at = rnd.nextInt(SIZE / BLOCK) * BLOCK;
        c.request(CMD_READ, 0, cookie, at, BLOCK, null);
        assertEquals(0, c.simpleReply(cookie));
        byte[] got = new byte[BLOCK];
        c.in.readFully(got);
        assertArrayEquals(Arrays.copyOfRange(model, at, at + BLOCK), got, "read at " + at);
    }

    @ParameterizedTest
    @ValueSource(strings = {"tcp", "unix"})
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void aBusyConnectionFindsItsNextRequestByPolling(String transport) throws Exception {
        try (Fixture fx = new Fixture(tmp)) {
            // 200 ms: a poll ends as soon as the request is there, so only a stalled client waits it out
            NbdService nbd = start(fx, 200_000);
            try (RawClient c = connect(nbd, transport)) {
                Random rnd = new Random(1);
                for (int i = 0; i < 300; i++) {
                    read(c, rnd, 10 + i);
                }
            }
            long[] polls = nbd.polls();
            // The first requests come before the connection is busy, and a client stalled by a
            // loaded machine for 200 ms makes a poll miss; most find their request.
            assertTrue(polls[0] >= 150, "polls that found the next request: " + polls[0] + ", missed: " + polls[1]);
        }
    }

    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void noPollWhenSetToZero() throws Exception {
        try (Fixture fx = new Fixture(tmp)) {
            NbdService nbd = start(fx, 0);
            try (RawClient c = connect(nbd, "tcp")) {
                Random rnd = new Random(2);
                for (int i = 0; i < 100; i++) {
                    read(c, rnd, 10 + i);
                }
            }
            assertArrayEquals(new long[] {0, 0}, nbd.polls());
        }
    }

    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void aClientSlowerThanThePollIsPolledLessAndLess() throws Exception {
        try (Fixture fx = new Fixture(tmp)) {
            NbdService nbd = start(fx, 1000); // 1 ms
            try (RawClient c = connect(nbd, "tcp")) {
                Random rnd = new Random(3);
                long cookie = 10;
                for (int i = 0; i < 20; i++) { // busy from here on
                    read(c, rnd, cookie++);
                }
                long[] before = nbd.polls();
                // 20 ms between a reply and the next request: a 1 ms poll cannot find it.
                for (int i = 0; i < 64; i++) {
                    Thread.sleep(20);
                    read(c, rnd, cookie++);
                }
                long[] slow = nbd.polls();
                long misses = slow[1] - before[1];
                // Each miss doubles the waits skipped before the next poll (1, 2, 4 ... 64): six
                // or seven polls in 64 waits, where polling every wait would miss 64 times.
                assertTrue(misses >= 3 && misses <= 12, "polls that missed in 64 slow waits: " + misses);

                // A client fast again is found by polling again once the skipped waits are over.
                nbd.pollMicros(200_000);
                for (int i = 0; i < 200; i++) {
                    read(c, rnd, cookie++);
                }
                long hits = nbd.polls()[0] - slow[0];
                assertTrue(hits >= 60, "polls that found the request after the client sped up: " + hits);
            }
        }
    }
}

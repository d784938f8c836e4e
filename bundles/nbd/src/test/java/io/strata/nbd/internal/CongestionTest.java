package io.strata.nbd.internal;

import static io.strata.nbd.internal.Protocol.CMD_READ;
import static io.strata.nbd.internal.Protocol.CMD_WRITE;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.strata.api.service.VolumeRef;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The congestion control of TCP connections from this host ({@code tcp.congestion.local}),
 * read back from the kernel with {@code ss} on the server's side of a real loopback
 * connection, while the connection carries 1 MiB writes and reads (the replies it paces);
 * on an unpaced connection large reads are copied, not sent with sendfile.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class CongestionTest {
    private static final int SIZE = 4 << 20;

    @TempDir
    Path tmp;

    private static String hostDefault() throws IOException {
        return Files.readString(Path.of("/proc/sys/net/ipv4/tcp_congestion_control")).strip();
    }

    /** @return the algorithm the kernel shows for the one established socket on that side of the port */
    private static String algorithm(String side, int port) throws IOException, InterruptedException {
        Process p = new ProcessBuilder("ss", "-Htin", "state", "established", "( " + side + " = :" + port + " )")
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), out);
        String[] lines = out.strip().split("\n");
        assertEquals(2, lines.length, "one socket (an address line and an info line): " + out);
        // the info line: the options (ts, sack, ecn, ecnseen, fastopen) where negotiated, then the algorithm
        for (String token : lines[1].strip().split("\\s+")) {
            if (!java.util.Set.of("ts", "sack", "ecn", "ecnseen", "fastopen").contains(token)) {
                return token;
            }
        }
        throw new AssertionError("no algorithm in " + out);
    }

    /** Writes and reads back 4 MiB in 1 MiB requests, each reply checked. */
    private static void roundTrip(RawClient c) throws IOException {
        byte[] data = new byte[SIZE];
        new Random(3).nextBytes(data);
        long cookie = 1;
        for (int at = 0; at < SIZE; at += 1 << 20) {
            byte[] part = java.util.Arrays.copyOfRange(data, at, at + (1 << 20));
            c.request(CMD_WRITE, 0, cookie, at, part.length, part);
            assertEquals(0, c.simpleReply(cookie++));
        }
        for (int at = 0; at < SIZE; at += 1 << 20) {
            c.request(CMD_READ, 0, cookie, at, 1 << 20, null);
            assertEquals(0, c.simpleReply(cookie++));
            byte[] got = new byte[1 << 20];
            c.in.readFully(got);
            assertArrayEquals(java.util.Arrays.copyOfRange(data, at, at + (1 << 20)), got, "at " + at);
        }
    }

    /**
     * Serves a raw volume through the counting handle and round-trips 4 MiB on one connection.
     *
     * @return how many of the 1 MiB reads were sent from the image file (sendfile)
     */
    private int serve(String configured, String expected) throws Exception {
        try (Fixture fx = new Fixture(tmp)) {
            fx.volume("v", "raw", SIZE);
            VolumeRef v = new VolumeRef("local", "v");
            fx.broken.add(v); // the handle that counts file slices; never gone
            NbdService nbd = fx.start();
            if (configured != null) {
                nbd.localCongestion(configured);
            }
            nbd.add(v, null, false);
            try (RawClient c = new RawClient(nbd.port())) {
                c.hello().go("v"); // the greeting comes after the accept, which set the algorithm
                assertEquals(expected, algorithm("sport", nbd.port()), "the server's side");
                assertEquals(hostDefault(), algorithm("dport", nbd.port()), "the client's side is the client's");
                roundTrip(c);
            }
            return fx.slices.get();
        }
    }

    @Test
    void localConnectionsUseRenoByDefaultAndCopyLargeReads() throws Exception {
        assertEquals(0, serve(null, "reno"), "no read sent by sendfile on an unpaced local connection");
    }

    @Test
    void anEmptySettingKeepsTheHostsDefaultAndSendfile() throws Exception {
        String host = hostDefault();
        int slices = serve("", host);
        if (!host.equals("reno") && !host.equals("cubic")) {
            assertEquals(SIZE >> 20, slices, "every 1 MiB read sent from the image file");
        }
    }

    @Test
    void anAlgorithmTheKernelLacksLeavesTheHostsDefaultAndServes() throws Exception {
        serve("nosuchcc", hostDefault());
    }

    @Test
    void aNameThatCannotBeAnAlgorithmLeavesTheHostsDefaultAndServes() throws Exception {
        serve("../reno", hostDefault());
    }
}

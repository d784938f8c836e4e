package io.strata.posix;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** {@link Sockets} on real loopback TCP sockets: the kernel's own view of each option. */
class SocketsTest {
    private ServerSocketChannel listener;
    private SocketChannel client;
    private SocketChannel accepted;

    @BeforeEach
    void connect() throws IOException {
        listener = ServerSocketChannel.open().bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        client = SocketChannel.open(listener.getLocalAddress());
        accepted = listener.accept();
    }

    @AfterEach
    void close() throws IOException {
        for (var c : new java.io.Closeable[] {accepted, client, listener}) {
            if (c != null) {
                c.close();
            }
        }
    }

    private static String hostDefault() throws IOException {
        return Files.readString(Path.of("/proc/sys/net/ipv4/tcp_congestion_control")).strip();
    }

    @Test
    void aSocketStartsWithTheHostsAlgorithmAndTakesReno() throws IOException {
        // the build's surefire runs with sun.nio.ch exported, as bin/setenv runs Karaf
        assertTrue(Sockets.descriptor(accepted).isPresent(), "the test JVM exports sun.nio.ch");
        assertEquals(hostDefault(), Sockets.congestionControl(accepted));

        Sockets.setCongestionControl(accepted, "reno");

        assertEquals("reno", Sockets.congestionControl(accepted));
        assertEquals(hostDefault(), Sockets.congestionControl(client), "only that socket changed");
        // and the socket still carries data both ways
        client.write(java.nio.ByteBuffer.wrap(new byte[] {1, 2, 3}));
        java.nio.ByteBuffer got = java.nio.ByteBuffer.allocate(3);
        while (got.hasRemaining()) {
            accepted.read(got);
        }
        assertEquals(3, got.get(2));
    }

    @Test
    void anAlgorithmTheKernelLacksIsRefusedAndChangesNothing() throws IOException {
        String before = Sockets.congestionControl(accepted);

        IOException e = assertThrows(IOException.class, () -> Sockets.setCongestionControl(accepted, "nosuchcc"));

        assertTrue(e.getMessage().contains("nosuchcc") && e.getMessage().contains("no such algorithm"),
                e.getMessage());
        assertEquals(before, Sockets.congestionControl(accepted));
    }

    @Test
    void namesThatCannotBeAnAlgorithmAreRejectedBeforeTheKernel() {
        for (String bad : new String[] {"", "../reno", "reno\0", "a name", "sixteen-chars-xx"}) {
            assertThrows(IllegalArgumentException.class, () -> Sockets.setCongestionControl(accepted, bad), bad);
        }
        assertThrows(IllegalArgumentException.class, () -> Sockets.setCongestionControl(accepted, null));
    }

    @Test
    void aClosedSocketHasNoDescriptorToSet() throws IOException {
        accepted.close();

        // its old number may already be another file's: nothing is set through it
        assertTrue(Sockets.descriptor(accepted).isEmpty());
        IOException e = assertThrows(IOException.class, () -> Sockets.setCongestionControl(accepted, "reno"));

        assertTrue(e.getMessage().contains("closed"), e.getMessage());
    }
}

package io.strata.nas.internal.rpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import java.io.DataInputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The client against a server that reads calls and never answers: an unanswered call is sent
 * again with its xid on the next connection (a hard mount), except a call that was out while
 * this process stood still (a frozen host), which fails instead, since another host may own the
 * data by the time it would arrive.
 */
@Timeout(60)
class RpcClientTest {
    private ServerSocket server;
    private final BlockingQueue<Integer> received = new LinkedBlockingQueue<>();
    private final BlockingQueue<Socket> connections = new LinkedBlockingQueue<>();
    private Thread acceptor;
    private RpcClient client;

    @BeforeEach
    void startServer() throws IOException {
        server = new ServerSocket();
        server.bind(new InetSocketAddress("127.0.0.1", 0));
        acceptor = new Thread(() -> {
            while (!server.isClosed()) {
                try {
                    Socket s = server.accept();
                    connections.add(s);
                    Thread reader = new Thread(() -> readCalls(s));
                    reader.setDaemon(true);
                    reader.start();
                } catch (IOException e) {
                    return;
                }
            }
        });
        acceptor.setDaemon(true);
        acceptor.start();
        client = new RpcClient("test", (InetSocketAddress) server.getLocalSocketAddress(), 100003, 3,
                new Auth("test", 0, 0), new RpcClient.Options(2_000, 30_000, 30_000, 1 << 20));
    }

    private void readCalls(Socket s) {
        try (DataInputStream in = new DataInputStream(s.getInputStream())) {
            while (true) {
                int length = in.readInt() & 0x7fffffff;
                byte[] body = new byte[length];
                in.readFully(body);
                received.add(java.nio.ByteBuffer.wrap(body).getInt());
            }
        } catch (IOException e) {
            // connection closed
        }
    }

    @AfterEach
    void stop() throws IOException {
        client.close();
        server.close();
        for (Socket s : connections) {
            s.close();
        }
    }

    private Socket dropConnection() throws Exception {
        Socket first = connections.poll(10, TimeUnit.SECONDS);
        first.close();
        return first;
    }

    @Test
    void anUnansweredCallIsSentAgainWithItsXidOnTheNextConnection() throws Exception {
        CompletableFuture<Xdr.In> f = client.call(0, "NULL", new Xdr.Out(0), null);
        Integer xid = received.poll(10, TimeUnit.SECONDS);
        dropConnection();
        assertEquals(xid, received.poll(10, TimeUnit.SECONDS), "the same call again");
        assertTrue(!f.isDone(), "still waiting for its answer");
    }

    @Test
    void aCallOutWhileThisProcessStoodStillIsNeverSentOnAnotherConnection() throws Exception {
        CompletableFuture<Xdr.In> f = client.call(0, "NULL", new Xdr.Out(0), null);
        Integer xid = received.poll(10, TimeUnit.SECONDS);
        client.stalled(TimeUnit.SECONDS.toNanos(20));
        dropConnection();
        ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(10, TimeUnit.SECONDS));
        StorageException cause = (StorageException) e.getCause();
        assertEquals(ErrorCode.DEVICE_UNAVAILABLE, cause.code());
        assertTrue(cause.getMessage().contains("not sent again"), cause.getMessage());
        // a new call goes out on the new connection (beside the client's own probe); the stale one never
        client.call(0, "NULL", new Xdr.Out(0), null);
        Integer next = received.poll(10, TimeUnit.SECONDS);
        assertTrue(next != null && !next.equals(xid), "a new call, not the stale one: " + next);
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(1);
        for (Integer more; (more = received.poll(end - System.nanoTime(), TimeUnit.NANOSECONDS)) != null;) {
            assertTrue(!more.equals(xid), "the stale call was sent again");
        }
    }
}

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
    /**
     * When set, called with each call's xid and its connection's output: the test's server
     * answering (or not, or half).
     */
    private volatile Answer answer;

    @FunctionalInterface
    interface Answer {
        void to(int xid, java.io.OutputStream out) throws IOException;
    }
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

    /** When set, the server stops 64 KiB into the next large record until it opens. */
    private volatile java.util.concurrent.CountDownLatch pauseInRecord;
    private final java.util.concurrent.CountDownLatch pausedInRecord = new java.util.concurrent.CountDownLatch(1);
    /** The lengths of the records a connection ended in the middle of. */
    private final BlockingQueue<Integer> cutShort = new LinkedBlockingQueue<>();

    private void readCalls(Socket s) {
        try (DataInputStream in = new DataInputStream(s.getInputStream())) {
            while (true) {
                int length = in.readInt() & 0x7fffffff;
                byte[] body = new byte[length];
                int at = 0;
                java.util.concurrent.CountDownLatch pause = pauseInRecord;
                if (pause != null && length > 65536) {
                    in.readFully(body, 0, 65536);
                    at = 65536;
                    pausedInRecord.countDown();
                    pause.await();
                }
                try {
                    in.readFully(body, at, length - at);
                } catch (java.io.EOFException e) {
                    cutShort.add(length);
                    throw e;
                }
                int xid = java.nio.ByteBuffer.wrap(body).getInt();
                received.add(xid);
                Answer a = answer;
                if (a != null) {
                    a.to(xid, s.getOutputStream());
                }
            }
        } catch (IOException e) {
            // connection closed
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
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

    /** A reply as a server sends it: accepted, status 0, then {@code data} as a variable-length opaque. */
    private static byte[] dataReply(int xid, int status, byte[] data, int cut) {
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(4 + 28 + 4 + data.length + 3);
        int len = 24 + 4 + (status == 0 ? 4 + data.length + Xdr.pad(data.length) : 0);
        b.putInt(0x80000000 | len).putInt(xid).putInt(1).putInt(0).putInt(0).putInt(0).putInt(0).putInt(status);
        if (status == 0) {
            b.putInt(data.length).put(data).put(new byte[Xdr.pad(data.length)]);
        }
        byte[] all = java.util.Arrays.copyOf(b.array(), 4 + len);
        return cut < 0 ? all : java.util.Arrays.copyOf(all, cut);
    }

    private static final RpcClient.Bulk STATUS_THEN_DATA = results -> results.int32() == 0 ? (int) results.uint32() : -1;

    private static byte[] pattern(int n, int seed) {
        byte[] b = new byte[n];
        new java.util.Random(seed).nextBytes(b);
        return b;
    }

    @Test
    void bulkDataGoesFromTheConnectionStraightIntoTheCallersBuffer() throws Exception {
        byte[] data = pattern(100_003, 1);
        answer = (xid, out) -> out.write(dataReply(xid, 0, data, -1));
        java.nio.ByteBuffer sink = java.nio.ByteBuffer.allocateDirect(200_000);
        sink.position(7);
        Xdr.In in = client.call(6, "READ", new Xdr.Out(0), null, sink, STATUS_THEN_DATA).get(10, TimeUnit.SECONDS);
        assertEquals(7 + data.length, sink.position(), "advanced by the data");
        assertEquals(0, in.int32());
        java.nio.ByteBuffer other = java.nio.ByteBuffer.allocate(200_000);
        assertEquals(data.length, in.opaqueInto(other, 1 << 20), "the length, without copying");
        assertEquals(0, other.position());
        byte[] got = new byte[data.length];
        sink.flip().position(7);
        sink.get(got);
        org.junit.jupiter.api.Assertions.assertArrayEquals(data, got);
    }

    @Test
    void aBulkReplyCutShortByABrokenConnectionIsReadAgainFromTheStartOfTheBuffer() throws Exception {
        byte[] data = pattern(300_000, 2);
        java.util.concurrent.atomic.AtomicInteger replies = new java.util.concurrent.atomic.AtomicInteger();
        answer = (xid, out) -> {
            if (replies.getAndIncrement() == 0) {
                out.write(dataReply(xid, 0, pattern(300_000, 3), 150_000)); // half, then the server goes
                out.flush();
                throw new IOException("gone");
            }
            out.write(dataReply(xid, 0, data, -1));
        };
        java.nio.ByteBuffer sink = java.nio.ByteBuffer.allocate(300_000);
        CompletableFuture<Xdr.In> f = client.call(6, "READ", new Xdr.Out(0), null, sink, STATUS_THEN_DATA);
        received.poll(10, TimeUnit.SECONDS);
        dropConnection();
        f.get(20, TimeUnit.SECONDS);
        assertEquals(2, replies.get());
        assertEquals(data.length, sink.position());
        org.junit.jupiter.api.Assertions.assertArrayEquals(data, sink.array());
    }

    @Test
    void aReplyWithoutBulkDataIsDecodedAsUsual() throws Exception {
        answer = (xid, out) -> out.write(dataReply(xid, 70, new byte[0], -1));
        java.nio.ByteBuffer sink = java.nio.ByteBuffer.allocate(4096);
        Xdr.In in = client.call(6, "READ", new Xdr.Out(0), null, sink, STATUS_THEN_DATA).get(10, TimeUnit.SECONDS);
        assertEquals(70, in.int32());
        assertEquals(0, sink.position());
        // a small one (shorter than the header read ahead) too
        answer = (xid, out) -> out.write(dataReply(xid, 0, pattern(10, 4), -1));
        in = client.call(6, "READ", new Xdr.Out(0), null, sink, STATUS_THEN_DATA).get(10, TimeUnit.SECONDS);
        assertEquals(0, in.int32());
        assertEquals(10, in.opaqueInto(sink, 100));
        assertEquals(10, sink.position());
    }

    private static final StorageException REFUSED = new StorageException(ErrorCode.DEVICE_UNAVAILABLE,
            "this host's lease expired");

    /** A fence that passes while {@code open} is true. */
    private static io.strata.api.device.WriteFence fence(java.util.concurrent.atomic.AtomicBoolean open) {
        return () -> {
            if (!open.get()) {
                throw REFUSED;
            }
        };
    }

    @Test
    void aCallWhoseFenceRefusesIsNeverSent() throws Exception {
        assertTrue(client.awaitConnected(10_000));
        CompletableFuture<Xdr.In> f = client.call(7, "WRITE", new Xdr.Out(0), java.nio.ByteBuffer.wrap(pattern(4096, 5)),
                null, null, fence(new java.util.concurrent.atomic.AtomicBoolean(false)));
        ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(10, TimeUnit.SECONDS));
        assertTrue(e.getCause() == REFUSED, "failed with what the fence threw: " + e.getCause());
        // the connection is still up: the next call is the first the server gets
        CompletableFuture<Xdr.In> next = client.call(0, "NULL", new Xdr.Out(0), null);
        Integer first = received.poll(10, TimeUnit.SECONDS);
        assertTrue(first != null && !next.isDone(), "the next call went out");
        assertEquals(1, connections.size(), "on the same connection");
        assertTrue(received.poll(500, TimeUnit.MILLISECONDS) == null, "nothing else: the refused call never went out");
    }

    @Test
    void anUnansweredCallIsNotSentAgainOnceItsFenceRefuses() throws Exception {
        java.util.concurrent.atomic.AtomicBoolean open = new java.util.concurrent.atomic.AtomicBoolean(true);
        CompletableFuture<Xdr.In> f = client.call(7, "WRITE", new Xdr.Out(0), java.nio.ByteBuffer.wrap(pattern(4096, 6)),
                null, null, fence(open));
        Integer xid = received.poll(10, TimeUnit.SECONDS);
        assertTrue(xid != null, "sent while the fence passed");
        open.set(false); // the lease expired while the call was out
        dropConnection();
        ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(10, TimeUnit.SECONDS));
        assertTrue(e.getCause() == REFUSED, "failed with what the fence threw: " + e.getCause());
        client.call(0, "NULL", new Xdr.Out(0), null);
        Integer next = received.poll(10, TimeUnit.SECONDS);
        assertTrue(next != null && !next.equals(xid), "a new call on the new connection, not the refused one: " + next);
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(1);
        for (Integer more; (more = received.poll(end - System.nanoTime(), TimeUnit.NANOSECONDS)) != null;) {
            assertTrue(!more.equals(xid), "the refused call was sent again");
        }
    }

    /**
     * The case of a host frozen with a large write half in its socket: the server has the start
     * of the record, the rest waits for room. When the lease has expired by the time there is
     * room, the rest is not sent: the connection is dropped, so the server never has the whole
     * record and never runs the call. (A blocking write would carry the rest on by itself.)
     */
    @Test
    void aFenceThatRefusesWhileACallIsGoingOutDropsTheConnectionSoTheServerNeverRunsIt() throws Exception {
        pauseInRecord = new java.util.concurrent.CountDownLatch(1);
        int size = 48 << 20; // far more than the socket buffers of both ends hold
        RpcClient big = new RpcClient("test-big", (InetSocketAddress) server.getLocalSocketAddress(), 100003, 3,
                new Auth("test", 0, 0), new RpcClient.Options(2_000, 30_000, 60_000, size + (1 << 20)));
        try {
            assertTrue(big.awaitConnected(10_000));
            java.util.concurrent.atomic.AtomicBoolean open = new java.util.concurrent.atomic.AtomicBoolean(true);
            java.nio.ByteBuffer data = java.nio.ByteBuffer.allocateDirect(size);
            CompletableFuture<CompletableFuture<Xdr.In>> sending = CompletableFuture.supplyAsync(
                    () -> big.call(7, "WRITE", new Xdr.Out(0), data, null, null, fence(open)));
            assertTrue(pausedInRecord.await(10, TimeUnit.SECONDS), "the server has the start of the record");
            open.set(false);
            pauseInRecord.countDown(); // room again: the rest would go now
            Integer cut = cutShort.poll(20, TimeUnit.SECONDS);
            assertTrue(cut != null && cut > size, "the connection ended inside the record: " + cut);
            CompletableFuture<Xdr.In> f = sending.get(20, TimeUnit.SECONDS);
            ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(10, TimeUnit.SECONDS));
            assertTrue(e.getCause() == REFUSED, "failed with what the fence threw: " + e.getCause());
            assertTrue(received.isEmpty(), "the server never had a whole call: " + received);
            // the client connects again and goes on with calls the fence lets through
            pauseInRecord = null;
            answer = (xid, out) -> out.write(dataReply(xid, 0, new byte[0], -1));
            big.call(0, "NULL", new Xdr.Out(0), null).get(20, TimeUnit.SECONDS);
        } finally {
            big.close();
        }
    }
}

package io.strata.nbd.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.Socket;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.nio.charset.StandardCharsets;

/** A hand-driven NBD client for protocol tests: every byte on the wire is the test's. */
final class RawClient implements AutoCloseable {
    /** The TCP socket; null for a Unix socket ({@link #RawClient(Path)}). */
    final Socket socket;
    private final java.io.Closeable connection;
    final DataInputStream in;
    final DataOutputStream out;
    int serverFlags;

    RawClient(int port) throws IOException {
        socket = new Socket("127.0.0.1", port);
        socket.setSoTimeout(10_000);
        socket.setTcpNoDelay(true); // as NBD clients do: no request waits for an acknowledgement
        connection = socket;
        in = new DataInputStream(new BufferedInputStream(socket.getInputStream()));
        out = new DataOutputStream(socket.getOutputStream());
    }

    /** A client of the server's Unix domain socket (its reads have no timeout). */
    RawClient(Path unixSocket) throws IOException {
        SocketChannel ch = SocketChannel.open(UnixDomainSocketAddress.of(unixSocket));
        socket = null;
        connection = ch;
        // Not Channels.newInputStream/newOutputStream: on JDK 17 their reads and writes take the
        // channel's blocking lock, so a thread waiting for replies would stop another sending.
        in = new DataInputStream(new BufferedInputStream(new java.io.InputStream() {
            @Override
            public int read() throws IOException {
                byte[] one = new byte[1];
                return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
            }

            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                return len == 0 ? 0 : ch.read(ByteBuffer.wrap(b, off, len));
            }
        }));
        out = new DataOutputStream(new BufferedOutputStream(new java.io.OutputStream() {
            @Override
            public void write(int b) throws IOException {
                write(new byte[] {(byte) b}, 0, 1);
            }

            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                ByteBuffer src = ByteBuffer.wrap(b, off, len);
                while (src.hasRemaining()) {
                    ch.write(src);
                }
            }
        }, 64 << 10));
    }

    /** Reads the greeting and answers with fixed newstyle and no-zeroes. */
    RawClient hello() throws IOException {
        assertEquals(Protocol.NBDMAGIC, in.readLong());
        assertEquals(Protocol.IHAVEOPT, in.readLong());
        serverFlags = in.readUnsignedShort();
        out.writeInt(Protocol.CLIENT_FIXED_NEWSTYLE | Protocol.CLIENT_NO_ZEROES);
        out.flush();
        return this;
    }

    void option(int option, byte[] data) throws IOException {
        out.writeLong(Protocol.IHAVEOPT);
        out.writeInt(option);
        out.writeInt(data.length);
        out.write(data);
        out.flush();
    }

    record OptionReply(int option, int type, byte[] data) {
        String text() {
            return new String(data, StandardCharsets.UTF_8);
        }
    }

    OptionReply reply() throws IOException {
        assertEquals(Protocol.REPLY_MAGIC, in.readLong());
        int option = in.readInt();
        int type = in.readInt();
        byte[] data = new byte[in.readInt()];
        in.readFully(data);
        return new OptionReply(option, type, data);
    }

    static byte[] goData(String name, int... infos) {
        byte[] n = name.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(4 + n.length + 2 + 2 * infos.length).putInt(n.length).put(n)
                .putShort((short) infos.length);
        for (int i : infos) {
            b.putShort((short) i);
        }
        return b.array();
    }

    static byte[] metaData(String name, String... queries) {
        byte[] n = name.getBytes(StandardCharsets.UTF_8);
        int len = 4 + n.length + 4;
        for (String q : queries) {
            len += 4 + q.length();
        }
        ByteBuffer b = ByteBuffer.allocate(len).putInt(n.length).put(n).putInt(queries.length);
        for (String q : queries) {
            b.putInt(q.length()).put(q.getBytes(StandardCharsets.UTF_8));
        }
        return b.array();
    }

    /** GO for an export; returns {size, transmission flags}. */
    long[] go(String name) throws IOException {
        option(Protocol.OPT_GO, goData(name));
        long size = -1;
        int flags = -1;
        while (true) {
            OptionReply r = reply();
            if (r.type() == Protocol.REP_ACK) {
                return new long[] {size, flags};
            }
            assertEquals(Protocol.REP_INFO, r.type(), "reply to GO: " + r.text());
            ByteBuffer b = ByteBuffer.wrap(r.data());
            if (b.getShort() == Protocol.INFO_EXPORT) {
                size = b.getLong();
                flags = b.getShort() & 0xffff;
            }
        }
    }

    /** Sends a request, its header in one write (the server sees it arrive whole). */
    void request(int type, int flags, long cookie, long offset, long length, byte[] payload) throws IOException {
        java.nio.ByteBuffer h = java.nio.ByteBuffer.allocate(28);
        h.putInt(Protocol.REQUEST_MAGIC).putShort((short) flags).putShort((short) type).putLong(cookie)
                .putLong(offset).putInt((int) length);
        out.write(h.array());
        if (payload != null) {
            out.write(payload);
        }
        out.flush();
    }

    /** Reads a simple reply header; returns the error, checks the cookie. */
    int simpleReply(long cookie) throws IOException {
        assertEquals(Protocol.SIMPLE_REPLY_MAGIC, in.readInt());
        int error = in.readInt();
        assertEquals(cookie, in.readLong());
        return error;
    }

    record Chunk(int flags, int type, long cookie, byte[] payload) {
    }

    Chunk chunk() throws IOException {
        assertEquals(Protocol.STRUCTURED_REPLY_MAGIC, in.readInt());
        int flags = in.readUnsignedShort();
        int type = in.readUnsignedShort();
        long cookie = in.readLong();
        byte[] p = new byte[in.readInt()];
        in.readFully(p);
        return new Chunk(flags, type, cookie, p);
    }

    /** @return whether the server closed the connection (EOF) within the socket timeout */
    boolean closedByServer() {
        try {
            return in.read() < 0;
        } catch (IOException e) {
            return true; // reset
        }
    }

    @Override
    public void close() throws IOException {
        connection.close();
    }
}

package io.strata.nbd.internal;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.channels.WritableByteChannel;
import javax.net.ssl.SSLSocket;

/**
 * A connection after {@code NBD_OPT_STARTTLS}: bytes go through the JDK's TLS engine layered on
 * the client's socket. It always blocks (no {@link #tryWrite}), and file slices are sent through
 * it (read, then encrypted) rather than with sendfile. One reader (the connection's thread) and
 * one writer at a time (the holder of the connection's send lock), each with its own buffer.
 */
final class TlsWire implements Wire {
    private static final int CHUNK = 16 << 10;
    private final Wire plain;
    private final SSLSocket ssl;
    private final InputStream in;
    private final OutputStream out;
    private final byte[] readBuf = new byte[CHUNK];
    private final byte[] writeBuf = new byte[CHUNK];

    TlsWire(Wire plain, SSLSocket ssl) throws IOException {
        this.plain = plain;
        this.ssl = ssl;
        this.in = ssl.getInputStream();
        this.out = ssl.getOutputStream();
    }

    @Override
    public int read(ByteBuffer dst) throws IOException {
        int n = in.read(readBuf, 0, Math.min(readBuf.length, dst.remaining()));
        if (n > 0) {
            dst.put(readBuf, 0, n);
        }
        return n;
    }

    @Override
    public int write(ByteBuffer src) throws IOException {
        int total = 0;
        synchronized (writeBuf) {
            while (src.hasRemaining()) {
                int n = Math.min(writeBuf.length, src.remaining());
                src.get(writeBuf, 0, n);
                out.write(writeBuf, 0, n);
                total += n;
            }
        }
        return total;
    }

    @Override
    public long write(ByteBuffer[] srcs, int offset, int length) throws IOException {
        long total = 0;
        for (int i = offset; i < offset + length; i++) {
            total += write(srcs[i]);
        }
        return total;
    }

    @Override
    public long write(ByteBuffer[] srcs) throws IOException {
        return write(srcs, 0, srcs.length);
    }

    @Override
    public WritableByteChannel sink() {
        return this;
    }

    @Override
    public Socket socket() {
        return null; // TLS once is enough
    }

    @Override
    public void shutdown() {
        plain.shutdown();
    }

    @Override
    public boolean isOpen() {
        return plain.isOpen();
    }

    @Override
    public void close() throws IOException {
        try {
            ssl.close();
        } catch (IOException e) {
            // the socket is shut down already: no close_notify
        } finally {
            plain.close();
        }
    }
}

package io.strata.nbd.internal;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ClosedSelectorException;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.channels.WritableByteChannel;

/**
 * A client's socket. It starts in blocking mode. {@link #nonBlocking()} switches the socket
 * to non-blocking mode while keeping the blocking behaviour of {@link #read} and
 * {@link #write} (they wait in a selector of their own when the socket has nothing to read or
 * no room to write), so that {@link #tryWrite} can send what the socket takes at once from a
 * thread that must never wait on a client: a driver's I/O thread answering a request.
 */
final class SocketWire implements Wire {
    private final SocketChannel ch;
    private volatile boolean nonBlocking;
    private volatile boolean shut;
    /** Waits for data; used only by the connection's thread (the one reader). */
    private Selector readable;
    /** Waits for room; used only by a holder of the connection's send lock (one writer at a time). */
    private Selector writable;

    SocketWire(SocketChannel ch) {
        this.ch = ch;
    }

    @Override
    public synchronized boolean nonBlocking() throws IOException {
        if (nonBlocking) {
            return true;
        }
        if (shut) {
            throw new ClosedChannelException();
        }
        Selector r = Selector.open();
        Selector w = Selector.open();
        try {
            ch.configureBlocking(false);
            ch.register(r, SelectionKey.OP_READ);
            ch.register(w, SelectionKey.OP_WRITE);
        } catch (IOException | RuntimeException e) {
            r.close();
            w.close();
            throw e;
        }
        readable = r;
        writable = w;
        nonBlocking = true;
        return true;
    }

    @Override
    public int read(ByteBuffer dst) throws IOException {
        if (!nonBlocking) {
            return ch.read(dst);
        }
        while (true) {
            int n = ch.read(dst);
            if (n != 0 || !dst.hasRemaining()) {
                return n;
            }
            await(readable);
        }
    }

    @Override
    public long read(ByteBuffer[] dsts) throws IOException {
        if (!nonBlocking) {
            return ch.read(dsts);
        }
        while (true) {
            long n = ch.read(dsts);
            if (n != 0 || !dsts[dsts.length - 1].hasRemaining()) {
                return n;
            }
            await(readable);
        }
    }

    @Override
    public int write(ByteBuffer src) throws IOException {
        if (!nonBlocking) {
            return ch.write(src);
        }
        int n = 0;
        while (true) {
            n += ch.write(src);
            if (!src.hasRemaining()) {
                return n;
            }
            await(writable);
        }
    }

    @Override
    public long write(ByteBuffer[] srcs, int offset, int length) throws IOException {
        if (!nonBlocking) {
            return ch.write(srcs, offset, length);
        }
        long n = 0;
        while (true) {
            n += ch.write(srcs, offset, length);
            if (!srcs[offset + length - 1].hasRemaining()) {
                return n;
            }
            await(writable);
        }
    }

    @Override
    public long write(ByteBuffer[] srcs) throws IOException {
        return write(srcs, 0, srcs.length);
    }

    @Override
    public boolean readsArrived() {
        return true;
    }

    /**
     * Reads what the socket holds, TCP or Unix alike. In blocking mode the socket is switched to
     * non-blocking for the call and back ({@code fcntl} twice): the JDK cannot ask a Unix
     * socket what it holds ({@code FIONREAD}), and a non-blocking read answers that and reads
     * it in one.
     */
    @Override
    public int readArrived(ByteBuffer dst) throws IOException {
        return poll(dst, dst.limit(), 0);
    }

    /**
     * Non-blocking reads until {@code min} is reached or a read finds nothing after the time is
     * up, the socket switched once for the whole call.
     */
    @Override
    public int poll(ByteBuffer dst, int min, long nanos) throws IOException {
        if (!nonBlocking) {
            ch.configureBlocking(false);
        }
        try {
            int total = 0;
            long end = System.nanoTime() + nanos;
            while (dst.position() < min && dst.hasRemaining()) {
                int n = ch.read(dst);
                if (n < 0) {
                    return total > 0 ? total : -1;
                }
                total += n;
                if (n == 0) {
                    if (System.nanoTime() - end >= 0) {
                        break;
                    }
                    Thread.onSpinWait();
                }
            }
            return total;
        } finally {
            if (!nonBlocking) {
                ch.configureBlocking(true);
            }
        }
    }

    @Override
    public long tryWrite(ByteBuffer[] srcs) throws IOException {
        if (!nonBlocking) {
            throw new IllegalStateException("the socket is in blocking mode");
        }
        return ch.write(srcs);
    }

    /** Waits until the selector's one key is ready, or the wire is shut down. */
    private void await(Selector s) throws IOException {
        if (shut) {
            throw new ClosedChannelException();
        }
        try {
            s.select();
            s.selectedKeys().clear();
        } catch (ClosedSelectorException e) {
            throw new ClosedChannelException(); // closed meanwhile
        }
        if (shut) {
            throw new ClosedChannelException();
        }
    }

    @Override
    public boolean isOpen() {
        return ch.isOpen();
    }

    @Override
    public synchronized void close() throws IOException {
        shut = true;
        try {
            ch.close();
        } finally {
            if (readable != null) {
                readable.close();
                writable.close();
            }
        }
    }

    @Override
    public void shutdown() {
        shut = true;
        try {
            ch.shutdownInput();
            ch.shutdownOutput();
        } catch (IOException e) {
            // already shut down or closed
        }
        synchronized (this) {
            if (readable != null) {
                readable.wakeup();
                writable.wakeup();
            }
        }
    }

    /** The socket itself, for sendfile: only while the socket is in blocking mode. */
    @Override
    public java.net.Socket socket() {
        return nonBlocking ? null : ch.socket();
    }

    @Override
    public WritableByteChannel sink() {
        if (nonBlocking) {
            throw new IllegalStateException("file slices are sent only through a blocking socket");
        }
        return ch;
    }
}

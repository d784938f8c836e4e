package io.strata.nbd.internal;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ByteChannel;
import java.nio.channels.GatheringByteChannel;
import java.nio.channels.SocketChannel;
import java.nio.channels.WritableByteChannel;

/**
 * What a connection talks through: a socket ({@link SocketWire}), or (the fuzz target) bytes in
 * memory. Reads and writes block; {@link #shutdown} ends any of them in progress.
 */
interface Wire extends ByteChannel, GatheringByteChannel {
    /** Ends reads and writes in progress and to come; {@link #close} releases the descriptor. */
    void shutdown();

    /**
     * Reads into {@code dsts} in order, at least one byte unless all are full (a socket reads
     * them in one call). The default reads into the first buffer with room.
     *
     * @return the bytes read, or -1 at end of stream
     */
    default long read(ByteBuffer[] dsts) throws IOException {
        for (ByteBuffer b : dsts) {
            if (b.hasRemaining()) {
                return read(b);
            }
        }
        return 0;
    }

    /** @return the channel a file slice is sent to (the socket itself, so the JDK uses sendfile) */
    WritableByteChannel sink();

    /**
     * Lets {@link #tryWrite} be used from now on, keeping the blocking behaviour of the other
     * reads and writes. Called by the connection's thread while no other thread uses the wire.
     *
     * @return false when this wire cannot (the default)
     */
    default boolean nonBlocking() throws IOException {
        return false;
    }

    /**
     * Writes what the wire takes now without waiting, after {@link #nonBlocking} returned true.
     *
     * @return the bytes written, maybe 0
     */
    default long tryWrite(ByteBuffer[] srcs) throws IOException {
        throw new UnsupportedOperationException("this wire always blocks");
    }

    /** @return whether {@link #readArrived} can read without waiting (false: the default) */
    default boolean readsArrived() {
        return false;
    }

    /**
     * Reads into {@code dst} what the wire has already received, without waiting: until
     * {@code dst} is full or nothing more has arrived. A blocking socket is non-blocking during
     * the call, so the caller makes sure that no write runs meanwhile.
     *
     * @return the bytes read, maybe 0; -1 when the stream ended before any
     * @throws UnsupportedOperationException when {@link #readsArrived} is false
     */
    default int readArrived(ByteBuffer dst) throws IOException {
        throw new UnsupportedOperationException("this wire cannot read without waiting");
    }

    /**
     * Polls for input instead of sleeping: reads without waiting, again and again, until
     * {@code dst} holds {@code min} bytes from its start, the stream ends, or a read finds
     * nothing once {@code nanos} have passed. A blocking socket is non-blocking during the
     * call, so the caller makes sure that no write runs meanwhile. The default (a wire that
     * cannot) returns at once.
     *
     * @return the bytes read, maybe 0; -1 when the stream ended before any
     */
    default int poll(ByteBuffer dst, int min, long nanos) throws IOException {
        return 0;
    }

    /** @return the connected socket to start TLS on, or null when this wire cannot carry TLS */
    default java.net.Socket socket() {
        return null;
    }

    static Wire of(SocketChannel ch) {
        return new SocketWire(ch);
    }
}

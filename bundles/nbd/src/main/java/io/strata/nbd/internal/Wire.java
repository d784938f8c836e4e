package io.strata.nbd.internal;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ByteChannel;
import java.nio.channels.GatheringByteChannel;
import java.nio.channels.SocketChannel;
import java.nio.channels.WritableByteChannel;

/**
 * What a connection talks through: a blocking socket, or (the fuzz target) bytes in memory.
 * Reads and writes block; {@link #shutdown} ends any of them in progress.
 */
interface Wire extends ByteChannel, GatheringByteChannel {
    /** Ends reads and writes in progress and to come; {@link #close} releases the descriptor. */
    void shutdown();

    /** @return the channel a file slice is sent to (the socket itself, so the JDK uses sendfile) */
    WritableByteChannel sink();

    static Wire of(SocketChannel ch) {
        return new Wire() {
            @Override
            public int read(ByteBuffer dst) throws IOException {
                return ch.read(dst);
            }

            @Override
            public int write(ByteBuffer src) throws IOException {
                return ch.write(src);
            }

            @Override
            public long write(ByteBuffer[] srcs, int offset, int length) throws IOException {
                return ch.write(srcs, offset, length);
            }

            @Override
            public long write(ByteBuffer[] srcs) throws IOException {
                return ch.write(srcs);
            }

            @Override
            public boolean isOpen() {
                return ch.isOpen();
            }

            @Override
            public void close() throws IOException {
                ch.close();
            }

            @Override
            public void shutdown() {
                try {
                    ch.shutdownInput();
                    ch.shutdownOutput();
                } catch (IOException e) {
                    // already shut down or closed
                }
            }

            @Override
            public WritableByteChannel sink() {
                return ch;
            }
        };
    }
}

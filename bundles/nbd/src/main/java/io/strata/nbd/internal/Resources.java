package io.strata.nbd.internal;

import java.nio.ByteBuffer;
import java.util.concurrent.Executor;

/**
 * What the connections of one server share: the worker pool that reads the image for large
 * reads, the threads that send replies, and the direct memory they use, all bounded.
 *
 * @param workers large reads: read the image into pooled buffers, never touch a socket (a
 *     client that does not read its replies cannot hold one)
 * @param senders send the queued replies of a connection, one task per connection at a time,
 *     and its batches of buffered replies, one at a time (a stalled client blocks only its own)
 * @param replies the reply (and large write) budget: {@code memory.max.mb}
 * @param connections the two 256 KiB buffers of every connection (budget: max connections)
 * @param connectionChunks how many chunks of {@code replies} one connection may hold at once
 *     ({@code memory.connection.mb})
 * @param sendfile large reads of allocated blocks go from the image file to the socket
 * @param zeros 1 MiB of zeros (WRITE_ZEROES with NO_HOLE writes duplicates of it)
 * @param deviceIo reads and writes of disks whose I/O waits on a round trip
 *     ({@code VirtualDisk.concurrentIo()}, a LUN over the network): many threads, since each
 *     mostly waits; at most {@link Connection#ASYNC_IO} tasks per connection
 */
record Resources(Executor workers, Executor senders, BufferPool replies, BufferPool connections,
        int connectionChunks, boolean sendfile, ByteBuffer zeros, Executor deviceIo) {

    /** Without an executor of its own for device I/O: the workers do it. */
    Resources(Executor workers, Executor senders, BufferPool replies, BufferPool connections, int connectionChunks,
            boolean sendfile, ByteBuffer zeros) {
        this(workers, senders, replies, connections, connectionChunks, sendfile, zeros, workers);
    }

    /** Chunk of every pool: the size of a connection's input and output buffer. */
    static final int CHUNK = Connection.BUF;

    static ByteBuffer newZeros() {
        return ByteBuffer.allocateDirect(1 << 20);
    }
}

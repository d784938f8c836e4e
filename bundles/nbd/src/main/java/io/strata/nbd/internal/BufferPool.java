package io.strata.nbd.internal;

import java.nio.ByteBuffer;
import java.util.ArrayDeque;

/**
 * Direct buffers of one size, allocated on first use up to a budget and then reused, never
 * left to the garbage collector: what the server holds in direct memory is what this pool
 * accounts for. A request for more than is free fails at once ({@link #tryAcquire}); the
 * caller then takes a path that needs no pooled memory, so a client that holds buffers
 * (by not reading its replies) never makes another wait for them.
 */
final class BufferPool {
    private final int chunk;
    private final int maxChunks;
    private final ArrayDeque<ByteBuffer> free = new ArrayDeque<>();
    private int allocated;
    private int inUse;
    private int peakInUse;

    /** @param budget bytes of direct memory the pool may allocate, rounded down to whole chunks */
    BufferPool(int chunk, long budget) {
        if (chunk <= 0 || budget < 0) {
            throw new IllegalArgumentException("chunk " + chunk + ", budget " + budget);
        }
        this.chunk = chunk;
        this.maxChunks = (int) Math.min(Integer.MAX_VALUE, budget / chunk);
    }

    int chunkSize() {
        return chunk;
    }

    /** @return chunks needed for {@code bytes} (at least one) */
    int chunks(int bytes) {
        return Math.max(1, bytes / chunk + (bytes % chunk == 0 ? 0 : 1));
    }

    /**
     * @return buffers holding {@code bytes} in total, each cleared, the last limited to what is
     *     left; or null when the budget has not that much free
     */
    synchronized ByteBuffer[] tryAcquire(int bytes) {
        int n = chunks(bytes);
        if (n > maxChunks - inUse) {
            return null;
        }
        ByteBuffer[] out = new ByteBuffer[n];
        for (int i = 0; i < n; i++) {
            ByteBuffer b = free.poll();
            if (b == null) {
                b = aligned(chunk);
                allocated++;
            }
            b.clear();
            if (i == n - 1 && bytes % chunk != 0) {
                b.limit(bytes % chunk);
            }
            out[i] = b;
        }
        inUse += n;
        peakInUse = Math.max(peakInUse, inUse);
        return out;
    }

    /**
     * A direct buffer that starts on a page, as the page cache it is copied to and from does
     * (malloc gives 16-byte alignment); it costs one page more per chunk. No gain of its own
     * was measured apart from the other changes of the same day: the bench is noisier than it.
     */
    static ByteBuffer aligned(int size) {
        return ByteBuffer.allocateDirect(size + PAGE).alignedSlice(PAGE).limit(size).slice();
    }

    private static final int PAGE = 4096;

    /** Returns buffers taken with {@link #tryAcquire}; null is ignored. */
    synchronized void release(ByteBuffer[] buffers) {
        if (buffers == null) {
            return;
        }
        for (ByteBuffer b : buffers) {
            free.push(b);
        }
        inUse -= buffers.length;
    }

    /** @return bytes of direct memory allocated by the pool (never more than its budget) */
    synchronized long allocatedBytes() {
        return (long) allocated * chunk;
    }

    /** @return bytes handed out and not yet returned */
    synchronized long inUseBytes() {
        return (long) inUse * chunk;
    }

    synchronized long peakInUseBytes() {
        return (long) peakInUse * chunk;
    }

    long budgetBytes() {
        return (long) maxChunks * chunk;
    }
}

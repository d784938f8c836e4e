package io.strata.qcow2.internal;

import java.nio.ByteBuffer;

/**
 * L1 and L2 table entries: 64-bit big-endian words. Standard clusters only; the
 * decoders classify an entry, the encoders build one.
 */
final class Entries {
    /** Bit 63: the cluster's refcount is exactly one (may be written in place). */
    static final long COPIED = 1L << 63;
    /** Bit 62 of an L2 entry: a compressed cluster (Strata refuses them). */
    static final long COMPRESSED = 1L << 62;
    /** Bit 0 of an L2 entry: the cluster reads as zeros (version 3). */
    static final long ZERO = 1L;
    /** Bits 9..55: the host offset. */
    static final long OFFSET_MASK = 0x00ff_ffff_ffff_fe00L;

    /** What an L2 entry says about its guest cluster. */
    enum State {
        /** Nothing here: read the backing file, or zeros. */
        UNALLOCATED,
        /** Reads as zeros, no host cluster. */
        ZERO_PLAIN,
        /** Reads as zeros, host cluster kept (preallocated). */
        ZERO_ALLOC,
        /** Data in the host cluster. */
        NORMAL,
        /** Compressed data (not supported). */
        COMPRESSED
    }

    private Entries() {
    }

    static long offset(long entry) {
        return entry & OFFSET_MASK;
    }

    static State state(long l2Entry) {
        if ((l2Entry & COMPRESSED) != 0) {
            return State.COMPRESSED;
        }
        long off = offset(l2Entry);
        if ((l2Entry & ZERO) != 0) {
            return off == 0 ? State.ZERO_PLAIN : State.ZERO_ALLOC;
        }
        return off == 0 ? State.UNALLOCATED : State.NORMAL;
    }

    /** An entry for a host cluster this image alone references. */
    static long normal(long hostOffset) {
        return hostOffset | COPIED;
    }

    static long[] decode(byte[] table) {
        ByteBuffer b = ByteBuffer.wrap(table);
        long[] out = new long[table.length / 8];
        for (int i = 0; i < out.length; i++) {
            out[i] = b.getLong();
        }
        return out;
    }

    static byte[] encode(long[] entries, int from, int to) {
        ByteBuffer b = ByteBuffer.allocate((to - from) * 8);
        for (int i = from; i < to; i++) {
            b.putLong(entries[i]);
        }
        return b.array();
    }

    static byte[] encode(long entry) {
        return ByteBuffer.allocate(8).putLong(entry).array();
    }
}

package io.strata.qcow2.internal;

/** A refcount block: one cluster of 16-bit big-endian reference counts (refcount_order 4). */
final class RefcountBlock {
    private RefcountBlock() {
    }

    static int get(byte[] block, int index) {
        return ((block[2 * index] & 0xff) << 8) | (block[2 * index + 1] & 0xff);
    }

    static void set(byte[] block, int index, int value) {
        if (value < 0 || value > 0xffff) {
            throw new IllegalArgumentException("refcount " + value);
        }
        block[2 * index] = (byte) (value >>> 8);
        block[2 * index + 1] = (byte) value;
    }
}

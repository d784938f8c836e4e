package io.strata.vhd.internal;

import java.nio.ByteBuffer;

/**
 * The block allocation table: one big-endian 32-bit entry per block, the
 * sector offset of the block's bitmap in the file, or {@link #UNUSED}. The
 * table on disk is always padded to a whole sector with unused entries.
 */
final class Bat {
    /** 0xFFFFFFFF: the block is not allocated. */
    static final int UNUSED = 0xFFFFFFFF;

    private Bat() {
    }

    /** @return bytes the table of {@code entries} occupies on disk, rounded up to a sector */
    static long bytesOnDisk(long entries) {
        return (entries * 4 + 511) & ~511L;
    }

    /** @return the byte offset in the file of a block's bitmap */
    static long blockOffset(int entry) {
        return Integer.toUnsignedLong(entry) * 512;
    }

    /** @return the entry pointing at a bitmap at {@code fileOffset} (a sector multiple below 2 TiB) */
    static int entryFor(long fileOffset) {
        if ((fileOffset & 511) != 0 || (fileOffset >>> 9) >= 0xFFFFFFFFL) {
            throw new IllegalArgumentException("block offset not addressable by a BAT entry: " + fileOffset);
        }
        return (int) (fileOffset >>> 9);
    }

    static int[] decode(ByteBuffer data, int entries) {
        int[] out = new int[entries];
        data.asIntBuffer().get(out); // big-endian, as the buffer's order
        data.position(data.position() + entries * 4);
        return out;
    }

    /** @return a table of {@code entries} unused entries, padded to a sector, as bytes */
    static byte[] unused(int entries) {
        byte[] b = new byte[(int) bytesOnDisk(entries)];
        java.util.Arrays.fill(b, (byte) 0xff);
        return b;
    }

    /**
     * Encodes entries {@code [from, to)}, then unused entries up to the next sector
     * boundary when {@code padToSector}.
     */
    static ByteBuffer encode(int[] entries, int from, int to, boolean padToSector) {
        long bytes = (long) (to - from) * 4;
        long padded = padToSector ? ((from * 4L + bytes + 511) & ~511L) - from * 4L : bytes;
        ByteBuffer b = ByteBuffer.allocate((int) padded);
        b.asIntBuffer().put(entries, from, to - from);
        b.position((to - from) * 4);
        while (b.hasRemaining()) {
            b.putInt(UNUSED);
        }
        return b.flip();
    }
}

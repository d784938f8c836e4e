package io.strata.vhd.internal;

import java.util.Arrays;

/**
 * The bitmap in front of each data block: one bit per sector, most significant
 * bit first, padded to a whole sector. A set bit means the sector's data lives
 * in this file. Dynamic disks set every bit when a block is allocated (qemu does
 * the same and neither reads it back); differencing disks keep exact bits.
 */
final class SectorBitmap {
    private SectorBitmap() {
    }

    /** @return bytes of bitmap in front of a block of {@code blockSize} bytes */
    static int sizeFor(int blockSize) {
        int bits = blockSize / 512;
        return ((bits + 7) / 8 + 511) & ~511;
    }

    static byte[] allSet(int blockSize) {
        byte[] b = new byte[sizeFor(blockSize)];
        Arrays.fill(b, (byte) 0xff);
        return b;
    }

    static boolean isSet(byte[] bitmap, int sector) {
        return (bitmap[sector >>> 3] & (0x80 >>> (sector & 7))) != 0;
    }

    static void set(byte[] bitmap, int sector) {
        bitmap[sector >>> 3] |= (byte) (0x80 >>> (sector & 7));
    }
}

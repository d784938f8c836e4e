package io.strata.vhd.internal;

/**
 * The VHD checksum: the one's complement of the byte sum of a structure, taken
 * with its own checksum field counted as zero. Footer and dynamic header use it.
 */
final class Checksum {
    private Checksum() {
    }

    /**
     * @param data the encoded structure
     * @param checksumOffset where its 4-byte checksum field sits; those bytes are skipped
     */
    static int compute(byte[] data, int checksumOffset) {
        int sum = 0;
        for (int i = 0; i < data.length; i++) {
            if (i >= checksumOffset && i < checksumOffset + 4) {
                continue;
            }
            sum += data[i] & 0xff;
        }
        return ~sum;
    }
}

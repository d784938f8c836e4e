package io.strata.vhd.internal;

import java.nio.ByteBuffer;

/**
 * One of the eight 24-byte parent locator entries of the dynamic header. Unused
 * by fixed and dynamic disks (all zero); differencing disks (issue 3) point them
 * at the parent's path in several encodings.
 *
 * @param platformCode e.g. "W2ku" (0x5732) as an int, 0 when unused
 * @param dataSpace sectors reserved for the locator data
 * @param dataLength bytes of locator data
 * @param dataOffset absolute file offset of the locator data
 */
record ParentLocator(int platformCode, int dataSpace, int dataLength, long dataOffset) {
    static final int SIZE = 24;
    static final ParentLocator NONE = new ParentLocator(0, 0, 0, 0);

    void encode(ByteBuffer b) {
        b.putInt(platformCode).putInt(dataSpace).putInt(dataLength).putInt(0).putLong(dataOffset);
    }

    static ParentLocator decode(ByteBuffer b) {
        int platform = b.getInt();
        int space = b.getInt();
        int length = b.getInt();
        b.getInt(); // reserved
        return new ParentLocator(platform, space, length, b.getLong());
    }

    boolean isUsed() {
        return platformCode != 0;
    }
}

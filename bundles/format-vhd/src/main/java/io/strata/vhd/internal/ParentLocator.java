package io.strata.vhd.internal;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * One of the eight 24-byte parent locator entries of the dynamic header. Unused
 * by fixed and dynamic disks (all zero); differencing disks point them at the
 * parent's path, each platform code with its own encoding.
 *
 * @param platformCode e.g. "W2ku" (0x57326B75) as an int, 0 when unused
 * @param dataSpace room reserved for the locator data; the specification says sectors,
 *        some writers put bytes there (see {@link #spaceBytes()})
 * @param dataLength bytes of locator data
 * @param dataOffset absolute file offset of the locator data
 */
record ParentLocator(int platformCode, int dataSpace, int dataLength, long dataOffset) {
    static final int SIZE = 24;
    static final ParentLocator NONE = new ParentLocator(0, 0, 0, 0);
    /** Windows relative path, UTF-16LE, e.g. {@code .\parent.vhd}. */
    static final int W2RU = 0x57327275;
    /** Windows absolute path, UTF-16LE. */
    static final int W2KU = 0x57326B75;
    /** Deprecated Windows codes (relative, absolute) and Macintosh ones, recognized for the checker. */
    static final int WI2R = 0x57693272;
    static final int WI2K = 0x5769326B;
    static final int MAC = 0x4D616320;
    static final int MACX = 0x4D616358;

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

    static boolean knownCode(int code) {
        return code == W2RU || code == W2KU || code == WI2R || code == WI2K || code == MAC || code == MACX;
    }

    /**
     * The reserved room in bytes. The specification counts sectors; images in the wild
     * (Hyper-V among them) also store a byte count. A value below one sector can only be
     * sectors; a larger one that is a whole number of sectors is taken as bytes.
     *
     * @return bytes, or -1 for a value that is neither
     */
    long spaceBytes() {
        long s = Integer.toUnsignedLong(dataSpace);
        if (s < 512) {
            return s * 512;
        }
        return s % 512 == 0 ? s : -1;
    }

    /** @return the four platform code characters, for messages */
    String codeName() {
        byte[] b = ByteBuffer.allocate(4).putInt(platformCode).array();
        StringBuilder s = new StringBuilder();
        for (byte x : b) {
            s.append(x >= 0x20 && x < 0x7f ? String.valueOf((char) x) : "?");
        }
        return s.toString();
    }

    /** @return the path the locator data holds, decoded by platform code, NULs trimmed */
    static String decodePath(int code, byte[] data) {
        String s = code == MACX || code == MAC ? new String(data, StandardCharsets.UTF_8)
                : code == WI2R || code == WI2K ? new String(data, StandardCharsets.US_ASCII)
                : new String(data, StandardCharsets.UTF_16LE);
        int nul = s.indexOf('\0');
        return nul >= 0 ? s.substring(0, nul) : s;
    }

    /**
     * @return the last non-empty element of a Windows or POSIX path (a URL's too), "" for
     *         null or a path of separators only
     */
    static String fileName(String path) {
        if (path == null) {
            return "";
        }
        int end = path.length();
        while (end > 0 && (path.charAt(end - 1) == '\\' || path.charAt(end - 1) == '/')) {
            end--;
        }
        return lastElement(path.substring(0, end));
    }

    /** @return the last element of a Windows or POSIX path (a file:// URL's too) */
    static String lastElement(String path) {
        int cut = Math.max(path.lastIndexOf('\\'), path.lastIndexOf('/'));
        return path.substring(cut + 1);
    }
}

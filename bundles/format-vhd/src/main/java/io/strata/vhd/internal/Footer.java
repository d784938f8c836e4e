package io.strata.vhd.internal;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Objects;
import java.util.UUID;

/**
 * The 512-byte hard disk footer. Every field is big-endian. Fixed images carry it
 * at the end of the file; dynamic and differencing images carry it at the end
 * and a copy at offset 0.
 */
record Footer(
        int features,
        int formatVersion,
        long dataOffset,
        int timestamp,
        String creatorApp,
        int creatorVersion,
        int creatorHostOs,
        long originalSize,
        long currentSize,
        Geometry geometry,
        int diskTypeCode,
        UUID uniqueId,
        boolean savedState) {

    static final int SIZE = 512;
    static final byte[] COOKIE = "conectix".getBytes(StandardCharsets.US_ASCII);
    /** Bit 1 ("reserved") must always be set. */
    static final int FEATURES_RESERVED = 0x2;
    static final int FORMAT_VERSION = 0x00010000;
    /** Data offset of a fixed disk: no further structure. */
    static final long NO_DATA_OFFSET = 0xFFFFFFFFFFFFFFFFL;
    /** "Wi2k": the specification defines only Windows and Macintosh hosts. */
    static final int HOST_OS_WINDOWS = 0x5769326B;
    /** Seconds from the Unix epoch to the VHD epoch, 2000-01-01T00:00:00Z. */
    static final long VHD_EPOCH = 946684800L;

    private static final int CHECKSUM_OFFSET = 64;

    Footer {
        Objects.requireNonNull(creatorApp, "creatorApp");
        Objects.requireNonNull(geometry, "geometry");
        Objects.requireNonNull(uniqueId, "uniqueId");
        if (creatorApp.length() != 4) {
            throw new IllegalArgumentException("creator application must be 4 characters: '" + creatorApp + "'");
        }
    }

    /** @return the disk type, or null when the code is not one the specification defines */
    DiskType diskType() {
        return DiskType.ofCode(diskTypeCode);
    }

    Footer withSize(long newCurrentSize, Geometry newGeometry, String newCreatorApp) {
        return new Footer(features, formatVersion, dataOffset, timestamp, newCreatorApp, creatorVersion,
                creatorHostOs, originalSize, newCurrentSize, newGeometry, diskTypeCode, uniqueId, savedState);
    }

    Footer withType(DiskType type, long newDataOffset) {
        return new Footer(features, formatVersion, newDataOffset, timestamp, creatorApp, creatorVersion,
                creatorHostOs, originalSize, currentSize, geometry, type.code, uniqueId, savedState);
    }

    byte[] encode() {
        byte[] out = new byte[SIZE];
        ByteBuffer b = ByteBuffer.wrap(out); // big-endian by default
        b.put(COOKIE);
        b.putInt(features);
        b.putInt(formatVersion);
        b.putLong(dataOffset);
        b.putInt(timestamp);
        b.put(creatorApp.getBytes(StandardCharsets.ISO_8859_1));
        b.putInt(creatorVersion);
        b.putInt(creatorHostOs);
        b.putLong(originalSize);
        b.putLong(currentSize);
        b.putInt(geometry.encode());
        b.putInt(diskTypeCode);
        b.putInt(0); // checksum, filled below
        b.putLong(uniqueId.getMostSignificantBits());
        b.putLong(uniqueId.getLeastSignificantBits());
        b.put((byte) (savedState ? 1 : 0));
        // 427 reserved bytes stay zero
        ByteBuffer.wrap(out, CHECKSUM_OFFSET, 4).putInt(Checksum.compute(out, CHECKSUM_OFFSET));
        return out;
    }

    /** @return whether the 512 bytes start with the footer cookie */
    static boolean hasCookie(byte[] data) {
        for (int i = 0; i < COOKIE.length; i++) {
            if (data[i] != COOKIE[i]) {
                return false;
            }
        }
        return true;
    }

    /**
     * @param where names the copy being decoded, e.g. "the footer at the end of the file"
     * @throws Damage on a wrong cookie or a checksum mismatch
     */
    static Footer decode(byte[] data, String where) {
        if (data.length != SIZE) {
            throw new IllegalArgumentException("footer must be 512 bytes");
        }
        if (!hasCookie(data)) {
            throw new Damage(where + " has a wrong cookie (expected 'conectix')");
        }
        ByteBuffer b = ByteBuffer.wrap(data);
        b.position(8);
        int features = b.getInt();
        int version = b.getInt();
        long dataOffset = b.getLong();
        int timestamp = b.getInt();
        byte[] app = new byte[4];
        b.get(app);
        int creatorVersion = b.getInt();
        int hostOs = b.getInt();
        long originalSize = b.getLong();
        long currentSize = b.getLong();
        Geometry geometry = Geometry.decode(b.getInt());
        int type = b.getInt();
        int stored = b.getInt();
        UUID id = new UUID(b.getLong(), b.getLong());
        boolean saved = b.get() != 0;
        int computed = Checksum.compute(data, CHECKSUM_OFFSET);
        if (stored != computed) {
            throw new Damage(where + " has a bad checksum (stored 0x" + Integer.toHexString(stored)
                    + ", computed 0x" + Integer.toHexString(computed) + ")");
        }
        return new Footer(features, version, dataOffset, timestamp, new String(app, StandardCharsets.ISO_8859_1),
                creatorVersion, hostOs, originalSize, currentSize, geometry, type, id, saved);
    }
}

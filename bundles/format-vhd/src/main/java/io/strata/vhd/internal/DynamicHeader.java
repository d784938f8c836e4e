package io.strata.vhd.internal;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Objects;
import java.util.UUID;

/**
 * The 1024-byte dynamic disk header ("cxsparse"). The parent fields are decoded
 * and encoded already so differencing disks can be added without touching the
 * layout code; dynamic disks leave them zero.
 */
record DynamicHeader(
        long dataOffset,
        long tableOffset,
        int headerVersion,
        int maxTableEntries,
        int blockSize,
        UUID parentUniqueId,
        int parentTimestamp,
        String parentName,
        List<ParentLocator> parentLocators) {

    static final int SIZE = 1024;
    static final byte[] COOKIE = "cxsparse".getBytes(StandardCharsets.US_ASCII);
    static final int HEADER_VERSION = 0x00010000;
    static final long NO_DATA_OFFSET = 0xFFFFFFFFFFFFFFFFL;
    static final int LOCATORS = 8;
    static final UUID NO_PARENT = new UUID(0, 0);

    private static final int CHECKSUM_OFFSET = 36;
    private static final int PARENT_NAME_BYTES = 512;

    DynamicHeader {
        Objects.requireNonNull(parentUniqueId, "parentUniqueId");
        Objects.requireNonNull(parentName, "parentName");
        parentLocators = List.copyOf(parentLocators);
        if (parentLocators.size() != LOCATORS) {
            throw new IllegalArgumentException("a dynamic header has 8 parent locators");
        }
        if (parentName.getBytes(StandardCharsets.UTF_16BE).length > PARENT_NAME_BYTES) {
            throw new IllegalArgumentException("parent name longer than 256 UTF-16 units");
        }
    }

    /** A header for a dynamic disk without parent. */
    static DynamicHeader forDynamic(long tableOffset, int maxTableEntries, int blockSize) {
        return new DynamicHeader(NO_DATA_OFFSET, tableOffset, HEADER_VERSION, maxTableEntries, blockSize,
                NO_PARENT, 0, "", Collections.nCopies(LOCATORS, ParentLocator.NONE));
    }

    DynamicHeader withTable(long newTableOffset, int newMaxTableEntries) {
        return new DynamicHeader(dataOffset, newTableOffset, headerVersion, newMaxTableEntries, blockSize,
                parentUniqueId, parentTimestamp, parentName, parentLocators);
    }

    DynamicHeader withParent(UUID id, int timestamp, String name, List<ParentLocator> locators) {
        return new DynamicHeader(dataOffset, tableOffset, headerVersion, maxTableEntries, blockSize, id, timestamp,
                name, locators);
    }

    /** @return the same header with every parent field cleared, as a dynamic disk has it */
    DynamicHeader withoutParent() {
        return withParent(NO_PARENT, 0, "", Collections.nCopies(LOCATORS, ParentLocator.NONE));
    }

    /** @return the first used locator with the platform code, or null */
    ParentLocator locator(int platformCode) {
        for (ParentLocator l : parentLocators) {
            if (l.platformCode() == platformCode) {
                return l;
            }
        }
        return null;
    }

    byte[] encode() {
        byte[] out = new byte[SIZE];
        ByteBuffer b = ByteBuffer.wrap(out);
        b.put(COOKIE);
        b.putLong(dataOffset);
        b.putLong(tableOffset);
        b.putInt(headerVersion);
        b.putInt(maxTableEntries);
        b.putInt(blockSize);
        b.putInt(0); // checksum, filled below
        b.putLong(parentUniqueId.getMostSignificantBits());
        b.putLong(parentUniqueId.getLeastSignificantBits());
        b.putInt(parentTimestamp);
        b.putInt(0); // reserved
        b.put(parentName.getBytes(StandardCharsets.UTF_16BE));
        b.position(64 + PARENT_NAME_BYTES);
        for (ParentLocator l : parentLocators) {
            l.encode(b);
        }
        // 256 reserved bytes stay zero
        ByteBuffer.wrap(out, CHECKSUM_OFFSET, 4).putInt(Checksum.compute(out, CHECKSUM_OFFSET));
        return out;
    }

    /**
     * @param where names the structure, e.g. "the dynamic header at offset 512"
     * @throws Damage on a wrong cookie or a checksum mismatch
     */
    static DynamicHeader decode(byte[] data, String where) {
        if (data.length != SIZE) {
            throw new IllegalArgumentException("dynamic header must be 1024 bytes");
        }
        for (int i = 0; i < COOKIE.length; i++) {
            if (data[i] != COOKIE[i]) {
                throw new Damage(where + " has a wrong cookie (expected 'cxsparse')");
            }
        }
        ByteBuffer b = ByteBuffer.wrap(data);
        b.position(8);
        long dataOffset = b.getLong();
        long tableOffset = b.getLong();
        int version = b.getInt();
        int entries = b.getInt();
        int blockSize = b.getInt();
        int stored = b.getInt();
        UUID parent = new UUID(b.getLong(), b.getLong());
        int parentTimestamp = b.getInt();
        b.getInt();
        byte[] name = new byte[PARENT_NAME_BYTES];
        b.get(name);
        int len = 0;
        while (len + 1 < name.length && (name[len] != 0 || name[len + 1] != 0)) {
            len += 2;
        }
        List<ParentLocator> locators = new ArrayList<>(LOCATORS);
        for (int i = 0; i < LOCATORS; i++) {
            locators.add(ParentLocator.decode(b));
        }
        int computed = Checksum.compute(data, CHECKSUM_OFFSET);
        if (stored != computed) {
            throw new Damage(where + " has a bad checksum (stored 0x" + Integer.toHexString(stored)
                    + ", computed 0x" + Integer.toHexString(computed) + ")");
        }
        return new DynamicHeader(dataOffset, tableOffset, version, entries, blockSize, parent, parentTimestamp,
                new String(name, 0, len, StandardCharsets.UTF_16BE), locators);
    }

    /** @return unsigned max table entries */
    long entries() {
        return Integer.toUnsignedLong(maxTableEntries);
    }
}

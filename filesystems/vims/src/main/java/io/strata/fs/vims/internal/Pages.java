package io.strata.fs.vims.internal;

import java.nio.ByteBuffer;
import java.util.zip.CRC32C;

/**
 * The common frame of every VIMS metadata page (4 KiB): a header naming what the page is and
 * where it belongs, a version that grows by one at each rewrite, the filesystem's tag, and a
 * CRC32C of the whole page in its last four bytes. All integers are big-endian.
 *
 * <pre>
 * 0  u32 magic 'VIMS'    4 u16 type    6 u16 reserved
 * 8  u64 page number (where the page lives on the device, in pages)
 * 16 u64 version         24 u32 filesystem tag (CRC32C of the UUID)   28 u32 reserved
 * 32 .. 4091 payload     4092 u32 CRC32C of bytes 0..4091
 * </pre>
 */
final class Pages {
    static final int SIZE = 4096;
    static final int PAYLOAD = 32;
    static final int CRC_AT = SIZE - 4;
    static final int MAGIC = 0x56494D53; // "VIMS"

    static final int SUPER = 1;
    static final int NAMESPACE = 2;
    static final int DIRECTORY = 3;
    static final int DESCRIPTOR = 4;
    static final int BITMAP = 5;
    static final int POINTERS = 6;
    static final int JOURNAL_HEADER = 7;
    static final int JOURNAL_RECORD = 8;

    /** What a page read from the device turned out to be. */
    enum State {
        /** all zero: never written */
        ZERO,
        /** a sound page of the expected type, place and filesystem */
        VALID,
        /** anything else: torn, overwritten, moved, of another filesystem */
        DAMAGED
    }

    private Pages() {
    }

    static String typeName(int type) {
        return switch (type) {
            case SUPER -> "superblock";
            case NAMESPACE -> "namespace header";
            case DIRECTORY -> "directory page";
            case DESCRIPTOR -> "file descriptor";
            case BITMAP -> "allocation bitmap";
            case POINTERS -> "pointer page";
            case JOURNAL_HEADER -> "journal header";
            case JOURNAL_RECORD -> "journal record";
            default -> "page type " + type;
        };
    }

    static ByteBuffer allocate() {
        return ByteBuffer.allocate(SIZE);
    }

    /** Writes the header and the CRC; the payload must already be in place. */
    static ByteBuffer seal(ByteBuffer page, int type, long pageNo, long version, int tag) {
        page.putInt(0, MAGIC);
        page.putShort(4, (short) type);
        page.putShort(6, (short) 0);
        page.putLong(8, pageNo);
        page.putLong(16, version);
        page.putInt(24, tag);
        page.putInt(28, 0);
        page.putInt(CRC_AT, crc(page));
        return page;
    }

    static int crc(ByteBuffer page) {
        CRC32C c = new CRC32C();
        c.update(page.duplicate().position(0).limit(CRC_AT));
        return (int) c.getValue();
    }

    static long version(ByteBuffer page) {
        return page.getLong(16);
    }

    static int type(ByteBuffer page) {
        return page.getShort(4);
    }

    static State state(ByteBuffer page, int type, long pageNo, int tag) {
        if (isZero(page)) {
            return State.ZERO;
        }
        if (page.getInt(0) != MAGIC || page.getShort(4) != type || page.getLong(8) != pageNo
                || page.getInt(24) != tag || page.getInt(CRC_AT) != crc(page)) {
            return State.DAMAGED;
        }
        return State.VALID;
    }

    /** @return why a page is not valid, for messages; empty when it is */
    static String problem(ByteBuffer page, int type, long pageNo, int tag) {
        if (isZero(page)) {
            return "blank (all zeros)";
        }
        if (page.getInt(0) != MAGIC) {
            return "no VIMS magic";
        }
        if (page.getShort(4) != type) {
            return "holds a " + typeName(page.getShort(4)) + " instead";
        }
        if (page.getLong(8) != pageNo) {
            return "belongs at page " + page.getLong(8);
        }
        if (page.getInt(24) != tag) {
            return "belongs to another filesystem";
        }
        if (page.getInt(CRC_AT) != crc(page)) {
            return "checksum mismatch";
        }
        return "";
    }

    static boolean isZero(ByteBuffer page) {
        for (int i = 0; i < SIZE; i += 8) {
            if (page.getLong(i) != 0) {
                return false;
            }
        }
        return true;
    }

    /** Reads a length-prefixed UTF-8 string (u16 length). */
    static String string(ByteBuffer b, int at, int max) {
        int len = Short.toUnsignedInt(b.getShort(at));
        if (len > max) {
            return null;
        }
        byte[] bytes = new byte[len];
        b.get(at + 2, bytes);
        return new String(bytes, java.nio.charset.StandardCharsets.UTF_8);
    }

    /** Writes a length-prefixed UTF-8 string, zeroing the rest of its field. */
    static void putString(ByteBuffer b, int at, int max, String s) {
        byte[] bytes = s.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        if (bytes.length > max) {
            throw new IllegalArgumentException("string longer than " + max + " bytes");
        }
        b.putShort(at, (short) bytes.length);
        b.put(at + 2, bytes);
        for (int i = at + 2 + bytes.length; i < at + 2 + max; i++) {
            b.put(i, (byte) 0);
        }
    }

    static int tag(java.util.UUID uuid) {
        ByteBuffer b = ByteBuffer.allocate(16).putLong(uuid.getMostSignificantBits())
                .putLong(uuid.getLeastSignificantBits()).flip();
        CRC32C c = new CRC32C();
        c.update(b);
        int t = (int) c.getValue();
        return t == 0 ? 1 : t;
    }
}

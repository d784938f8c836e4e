package io.strata.fs.vims.internal;

import java.nio.ByteBuffer;

/**
 * A directory entry (256 bytes, 15 to a directory page, entry {@code i} at byte
 * {@code 32 + (i % 15) * 256} of directory page {@code i / 15}). Entry {@code i} names the file
 * whose descriptor is page {@code i} of the descriptor region.
 *
 * <pre>
 * 0 u8 state (0 free, 1 in use, 2 being deleted)   1 u8 reserved   2 u16 name length
 * 4 u32 slot of the host deleting it (state 2)      8 u64 generation (one more at each reuse)
 * 16 name, UTF-8, up to 240 bytes
 * </pre>
 */
record Entry(int index, int state, long generation, String name, int deleter) {
    static final int FREE = 0;
    static final int USED = 1;
    static final int DELETING = 2;
    static final int MAX_NAME = 240;

    static int offset(int index) {
        return Pages.PAYLOAD + (index % Superblock.ENTRIES_PER_PAGE) * Superblock.ENTRY_SIZE;
    }

    /** @return the entry, or null when its bytes make no sense */
    static Entry read(ByteBuffer page, int index) {
        int at = offset(index);
        int state = page.get(at);
        int len = Short.toUnsignedInt(page.getShort(at + 2));
        if (state < FREE || state > DELETING || len > MAX_NAME) {
            return null;
        }
        byte[] name = new byte[len];
        page.get(at + 16, name);
        return new Entry(index, state, page.getLong(at + 8), new String(name, java.nio.charset.StandardCharsets.UTF_8),
                page.getInt(at + 4));
    }

    void write(ByteBuffer page) {
        int at = offset(index);
        byte[] bytes = name.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        for (int i = 0; i < Superblock.ENTRY_SIZE; i++) {
            page.put(at + i, (byte) 0);
        }
        page.put(at, (byte) state);
        page.putShort(at + 2, (short) bytes.length);
        page.putInt(at + 4, deleter);
        page.putLong(at + 8, generation);
        page.put(at + 16, bytes);
    }

    Entry with(int newState, String newName, int newDeleter) {
        return new Entry(index, newState, generation, newName, newDeleter);
    }
}

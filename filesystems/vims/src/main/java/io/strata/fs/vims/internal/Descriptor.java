package io.strata.fs.vims.internal;

import java.nio.ByteBuffer;
import java.util.UUID;

/**
 * A file descriptor page (one per file, page {@code i} of the descriptor region for directory
 * entry {@code i}). Mutable: a copy of the page that is changed, then sealed with the next
 * version into a transaction.
 *
 * <pre>
 * 32 u64 generation (equal to the entry's)   40 u64 size in bytes   48 u32 flags   52 u32 lock mode
 * 56 u32 lock owner's slot   64 u64+u64 lock owner's UUID   80 u64 lock owner's generation
 * 88 u64 created (ms)   96 u64 modified (ms)   104 u64 blocks allocated (data and pointer blocks)
 * 128 .. 4087  479 direct block pointers, then 16 indirect pointers (each a pointer block)
 * </pre>
 *
 * A block pointer is 0 for a hole, else the block number plus one in its low 48 bits, with bit
 * 62 set while the block is reserved but not yet written (it reads as zeros: lazy zeroing).
 */
final class Descriptor {
    static final int DIRECT = 479;
    static final int INDIRECT = 16;
    static final int POINTERS_AT = 128;
    static final long UNWRITTEN = 1L << 62;
    static final long BLOCK_MASK = (1L << 48) - 1;
    /** Pointers in one pointer page of a pointer block. */
    static final int PER_PAGE = (Pages.CRC_AT - Pages.PAYLOAD) / 8 - 0; // 507

    static final int LOCK_NONE = 0;
    static final int LOCK_EXCLUSIVE = 1;
    static final int LOCK_SHARED_READ_ONLY = 2;

    final int index;
    final ByteBuffer page;

    Descriptor(int index, ByteBuffer page) {
        this.index = index;
        this.page = page;
    }

    static Descriptor fresh(int index, long generation, long now) {
        Descriptor d = new Descriptor(index, Pages.allocate());
        d.page.putLong(32, generation);
        d.page.putLong(88, now);
        d.page.putLong(96, now);
        return d;
    }

    Descriptor copy() {
        ByteBuffer b = Pages.allocate();
        b.put(0, page, 0, Pages.SIZE);
        return new Descriptor(index, b);
    }

    long generation() {
        return page.getLong(32);
    }

    long size() {
        return page.getLong(40);
    }

    void size(long size) {
        page.putLong(40, size);
    }

    int lockMode() {
        return page.getInt(52);
    }

    int lockSlot() {
        return page.getInt(56);
    }

    UUID lockOwner() {
        return new UUID(page.getLong(64), page.getLong(72));
    }

    long lockGeneration() {
        return page.getLong(80);
    }

    void lock(int mode, int slot, UUID owner, long generation) {
        page.putInt(52, mode);
        page.putInt(56, slot);
        page.putLong(64, owner == null ? 0 : owner.getMostSignificantBits());
        page.putLong(72, owner == null ? 0 : owner.getLeastSignificantBits());
        page.putLong(80, generation);
    }

    long created() {
        return page.getLong(88);
    }

    void modified(long ms) {
        page.putLong(96, ms);
    }

    long modified() {
        return page.getLong(96);
    }

    long allocated() {
        return page.getLong(104);
    }

    void allocated(long blocks) {
        page.putLong(104, blocks);
    }

    long direct(int i) {
        return page.getLong(POINTERS_AT + i * 8);
    }

    void direct(int i, long ptr) {
        page.putLong(POINTERS_AT + i * 8, ptr);
    }

    long indirect(int i) {
        return page.getLong(POINTERS_AT + (DIRECT + i) * 8);
    }

    void indirect(int i, long ptr) {
        page.putLong(POINTERS_AT + (DIRECT + i) * 8, ptr);
    }

    static long pointer(long block, boolean unwritten) {
        return (block + 1) | (unwritten ? UNWRITTEN : 0);
    }

    static long block(long ptr) {
        return (ptr & BLOCK_MASK) - 1;
    }

    static boolean unwritten(long ptr) {
        return (ptr & UNWRITTEN) != 0;
    }

    /** @return whether a pointer has only known bits */
    static boolean wellFormed(long ptr) {
        return (ptr & ~(BLOCK_MASK | UNWRITTEN)) == 0;
    }
}

package io.strata.fs.vims.internal;

import java.nio.ByteBuffer;

/**
 * A resource cluster's bitmap page: one bit per block of the cluster, set when allocated.
 *
 * <pre>
 * 32 u64 cluster number   40 u32 free blocks   44 u32 blocks in the cluster (the last one may be short)
 * 48 ..  bits, block i of the cluster at byte 48 + i / 8, bit i % 8
 * </pre>
 */
final class Bitmaps {
    static final int BITS_AT = 48;
    /** The most blocks a cluster may have (2 KiB of bits fit a page with room to spare). */
    static final int MAX_BITS = 16 * 1024;

    private Bitmaps() {
    }

    static ByteBuffer empty(Superblock sb, long cluster, long version) {
        ByteBuffer b = Pages.allocate();
        int n = blocksIn(sb, cluster, sb.blocks());
        b.putLong(32, cluster);
        b.putInt(40, n);
        b.putInt(44, n);
        return Pages.seal(b, Pages.BITMAP, sb.bitmapPage(cluster), version, sb.tag());
    }

    /** @return how many blocks cluster {@code cluster} has when the filesystem has {@code blocks} blocks */
    static int blocksIn(Superblock sb, long cluster, long blocks) {
        long first = cluster * sb.clusterBlocks();
        return (int) Math.max(0, Math.min(sb.clusterBlocks(), blocks - first));
    }

    static long cluster(ByteBuffer b) {
        return b.getLong(32);
    }

    static int free(ByteBuffer b) {
        return b.getInt(40);
    }

    static int count(ByteBuffer b) {
        return b.getInt(44);
    }

    static boolean get(ByteBuffer b, int i) {
        return (b.get(BITS_AT + i / 8) & (1 << (i % 8))) != 0;
    }

    static void set(ByteBuffer b, int i, boolean on) {
        int at = BITS_AT + i / 8;
        byte v = b.get(at);
        boolean was = (v & (1 << (i % 8))) != 0;
        if (was == on) {
            throw new IllegalStateException("block " + i + " of cluster " + cluster(b) + " is already "
                    + (on ? "allocated" : "free"));
        }
        b.put(at, (byte) (on ? v | (1 << (i % 8)) : v & ~(1 << (i % 8))));
        b.putInt(40, free(b) + (on ? -1 : 1));
    }

    /** @return the first clear bit from {@code from}, or -1 */
    static int findFree(ByteBuffer b, int from) {
        int n = count(b);
        for (int i = from; i < n; i++) {
            if ((i & 7) == 0 && b.get(BITS_AT + i / 8) == (byte) 0xFF) {
                i += 7;
                continue;
            }
            if (!get(b, i)) {
                return i;
            }
        }
        return -1;
    }

    /** @return the number of set bits among the first {@link #count} */
    static int used(ByteBuffer b) {
        int n = count(b);
        int used = 0;
        for (int i = 0; i < n; i++) {
            if (get(b, i)) {
                used++;
            }
        }
        return used;
    }
}

package io.strata.qcow2.internal;

import io.strata.api.Bounds;
import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.fs.DatastoreFile;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The refcount table and its blocks, and the cluster allocator built on them.
 * Not thread-safe: the disk calls it under its allocation lock, the checker alone.
 *
 * <p>New clusters always come from the end of the file ({@link #nextFree()}); freed
 * clusters are never reused, so a lock-free writer racing a trim can only touch a dead
 * cluster, and space a crashed allocation touched is never handed out twice.
 *
 * <p>Durability contract: {@link #set} changes refcounts in memory (the blocks stay
 * cached, marked dirty) and {@link #writeDirty} writes them; an evicted dirty block is
 * written first. Nothing here flushes, except that a refcount block that has to be
 * created is written and flushed before the refcount table points at it. Callers write
 * the blocks and flush before they write any pointer (L1/L2 entry, header) to counted
 * clusters, and write a decrease only once no durable pointer to the cluster remains.
 */
final class Refcounts {
    /** Called when the refcount table moved, to rewrite the header durably. */
    @FunctionalInterface
    interface TableMover {
        void moved(long tableOffset, int tableClusters);
    }

    private static final int BLOCK_CACHE = 64;

    private final DatastoreFile file;
    private final int clusterBits;
    private final int clusterSize;
    private final int blockShift;
    private final TableMover mover;
    private long tableOffset;
    private long[] table;
    /** False while a grown table is being prepared: its entries exist only in memory. */
    private boolean tableLive = true;
    private long nextFree;
    /** Offsets of cached blocks changed in memory and not written yet. */
    private final java.util.Set<Long> dirty = new java.util.HashSet<>();
    private final Map<Long, byte[]> blocks = new LinkedHashMap<>(16, 0.75f, true) {
        private static final long serialVersionUID = 1L;

        @Override
        protected boolean removeEldestEntry(Map.Entry<Long, byte[]> eldest) {
            if (size() <= BLOCK_CACHE) {
                return false;
            }
            if (dirty.remove(eldest.getKey())) {
                // only increases wait in memory, and writing an increase early is always safe
                file.write(ByteBuffer.wrap(eldest.getValue()), eldest.getKey());
            }
            return true;
        }
    };

    Refcounts(DatastoreFile file, int clusterBits, long tableOffset, long[] table, long nextFree, TableMover mover) {
        this.file = file;
        this.clusterBits = clusterBits;
        this.clusterSize = 1 << clusterBits;
        this.blockShift = clusterBits - 1; // 16-bit entries: cluster_size / 2 per block
        this.tableOffset = tableOffset;
        this.table = table;
        this.nextFree = Qcow2.roundUp(nextFree, clusterSize);
        this.mover = mover;
    }

    /** @return the first byte past every cluster ever allocated or touched: new clusters go here */
    long nextFree() {
        return nextFree;
    }

    long tableOffset() {
        return tableOffset;
    }

    int tableClusters() {
        return (int) (table.length * 8L / clusterSize);
    }

    /** @return the refcount of a cluster (0 where no block exists) */
    int get(long cluster) {
        long rt = cluster >>> blockShift;
        if (rt >= table.length || table[(int) rt] == 0) {
            return 0;
        }
        return RefcountBlock.get(block(blockOffset(rt)), (int) (cluster & ((1L << blockShift) - 1)));
    }

    /**
     * Takes {@code n} contiguous clusters at the end of the file and sets their refcounts
     * to one. Not durable until the caller flushes.
     *
     * @return the file offset of the first cluster
     */
    long allocate(long n) {
        long start = nextFree;
        nextFree += n << clusterBits;
        set(start >>> clusterBits, n, 1);
        return start;
    }

    /** Sets the refcount of {@code count} clusters from {@code first}, creating blocks as needed. */
    void set(long first, long count, int value) {
        if (count <= 0) {
            return;
        }
        long end = first + count;
        if (value > 0) {
            long lastRt = (end - 1) >>> blockShift;
            if (lastRt + 2 >= table.length) {
                grow(lastRt + 2);
            }
            ensureBlocks(first, end);
        }
        long c = first;
        while (c < end) {
            long rt = c >>> blockShift;
            long blockEnd = Math.min(end, (rt + 1) << blockShift);
            if (rt < table.length && table[(int) rt] != 0) {
                byte[] block = block(blockOffset(rt));
                int from = (int) (c & ((1L << blockShift) - 1));
                int to = from + (int) (blockEnd - c);
                for (int i = from; i < to; i++) {
                    RefcountBlock.set(block, i, value);
                }
                dirty.add(blockOffset(rt));
            }
            c = blockEnd;
        }
    }

    /**
     * Creates the refcount blocks that clusters {@code [first, end)} lack, at the end of the
     * file. Each new block counts itself (or is counted by another new block). The blocks
     * are written and flushed before the table points at them, so a durable table entry
     * never names a block whose contents are not durable.
     */
    private void ensureBlocks(long first, long end) {
        Map<Long, byte[]> created = new LinkedHashMap<>();
        Map<Long, Long> placed = new LinkedHashMap<>();
        Deque<long[]> todo = new ArrayDeque<>();
        todo.add(new long[] {first, end});
        while (!todo.isEmpty()) {
            long[] r = todo.poll();
            long c = r[0];
            while (c < r[1]) {
                long rt = c >>> blockShift;
                if (rt >= table.length) {
                    throw new StorageException(ErrorCode.DATASTORE_FULL, "the refcount table of '" + file.name()
                            + "' is full");
                }
                if (table[(int) rt] == 0 && !created.containsKey(rt)) {
                    long pos = nextFree;
                    nextFree += clusterSize;
                    created.put(rt, new byte[clusterSize]);
                    placed.put(rt, pos);
                    todo.add(new long[] {pos >>> clusterBits, (pos >>> clusterBits) + 1});
                }
                c = (rt + 1) << blockShift;
            }
        }
        if (created.isEmpty()) {
            return;
        }
        for (long pos : placed.values()) {
            long cl = pos >>> clusterBits;
            long rt = cl >>> blockShift;
            int index = (int) (cl & ((1L << blockShift) - 1));
            byte[] own = created.get(rt);
            if (own != null) {
                RefcountBlock.set(own, index, 1);
            } else {
                byte[] block = block(blockOffset(rt));
                RefcountBlock.set(block, index, 1);
                dirty.add(blockOffset(rt));
            }
        }
        for (Map.Entry<Long, byte[]> e : created.entrySet()) {
            file.write(ByteBuffer.wrap(e.getValue()), placed.get(e.getKey()));
        }
        writeDirty();
        file.flush();
        for (Map.Entry<Long, Long> e : placed.entrySet()) {
            int rt = (int) (long) e.getKey();
            table[rt] = e.getValue();
            blocks.put(e.getValue(), created.get(e.getKey()));
            if (tableLive) {
                file.write(ByteBuffer.wrap(Entries.encode(e.getValue())), tableOffset + 8L * rt);
            }
        }
    }

    /**
     * Moves the refcount table to a larger one at the end of the file: the new table and
     * the blocks that count it are written and flushed, then the header is switched in one
     * write (by the {@link TableMover}), then the old table's clusters are freed (a crash
     * before that leaks them, nothing worse).
     */
    private void grow(long neededEntries) {
        long perCluster = clusterSize / 8;
        long entries = Qcow2.roundUp(Math.max(neededEntries + 1, table.length * 2L), perCluster);
        if (entries * 8 > Qcow2.MAX_REFTABLE_BYTES) {
            entries = Qcow2.MAX_REFTABLE_BYTES / 8;
            if (entries <= neededEntries) {
                throw new StorageException(ErrorCode.DATASTORE_FULL, "the refcount table of '" + file.name()
                        + "' would exceed the 8 MiB qemu accepts");
            }
        }
        long oldOffset = tableOffset;
        int oldClusters = tableClusters();
        int clusters = (int) (entries * 8 / clusterSize);
        long pos = nextFree;
        nextFree += (long) clusters << clusterBits;
        table = Arrays.copyOf(table, (int) entries);
        tableOffset = pos;
        tableLive = false;
        try {
            set(pos >>> clusterBits, clusters, 1);
        } finally {
            tableLive = true;
        }
        writeDirty();
        file.write(ByteBuffer.wrap(Entries.encode(table, 0, table.length)), pos);
        file.flush();
        mover.moved(pos, clusters);
        set(oldOffset >>> clusterBits, oldClusters, 0);
        writeDirty();
    }

    /** Writes every block changed in memory (not flushed). */
    void writeDirty() {
        for (Long off : dirty) {
            byte[] b = blocks.get(off);
            if (b != null) {
                file.write(ByteBuffer.wrap(b), off);
            }
        }
        dirty.clear();
    }

    /** The block offset of a table entry: bits 9..63 (bits 0..8 are reserved; open refuses them set). */
    private long blockOffset(long rt) {
        return table[(int) rt] & ~Inspector.REFT_RESERVED;
    }

    private byte[] block(long offset) {
        if (offset <= 0 || offset % clusterSize != 0) {
            throw new StorageException(ErrorCode.CORRUPT_IMAGE, "the refcount table of '" + file.name()
                    + "' names a refcount block at " + Bounds.unsigned(offset) + ", which is not a cluster past"
                    + " the header");
        }
        byte[] b = blocks.get(offset);
        if (b == null) {
            b = new byte[clusterSize];
            Io.readPadded(file, ByteBuffer.wrap(b), offset);
            blocks.put(offset, b);
        }
        return b;
    }
}

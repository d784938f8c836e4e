package io.strata.qcow2.internal;

import io.strata.api.Bounds;
import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.format.BackingResolver;
import io.strata.api.format.Extent;
import io.strata.api.format.Provisioning;
import io.strata.api.format.VirtualDisk;
import io.strata.api.fs.DatastoreFile;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.locks.ReentrantLock;

/**
 * An open qcow2 image, with its backing chain (each parent another read-only
 * Qcow2Disk).
 *
 * <p>Concurrency: the L1 table is an {@link AtomicLongArray} and L2 tables are cached as
 * AtomicLongArrays, so reads, and writes to clusters this image already holds, look two
 * entries up and go straight to the file without a lock. Every metadata change (cluster
 * allocation, zeroing, trim, populate, resize, rebase) runs under {@link #lock}. An entry
 * only changes under the lock, in the cached table. A lookup that finds its table cached
 * takes no lock. One that misses reads and checks the table without it, then takes the lock
 * to put it in the cache. The copy goes in only if no flush has written tables since the
 * read began ({@link #tablesWritten}). Otherwise it is read again under the lock. A copy read
 * before a flush wrote an entry that only the cache held would be stale once that table was
 * evicted. Tables are evicted only under the lock.
 * An allocating write holds the lock only to choose and count its new clusters: their data
 * is written after it is released, the clusters marked {@link #landing} meanwhile (any other
 * change to them waits), and the lock is taken again to set their entries. So writers that
 * allocate overlap their data writes, as qemu's do, instead of queueing behind one another.
 *
 * <p>Crash safety of an allocation (see README): the data is written at the end of the
 * file, past every byte ever written there (a partial write into a cluster that reads as
 * zeros writes only its own bytes: the rest of the new cluster reads as zeros already;
 * around a partial write over old bytes, backing data or a shared cluster, the cluster is
 * assembled in memory and written whole); the
 * refcounts and the L2/L1 entries change in memory only (tables marked dirty and pinned
 * in the cache). {@link #flush()} then writes, in order: refcount blocks and new L2
 * tables, fsync, the changed entries of existing L2 tables and the L1 entries, fsync.
 * So a pointer reaches the file only after what it points at (data, table, refcount) is
 * durable, and allocating writes cost no fsync of their own: a kill at any moment leaves
 * the image as of the last flush plus, at worst, leaked clusters.
 */
final class Qcow2Disk implements VirtualDisk {
    /** Writes that allocate are split into runs of at most this many bytes. */
    private static final int MAX_RUN = 8 << 20;
    /** L2 tables kept in memory, in bytes (at least 16 tables); tests lower it to exercise eviction. */
    static volatile long l2CacheBytes = 32L << 20;

    /** What readers need, replaced whole by resize. */
    private static final class State {
        final long size;
        final long l1Offset;
        final AtomicLongArray l1;

        State(long size, long l1Offset, AtomicLongArray l1) {
            this.size = size;
            this.l1Offset = l1Offset;
            this.l1 = l1;
        }
    }

    private final DatastoreFile file;
    private final boolean readOnly;
    private final Provisioning provisioning;
    private final Qcow2Format format;
    private final int cb;
    private final int cs;
    private final int l2Bits;
    private final long l2Mask;
    private final int l2CacheLimit;
    private final ReentrantLock lock = new ReentrantLock();
    /** Signalled when clusters leave {@link #landing}. */
    private final java.util.concurrent.locks.Condition landed = lock.newCondition();
    /**
     * Guest clusters given new host clusters whose data is being written outside the lock;
     * their L2 entries are set when the data is written. Any other change to them waits.
     * Guarded by lock.
     */
    private final java.util.Set<Long> landing = new java.util.HashSet<>();
    private final ConcurrentHashMap<Long, AtomicLongArray> l2Cache = new ConcurrentHashMap<>();
    private volatile State state;
    private volatile Header header;
    private volatile Qcow2Disk backing;
    private volatile boolean closed;
    /** Null when read-only. Guarded by lock. */
    private final Refcounts refcounts;
    /** Sorted offsets of the metadata clusters found at open: no data entry may name one. */
    private final long[] metadata;
    /**
     * How many flushes have written L2 tables to the file; moved under the lock, before the
     * tables it wrote may be evicted. A table read from the file without the lock enters the
     * cache only if this has not moved since the read began ({@link #table}).
     */
    private final AtomicLong tablesWritten = new AtomicLong();
    /** L2 tables changed in memory since the last flush, by offset; never evicted. Guarded by lock. */
    private final java.util.Map<Long, AtomicLongArray> dirtyTables = new java.util.HashMap<>();
    /** L2 tables created since the last flush, not yet named by a durable L1 entry. Guarded by lock. */
    private final java.util.Set<Long> newTables = new java.util.HashSet<>();
    /** Chains replaced by rebase: reads that started before may still use them, so they close with this disk. */
    private final List<Qcow2Disk> retired = new java.util.concurrent.CopyOnWriteArrayList<>();
    /** L1 entries changed in memory since the last flush. Guarded by lock. */
    private final java.util.Set<Integer> dirtyL1 = new java.util.TreeSet<>();

    Qcow2Disk(Qcow2Format format, DatastoreFile file, boolean readOnly, Inspector.Image in, Qcow2Disk backing,
            Provisioning provisioning) {
        this.format = format;
        this.file = file;
        this.readOnly = readOnly;
        this.provisioning = provisioning;
        this.backing = backing;
        this.header = in.header();
        this.cb = header.clusterBits();
        this.cs = header.clusterSize();
        this.l2Bits = cb - 3;
        this.l2Mask = (1L << l2Bits) - 1;
        this.l2CacheLimit = (int) Math.max(16, l2CacheBytes / cs);
        this.state = new State(header.size(), header.l1TableOffset(), new AtomicLongArray(in.l1()));
        this.metadata = in.metadata();
        in.l2Tables().forEach((k, v) -> l2Cache.put(k, new AtomicLongArray(v)));
        this.refcounts = readOnly ? null
                : new Refcounts(file, cb, header.refcountTableOffset(), in.refcountTable(), in.fileSize(),
                        (off, clusters) -> writeHeader(header.withRefcountTable(off, clusters)));
        if (refcounts != null && refcounts.get(0) == 0) {
            // the allocator never reuses clusters, but an image whose refcounts do not even count
            // its header is damaged: writing would only add to the damage
            throw new StorageException(ErrorCode.CORRUPT_IMAGE, "qcow2 image '" + file.name() + "' is damaged:"
                    + " the header cluster has refcount 0 (refcount block 0 missing?); it can be opened"
                    + " read-only; run the checker with repair before writing");
        }
    }

    @Override
    public String format() {
        return Qcow2Format.TYPE;
    }

    @Override
    public long virtualSize() {
        return state.size;
    }

    @Override
    public Provisioning provisioning() {
        return provisioning;
    }

    @Override
    public boolean readOnly() {
        return readOnly;
    }

    @Override
    public long allocatedBytes() {
        return file.allocatedBytes();
    }

    @Override
    public Optional<String> backingFile() {
        return Optional.ofNullable(header.backingFile());
    }

    @Override
    public int chainLength() {
        Qcow2Disk b = backing;
        return 1 + (b == null ? 0 : b.chainLength());
    }

    int clusterSize() {
        return cs;
    }

    // ---------------------------------------------------------------- lookups

    private void checkRange(long offset, long length, long size) {
        if (!Bounds.inRange(offset, length, size)) {
            throw new StorageException(ErrorCode.OUT_OF_RANGE, "range " + Bounds.unsigned(offset) + "+"
                    + Bounds.unsigned(length) + " lies outside the " + size + "-byte disk '" + file.name() + "'");
        }
        if (closed) {
            throw new StorageException(ErrorCode.DEVICE_UNAVAILABLE, "disk '" + file.name() + "' is closed");
        }
    }

    private void checkWritable() {
        if (readOnly) {
            throw new StorageException(ErrorCode.READ_ONLY, "disk '" + file.name() + "' is open read-only");
        }
    }

    /** @return the L2 entry of guest cluster {@code vc}, 0 when its L2 table does not exist */
    private long entry(State s, long vc) {
        long i = vc >>> l2Bits;
        if (i >= s.l1.length()) {
            return 0; // never for a validated image: the L1 table covers the virtual size
        }
        int l1i = (int) i;
        long t = Entries.offset(s.l1.get(l1i));
        if (t == 0) {
            return 0;
        }
        return table(t, l1i).get((int) (vc & l2Mask));
    }

    private AtomicLongArray table(long offset, long l1Index) {
        AtomicLongArray t = l2Cache.get(offset);
        if (t != null) {
            return t;
        }
        if (lock.isHeldByCurrentThread()) {
            // an operation under way holds tables it has taken: evicting under it could lose its update
            t = new AtomicLongArray(readTable(offset, l1Index));
            l2Cache.put(offset, t);
            return t;
        }
        // Read and checked outside the lock, so that lookups missing different tables overlap.
        long written = tablesWritten.get();
        long[] entries;
        try {
            entries = readTable(offset, l1Index);
        } catch (StorageException e) {
            entries = null; // perhaps read while a flush wrote it: the read under the lock decides
        }
        lock.lock();
        try {
            t = l2Cache.get(offset);
            if (t != null) {
                return t;
            }
            if (entries == null || tablesWritten.get() != written) {
                entries = readTable(offset, l1Index);
            }
            t = new AtomicLongArray(entries);
            l2Cache.put(offset, t);
            evict(offset);
            return t;
        } finally {
            lock.unlock();
        }
    }

    /** The entries of the L2 table at {@code offset}, read from the file and checked. */
    private long[] readTable(long offset, long l1Index) {
        byte[] raw = new byte[cs];
        Io.readPadded(file, ByteBuffer.wrap(raw), offset);
        long[] entries = Entries.decode(raw);
        try {
            Inspector.checkL2(entries, l1Index << l2Bits, header, file.size(), metadata);
        } catch (Damage d) {
            throw Inspector.corrupt(file, d);
        }
        return entries;
    }

    /** Drops every clean table from the cache (tests: the next lookup of any of them misses). */
    void evictClean() {
        lock.lock();
        try {
            l2Cache.keySet().removeIf(k -> !dirtyTables.containsKey(k));
        } finally {
            lock.unlock();
        }
    }

    /** @return whether the L2 table mapping {@code guestOffset} is in the cache (for tests) */
    boolean l2Cached(long guestOffset) {
        long l1 = state.l1.get((int) (guestOffset >>> cb >>> l2Bits));
        return l2Cache.containsKey(Entries.offset(l1));
    }

    /** Under the lock, before any table of the operation is taken. */
    private void evict(long keep) {
        if (l2Cache.size() <= l2CacheLimit) {
            return;
        }
        Iterator<Long> it = l2Cache.keySet().iterator();
        while (it.hasNext() && l2Cache.size() > l2CacheLimit / 2) {
            long k = it.next();
            if (k != keep && !dirtyTables.containsKey(k)) {
                it.remove();
            }
        }
    }

    /**
     * Under the lock, at the start of a metadata change: trims the L2 cache, and flushes
     * when too many tables wait in memory (a guest that never flushes must not pin them all).
     */
    private void beginChange() {
        if (dirtyTables.size() > l2CacheLimit / 2) {
            flushLocked();
        }
        evict(-1);
    }

    private static boolean inPlace(long e) {
        return Entries.state(e) == Entries.State.NORMAL && (e & Entries.COPIED) != 0;
    }

    private StorageException compressed(long vc) {
        return Inspector.corrupt(file, new Damage("guest offset " + (vc << cb)
                + " is stored compressed, which Strata does not support", true));
    }

    // ---------------------------------------------------------------- read

    @Override
    public void read(ByteBuffer dst, long offset) {
        State s = state;
        checkRange(offset, dst.remaining(), s.size);
        int end = dst.limit();
        long off = offset;
        try {
            while (dst.position() < end) {
                long vc = off >>> cb;
                int in = (int) (off & (cs - 1));
                int n = (int) Math.min(end - dst.position(), cs - in);
                long e = entry(s, vc);
                Entries.State st = Entries.state(e);
                int total = n;
                long k = 1;
                switch (st) {
                    case NORMAL -> {
                        while (dst.position() + total < end) {
                            long next = entry(s, vc + k);
                            if (Entries.state(next) != Entries.State.NORMAL
                                    || Entries.offset(next) != Entries.offset(e) + (k << cb)) {
                                break;
                            }
                            total += (int) Math.min(end - dst.position() - total, cs);
                            k++;
                        }
                        dst.limit(dst.position() + total);
                        Io.readPadded(file, dst, Entries.offset(e) + in);
                        dst.limit(end);
                    }
                    case ZERO_PLAIN, ZERO_ALLOC -> Io.fillZeros(dst, n);
                    case UNALLOCATED -> {
                        while (dst.position() + total < end
                                && Entries.state(entry(s, vc + k)) == Entries.State.UNALLOCATED) {
                            total += (int) Math.min(end - dst.position() - total, cs);
                            k++;
                        }
                        readBacking(dst, total, off);
                    }
                    default -> throw compressed(vc);
                }
                off += total;
            }
        } finally {
            dst.limit(end);
        }
    }

    /** Reads {@code n} bytes at {@code off} from the backing chain; past its end (or without one), zeros. */
    private void readBacking(ByteBuffer dst, int n, long off) {
        Qcow2Disk b = backing;
        int fromParent = b == null ? 0 : (int) Math.max(0, Math.min(n, b.virtualSize() - off));
        if (fromParent > 0) {
            int end = dst.limit();
            dst.limit(dst.position() + fromParent);
            try {
                b.read(dst, off);
            } finally {
                dst.limit(end);
            }
        }
        Io.fillZeros(dst, n - fromParent);
    }

    // ---------------------------------------------------------------- write

    @Override
    public void write(ByteBuffer src, long offset) {
        checkWritable();
        State s = state;
        checkRange(offset, src.remaining(), s.size);
        int end = src.limit();
        long off = offset;
        try {
            while (src.position() < end) {
                long vc = off >>> cb;
                int in = (int) (off & (cs - 1));
                int n = (int) Math.min(end - src.position(), cs - in);
                long e = entry(s, vc);
                int total = n;
                long k = 1;
                if (inPlace(e)) {
                    while (src.position() + total < end) {
                        long next = entry(s, vc + k);
                        if (!inPlace(next) || Entries.offset(next) != Entries.offset(e) + (k << cb)) {
                            break;
                        }
                        total += (int) Math.min(end - src.position() - total, cs);
                        k++;
                    }
                    src.limit(src.position() + total);
                    file.write(src, Entries.offset(e) + in);
                } else {
                    while (src.position() + total < end && total < MAX_RUN
                            && ((vc + k) >>> l2Bits) == (vc >>> l2Bits) && !inPlace(entry(s, vc + k))) {
                        total += (int) Math.min(end - src.position() - total, cs);
                        k++;
                    }
                    src.limit(src.position() + total);
                    allocateAndWrite(vc, in, src);
                }
                src.limit(end);
                off += total;
            }
        } finally {
            src.limit(end);
        }
    }

    /**
     * Writes the buffers' concatenation. What lies inside one buffer is written from it as it
     * is; a cluster that two buffers share is gathered into one buffer first. Written buffer
     * by buffer, a new cluster over backing data split between two buffers would be copied
     * from the backing file for its first part, only for the second part to overwrite what
     * was copied. The range and the disk's mode are checked before anything is written.
     */
    @Override
    public void write(ByteBuffer[] srcs, long offset) {
        checkWritable();
        checkRange(offset, remaining(srcs, 0), state.size);
        long pos = offset;
        int i = 0;
        while (i < srcs.length) {
            ByteBuffer b = srcs[i];
            int left = b.remaining();
            if (left == 0) {
                i++;
                continue;
            }
            int toBoundary = cs - (int) (pos & (cs - 1));
            boolean last = remaining(srcs, i + 1) == 0;
            if (left >= toBoundary || last) {
                // from this buffer alone, up to the last cluster boundary in it (all of it when last)
                int n = last ? left : toBoundary + ((left - toBoundary) & -cs);
                ByteBuffer piece = b.slice(b.position(), n);
                write(piece, pos);
                b.position(b.position() + n);
                pos += n;
            } else {
                // the cluster goes on in the next buffers: gather it
                ByteBuffer cluster = ByteBuffer.allocate((int) Math.min(toBoundary, left + remaining(srcs, i + 1)));
                for (int k = i; cluster.hasRemaining(); k++) {
                    ByteBuffer from = srcs[k];
                    int take = Math.min(from.remaining(), cluster.remaining());
                    cluster.put(from.slice(from.position(), take));
                    from.position(from.position() + take);
                }
                int n = cluster.flip().remaining();
                write(cluster, pos);
                pos += n;
            }
        }
    }

    private static long remaining(ByteBuffer[] bufs, int from) {
        long n = 0;
        for (int k = from; k < bufs.length; k++) {
            n += bufs[k].remaining();
        }
        return n;
    }

    /**
     * Writes {@code src} from cluster {@code vc0} (offset {@code in0} in it) for clusters of
     * one L2 table that were not writable in place when looked at without the lock.
     * Re-reads every entry under the lock: another writer may have allocated meanwhile.
     *
     * <p>Clusters whose old contents do not matter (the write covers them whole, or they
     * read as zeros: unallocated with nothing of the backing under them, or zero-flagged)
     * are taken in runs at the end of the file and the caller's bytes go there straight
     * from {@code src}, without padding: new clusters lie past every byte ever written to
     * the file, where a datastore file reads zeros (the hardening contract: never another
     * file's old data). Only clusters that must keep old bytes around a partial write
     * (backing data, a shared cluster) are assembled in memory first (copy-on-write).
     */
    private void allocateAndWrite(long vc0, int in0, ByteBuffer src) {
        List<Fresh> fresh = new ArrayList<>(1);
        lock.lock();
        try {
            awaitLanded(vc0, vc0 + (((long) in0 + src.remaining() + cs - 1) >>> cb));
            beginChange();
            State s = state;
            long vc = vc0;
            int in = in0;
            byte[] batch = null; // copy-on-write clusters, assembled in memory
            long batchFirst = -1;
            int batchCount = 0;
            long freshFirst = -1; // clusters written straight from src
            int freshCount = 0;
            int freshStart = 0; // src position of the fresh run's first byte
            int freshIn = 0;
            while (src.hasRemaining()) {
                int n = Math.min(src.remaining(), cs - in);
                long e = entry(s, vc);
                Entries.State st = Entries.state(e);
                boolean whole = in == 0 && n == cs;
                if (st == Entries.State.COMPRESSED) {
                    throw compressed(vc);
                }
                if (!inPlace(e) && !(st == Entries.State.ZERO_ALLOC && (e & Entries.COPIED) != 0)
                        && (whole || readsZero(st, vc))) {
                    commit(s, batchFirst, batch, batchCount);
                    batchCount = 0;
                    if (freshCount == 0) {
                        freshFirst = vc;
                        freshStart = src.position();
                        freshIn = in;
                    }
                    freshCount++;
                    src.position(src.position() + n);
                } else {
                    freshCount = reserve(fresh, freshFirst, freshCount, src, freshStart, freshIn);
                    if (inPlace(e)) {
                        commit(s, batchFirst, batch, batchCount);
                        batchCount = 0;
                        int lim = src.limit();
                        src.limit(src.position() + n);
                        file.write(src, Entries.offset(e) + in);
                        src.limit(lim);
                    } else if (st == Entries.State.ZERO_ALLOC) { // with COPIED: the cluster is ours alone
                        commit(s, batchFirst, batch, batchCount);
                        batchCount = 0;
                        byte[] c = new byte[cs];
                        src.get(c, in, n);
                        file.write(ByteBuffer.wrap(c), Entries.offset(e));
                        install(s, vc, new long[] {Entries.normal(Entries.offset(e))});
                    } else {
                        // a partial write over old bytes: unallocated over backing data, or a NORMAL
                        // cluster whose refcount is above one (never written in place; its refcount is
                        // left as it is: at worst a leak, never a cluster freed while referenced)
                        if (batch == null) {
                            batch = new byte[(int) (((long) in + src.remaining() + cs - 1) >>> cb << cb)];
                        }
                        if (batchCount == 0) {
                            batchFirst = vc;
                            java.util.Arrays.fill(batch, (byte) 0);
                        }
                        int base = batchCount * cs;
                        if (st == Entries.State.UNALLOCATED) {
                            readBacking(ByteBuffer.wrap(batch, base, cs), cs, vc << cb);
                        } else {
                            Io.readPadded(file, ByteBuffer.wrap(batch, base, cs), Entries.offset(e));
                        }
                        src.get(batch, base + in, n);
                        batchCount++;
                    }
                }
                vc++;
                in = 0;
            }
            commit(s, batchFirst, batch, batchCount);
            reserve(fresh, freshFirst, freshCount, src, freshStart, freshIn);
        } catch (RuntimeException | Error e) {
            unmark(fresh); // a later cluster failed: the runs reserved before it are never written
            throw e;
        } finally {
            lock.unlock();
        }
        if (!fresh.isEmpty()) {
            land(fresh);
        }
    }

    /** A run of new clusters and the bytes that go into them, written outside the lock. */
    private record Fresh(long firstVc, long host, int count, ByteBuffer data, int in) {
    }

    /**
     * Under the lock: waits until no cluster of {@code [from, to)} is {@link #landing}
     * (the lock is released while waiting).
     */
    private void awaitLanded(long from, long to) {
        while (!landing.isEmpty()) {
            boolean busy = false;
            if (landing.size() < to - from) {
                for (long vc : landing) {
                    busy |= vc >= from && vc < to;
                }
            } else {
                for (long vc = from; vc < to && !busy; vc++) {
                    busy = landing.contains(vc);
                }
            }
            if (!busy) {
                return;
            }
            landed.awaitUninterruptibly();
        }
    }

    /**
     * Writes the reserved runs' data without the lock (other writers allocate meanwhile),
     * then, under the lock, points the L2 entries at them. A failed write leaves its
     * clusters unreferenced (a leak the checker repairs), never an entry naming unwritten data.
     */
    private void land(List<Fresh> fresh) {
        int written = 0;
        try {
            for (Fresh f : fresh) {
                file.write(f.data(), f.host() + f.in());
                written++;
            }
        } finally {
            lock.lock();
            try {
                for (int i = 0; i < written; i++) {
                    Fresh f = fresh.get(i);
                    point(state, f.firstVc(), f.host(), f.count());
                }
            } finally {
                unmark(fresh);
                lock.unlock();
            }
        }
    }

    /** Under the lock: the runs' clusters leave {@link #landing}, and whoever waits for them looks again. */
    private void unmark(List<Fresh> fresh) {
        for (Fresh f : fresh) {
            for (int j = 0; j < f.count(); j++) {
                landing.remove(f.firstVc() + j);
            }
        }
        landed.signalAll();
    }

    /** @return whether guest cluster {@code vc}, in state {@code st}, reads as zeros throughout */
    private boolean readsZero(Entries.State st, long vc) {
        if (st == Entries.State.ZERO_PLAIN || st == Entries.State.ZERO_ALLOC) {
            return true;
        }
        if (st != Entries.State.UNALLOCATED) {
            return false;
        }
        Qcow2Disk b = backing;
        return b == null || (vc << cb) >= b.virtualSize();
    }

    /**
     * Under the lock: allocates {@code count} clusters for the run of fresh clusters from
     * guest cluster {@code firstVc}, marks them {@link #landing} and queues the run's bytes
     * ({@code src} from {@code start} up to its position, going at offset {@code in} of the
     * first cluster) for {@link #land}. The rest of the clusters is never written and reads
     * as zeros.
     *
     * @return 0, the new length of the run
     */
    private int reserve(List<Fresh> fresh, long firstVc, int count, ByteBuffer src, int start, int in) {
        if (count == 0) {
            return 0;
        }
        long host = refcounts.allocate(count);
        ByteBuffer slice = src.duplicate();
        slice.limit(src.position()).position(start);
        fresh.add(new Fresh(firstVc, host, count, slice, in));
        for (int i = 0; i < count; i++) {
            landing.add(firstVc + i);
        }
        return 0;
    }

    /** Allocates {@code count} clusters, writes their data, points the L2 entries at them (in memory until flush). */
    private void commit(State s, long firstVc, byte[] batch, int count) {
        if (count == 0 || batch == null) {
            return;
        }
        long host = refcounts.allocate(count);
        file.write(ByteBuffer.wrap(batch, 0, count * cs), host);
        point(s, firstVc, host, count);
    }

    /** Points the L2 entries of {@code count} guest clusters from {@code firstVc} at consecutive host clusters from {@code host}. */
    private void point(State s, long firstVc, long host, int count) {
        long[] entries = new long[count];
        for (int i = 0; i < count; i++) {
            entries[i] = Entries.normal(host + ((long) i << cb));
        }
        install(s, firstVc, entries);
    }

    /**
     * Sets L2 entries for consecutive clusters of one L2 table, in memory: the table is
     * marked dirty and {@link #flush()} writes it. A missing table is allocated (its L1
     * entry, too, waits for the flush).
     */
    private void install(State s, long firstVc, long[] entries) {
        int l1i = (int) (firstVc >>> l2Bits);
        int idx = (int) (firstVc & l2Mask);
        long tOff = Entries.offset(s.l1.get(l1i));
        if (tOff == 0) {
            long[] t = new long[1 << l2Bits];
            System.arraycopy(entries, 0, t, idx, entries.length);
            long pos = refcounts.allocate(1);
            AtomicLongArray table = new AtomicLongArray(t);
            l2Cache.put(pos, table);
            dirtyTables.put(pos, table);
            newTables.add(pos);
            s.l1.set(l1i, Entries.normal(pos));
            dirtyL1.add(l1i);
            return;
        }
        AtomicLongArray t = table(tOff, l1i);
        for (int i = 0; i < entries.length; i++) {
            t.set(idx + i, entries[i]);
        }
        dirtyTables.put(tOff, t);
    }

    /**
     * Makes every completed write durable: refcount blocks and new L2 tables written,
     * fsync (data, refcounts and new tables durable), then the changed entries of existing
     * L2 tables and the L1 entries written, fsync.
     */
    @Override
    public void flush() {
        if (readOnly) {
            return;
        }
        lock.lock();
        try {
            flushLocked();
        } finally {
            lock.unlock();
        }
    }

    private void flushLocked() {
        refcounts.writeDirty();
        for (long t : newTables) {
            writeTable(t, dirtyTables.get(t));
        }
        file.flush();
        if (dirtyTables.isEmpty() && dirtyL1.isEmpty()) {
            return;
        }
        for (var e : dirtyTables.entrySet()) {
            if (!newTables.contains(e.getKey())) {
                writeTable(e.getKey(), e.getValue());
            }
        }
        State s = state;
        for (int l1i : dirtyL1) {
            file.write(ByteBuffer.wrap(Entries.encode(s.l1.get(l1i))), s.l1Offset + 8L * l1i);
        }
        file.flush();
        tablesWritten.incrementAndGet(); // before the tables written may be evicted
        dirtyTables.clear();
        newTables.clear();
        dirtyL1.clear();
    }

    private void writeTable(long offset, AtomicLongArray t) {
        long[] entries = new long[t.length()];
        for (int i = 0; i < entries.length; i++) {
            entries[i] = t.get(i);
        }
        file.write(ByteBuffer.wrap(Entries.encode(entries, 0, entries.length)), offset);
    }

    // ---------------------------------------------------------------- zeroes, trim

    @Override
    public void writeZeroes(long offset, long length) {
        zeroRange(offset, length, false);
    }

    /** Whole clusters are unmapped (L2 entry cleared, or the zero flag in a child) and freed. */
    @Override
    public void trim(long offset, long length) {
        zeroRange(offset, length, true);
    }

    private void zeroRange(long offset, long length, boolean trim) {
        checkWritable();
        State s = state;
        checkRange(offset, length, s.size);
        long end = offset + length;
        long off = offset;
        while (off < end) {
            long vc = off >>> cb;
            long cStart = vc << cb;
            long cEnd = cStart + cs;
            if (off > cStart || (end < cEnd && end < s.size)) {
                int n = (int) (Math.min(end, cEnd) - off);
                Entries.State st = Entries.state(entry(s, vc));
                if (st == Entries.State.NORMAL || st == Entries.State.COMPRESSED
                        || (st == Entries.State.UNALLOCATED && backing != null)) {
                    write(ByteBuffer.allocate(n), off);
                }
                off += n;
                continue;
            }
            long fullEnd = end >= s.size ? (s.size + cs - 1) >>> cb : end >>> cb;
            long vcEnd = Math.min(fullEnd, ((vc >>> l2Bits) + 1) << l2Bits);
            zeroClusters(vc, vcEnd, trim);
            off = Math.min(end, vcEnd << cb);
        }
    }

    private void zeroClusters(long from, long to, boolean trim) {
        lock.lock();
        try {
            awaitLanded(from, to);
            beginChange();
            State s = state;
            boolean chain = backing != null;
            int l1i = (int) (from >>> l2Bits);
            long tOff = Entries.offset(s.l1.get(l1i));
            int count = (int) (to - from);
            long[] entries = new long[count];
            if (tOff == 0) {
                if (chain) {
                    java.util.Arrays.fill(entries, Entries.ZERO);
                    install(s, from, entries);
                }
                return;
            }
            AtomicLongArray t = table(tOff, l1i);
            int idx = (int) (from & l2Mask);
            List<Long> freed = new ArrayList<>(); // host offset, bit 0 set when the entry had COPIED
            boolean changed = false;
            for (int i = 0; i < count; i++) {
                long e = t.get(idx + i);
                Entries.State st = Entries.state(e);
                long ne;
                if (trim || st == Entries.State.COMPRESSED) {
                    ne = chain ? Entries.ZERO : 0;
                    if (st == Entries.State.NORMAL || st == Entries.State.ZERO_ALLOC) {
                        freed.add(Entries.offset(e) | ((e & Entries.COPIED) != 0 ? 1 : 0));
                    }
                } else if (st == Entries.State.NORMAL) {
                    ne = e | Entries.ZERO; // keeps the cluster (and its COPIED flag): zeroing does not deallocate
                } else if (st == Entries.State.UNALLOCATED) {
                    ne = chain ? Entries.ZERO : 0;
                } else {
                    ne = e;
                }
                entries[i] = ne;
                changed |= ne != e;
            }
            if (!changed) {
                return;
            }
            install(s, from, entries);
            if (!freed.isEmpty()) {
                flushLocked(); // no durable L2 entry names the clusters any more before their refcounts drop
                // one reference dropped each; a cluster whose entry lacked COPIED may be referenced
                // elsewhere (refcount above one), so only a cluster that had COPIED and reaches 0 is punched
                List<Long> dead = new ArrayList<>();
                for (long f : freed) {
                    long c = f & ~1L;
                    int rc = refcounts.get(c >>> cb);
                    refcounts.set(c >>> cb, 1, Math.max(0, rc - 1));
                    if (rc <= 1 && (f & 1) != 0) {
                        dead.add(c);
                    }
                }
                refcounts.writeDirty();
                for (long c : dead) {
                    try {
                        file.punchHole(c, cs);
                    } catch (StorageException e) {
                        // the datastore cannot punch holes: the cluster stays allocated in the file, unused
                    }
                }
            }
        } finally {
            lock.unlock();
        }
    }

    // ---------------------------------------------------------------- block status

    @Override
    public List<Extent> blockStatus(long offset, long length) {
        return status(offset, length, true);
    }

    @Override
    public List<Extent> layerStatus(long offset, long length) {
        return status(offset, length, false);
    }

    private List<Extent> status(long offset, long length, boolean chain) {
        State s = state;
        checkRange(offset, length, s.size);
        List<Extent> out = new ArrayList<>();
        long end = offset + length;
        long off = offset;
        Qcow2Disk b = backing;
        long runStart = offset;
        int runKind = -1; // 0 unallocated, 1 data, 2 zero
        while (off < end) {
            long vc = off >>> cb;
            long l1i = vc >>> l2Bits;
            long segEnd;
            int kind;
            if (l1i >= s.l1.length() || Entries.offset(s.l1.get((int) l1i)) == 0) {
                segEnd = Math.min(end, ((l1i + 1) << l2Bits) << cb);
                kind = 0;
            } else {
                segEnd = Math.min(end, (vc + 1) << cb);
                Entries.State st = Entries.state(entry(s, vc));
                kind = switch (st) {
                    case UNALLOCATED -> 0;
                    case ZERO_PLAIN, ZERO_ALLOC -> 2;
                    default -> 1;
                };
            }
            if (kind != runKind) {
                if (runKind >= 0) {
                    emit(out, runStart, off, runKind, chain ? b : null, b == null);
                }
                runStart = off;
                runKind = kind;
            }
            off = segEnd;
        }
        emit(out, runStart, end, runKind, chain ? b : null, b == null);
        return out;
    }

    private static void emit(List<Extent> out, long from, long to, int kind, Qcow2Disk parent, boolean noBacking) {
        if (to <= from) {
            return;
        }
        if (kind == 0 && parent != null) {
            long inParent = Math.max(from, Math.min(to, parent.virtualSize()));
            if (inParent > from) {
                for (Extent e : parent.blockStatus(from, inParent - from)) {
                    add(out, e.offset(), e.length(), e.allocated(), e.zero());
                }
            }
            add(out, inParent, to - inParent, false, true);
            return;
        }
        add(out, from, to - from, kind != 0, kind == 2 || (kind == 0 && noBacking));
    }

    private static void add(List<Extent> out, long off, long len, boolean allocated, boolean zero) {
        if (len <= 0) {
            return;
        }
        int last = out.size() - 1;
        if (last >= 0) {
            Extent p = out.get(last);
            if (p.allocated() == allocated && p.zero() == zero && p.offset() + p.length() == off) {
                out.set(last, new Extent(p.offset(), p.length() + len, allocated, zero));
                return;
            }
        }
        out.add(new Extent(off, len, allocated, zero));
    }

    // ---------------------------------------------------------------- chains

    /**
     * Copies up, cluster by cluster, what the chain holds where this image holds nothing.
     * The backing is read and the cluster allocated under the lock after re-checking the
     * entry, so a cluster the guest wrote meanwhile is left alone. Clusters that read as
     * zeros get the zero flag instead of a data cluster.
     */
    @Override
    public void populate(long offset, long length) {
        checkWritable();
        checkRange(offset, length, state.size);
        if (length == 0 || backing == null) {
            return;
        }
        long first = offset >>> cb;
        long last = (offset + length - 1) >>> cb;
        long vc = first;
        int runClusters = Math.max(1, MAX_RUN / cs);
        while (vc <= last) {
            long runEnd = Math.min(last + 1, Math.min(vc + runClusters, ((vc >>> l2Bits) + 1) << l2Bits));
            populateRun(vc, runEnd);
            vc = runEnd;
        }
    }

    private void populateRun(long from, long to) {
        State s0 = state;
        boolean any = false;
        for (long vc = from; vc < to && !any; vc++) {
            any = Entries.state(entry(s0, vc)) == Entries.State.UNALLOCATED;
        }
        if (!any) {
            return;
        }
        lock.lock();
        try {
            awaitLanded(from, to);
            beginChange();
            State s = state;
            byte[] batch = new byte[(int) (to - from) * cs];
            long batchFirst = -1;
            int batchCount = 0;
            byte[] c = new byte[cs];
            for (long vc = from; vc < to; vc++) {
                boolean take = Entries.state(entry(s, vc)) == Entries.State.UNALLOCATED;
                boolean zero = false;
                if (take) {
                    java.util.Arrays.fill(c, (byte) 0);
                    readBacking(ByteBuffer.wrap(c), (int) Math.min(cs, s.size - (vc << cb)), vc << cb);
                    zero = allZero(c);
                }
                if (take && !zero) {
                    if (batchCount == 0) {
                        batchFirst = vc;
                    }
                    System.arraycopy(c, 0, batch, batchCount * cs, cs);
                    batchCount++;
                    continue;
                }
                commit(s, batchFirst, batch, batchCount);
                batchCount = 0;
                if (take) {
                    install(s, vc, new long[] {Entries.ZERO});
                }
            }
            commit(s, batchFirst, batch, batchCount);
        } finally {
            lock.unlock();
        }
    }

    private static boolean allZero(byte[] b) {
        for (byte x : b) {
            if (x != 0) {
                return false;
            }
        }
        return true;
    }

    /**
     * Rewrites the header (backing name and format extension) in one write, flushed; then
     * swaps the chain. The old chain stays open until this disk closes: a read that looked
     * it up just before the swap may still be using it.
     */
    @Override
    public void rebase(String parentFile, BackingResolver resolver) {
        checkWritable();
        Qcow2Disk parent = parentFile == null ? null : format.openBacking(parentFile, resolver, 2, file.name());
        Qcow2Disk old;
        lock.lock();
        try {
            flushLocked();
            writeHeader(header.withBacking(parentFile));
            old = backing;
            backing = parent;
        } catch (RuntimeException e) {
            if (parent != null) {
                parent.close();
            }
            throw e;
        } finally {
            lock.unlock();
        }
        if (old != null) {
            retired.add(old);
        }
    }

    /** Under the lock: one sector-aligned write of the header area, then flush. */
    private void writeHeader(Header h) {
        byte[] bytes;
        try {
            bytes = h.encode();
        } catch (Damage d) {
            throw new StorageException(ErrorCode.INVALID_ARGUMENT, "qcow2 image '" + file.name() + "': "
                    + d.getMessage());
        }
        file.write(ByteBuffer.wrap(bytes), 0);
        file.flush();
        header = h;
    }

    // ---------------------------------------------------------------- resize

    /**
     * Grows the disk. When the L1 table needs more clusters, a larger copy is written at the
     * end of the file and flushed before the header switches to it (one write, flushed);
     * the old table's clusters are freed afterwards (a crash in between leaks them).
     */
    @Override
    public void resize(long newSize) {
        checkWritable();
        Qcow2Format.checkSize(newSize);
        lock.lock();
        try {
            State s = state;
            if (newSize < s.size) {
                throw new StorageException(ErrorCode.INVALID_SIZE, "cannot shrink disk '" + file.name() + "' from "
                        + s.size + " to " + newSize + " bytes; only growing is supported");
            }
            if (newSize == s.size) {
                return;
            }
            flushLocked(); // the L1 table is copied below: no entry may still wait in memory
            Header h = header;
            int oldL1 = s.l1.length();
            int newL1 = Math.max(oldL1, Qcow2Format.l1Entries(newSize, cb));
            long l1Offset = s.l1Offset;
            long oldClusters = oldL1 == 0 ? 0 : Qcow2.roundUp(oldL1 * 8L, cs) >>> cb;
            boolean moved = false;
            if (newL1 > oldL1) {
                long[] entries = new long[newL1];
                for (int i = 0; i < oldL1; i++) {
                    entries[i] = s.l1.get(i);
                }
                if (newL1 * 8L <= oldClusters << cb) {
                    file.write(ByteBuffer.wrap(Entries.encode(entries, oldL1, newL1)), l1Offset + 8L * oldL1);
                } else {
                    long clusters = Qcow2.roundUp(newL1 * 8L, cs) >>> cb;
                    l1Offset = refcounts.allocate(clusters);
                    byte[] table = new byte[(int) (clusters << cb)];
                    System.arraycopy(Entries.encode(entries, 0, newL1), 0, table, 0, newL1 * 8);
                    file.write(ByteBuffer.wrap(table), l1Offset);
                    refcounts.writeDirty();
                    moved = true;
                }
                file.flush();
                writeHeader(h.withSize(newSize, newL1, l1Offset));
                state = new State(newSize, l1Offset, new AtomicLongArray(entries));
            } else {
                writeHeader(h.withSize(newSize, oldL1, l1Offset));
                state = new State(newSize, l1Offset, s.l1);
            }
            if (moved && oldClusters > 0) {
                refcounts.set(s.l1Offset >>> cb, oldClusters, 0);
                refcounts.writeDirty();
                file.flush();
            }
        } finally {
            lock.unlock();
        }
    }

    // ---------------------------------------------------------------- close

    @Override
    public void close() {
        if (closed) {
            return;
        }
        try {
            flush();
        } catch (RuntimeException e) {
            // close never throws; the flush failure was the caller's last chance and is lost
        } finally {
            closed = true;
            file.close();
            Qcow2Disk b = backing;
            if (b != null) {
                b.close();
            }
            retired.forEach(Qcow2Disk::close);
        }
    }
}

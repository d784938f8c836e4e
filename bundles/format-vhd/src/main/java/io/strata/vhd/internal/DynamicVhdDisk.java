package io.strata.vhd.internal;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.format.BackingResolver;
import io.strata.api.format.Extent;
import io.strata.api.format.Provisioning;
import io.strata.api.format.VirtualDisk;
import io.strata.api.fs.DatastoreFile;
import io.strata.api.fs.FileSlice;
import io.strata.api.fs.FileWindow;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A dynamic or differencing VHD: footer copy, dynamic header, BAT, then blocks
 * (sector bitmap + data) allocated on first write, and the footer at the end.
 * A differencing disk also has a parent, parent locators, and sector bitmaps
 * that say which sectors this file holds; the others read from the parent.
 *
 * <p>Concurrency: the BAT lives in an {@link AtomicIntegerArray}, so reads and
 * writes of allocated blocks of a dynamic disk look an entry up without any lock
 * and go straight to the file. Allocation and resize take {@link #metaLock}. A
 * differencing disk adds striped per-block locks taken by writes, populate and
 * trim (never by reads): a write's read-modify-write of a sector from the parent
 * and populate's copy cannot interleave with another write to the same block.
 * Bitmaps are cached copy-on-write ({@link #FULL} for a block whose every sector
 * is here), so readers see either the old or the new bitmap, never half of one.
 *
 * <p>Crash safety of an allocation (the order matters; see README):
 * <ol>
 * <li>write the footer at its new place past the new block (the file now ends
 *     with a valid footer, and everything before it is what it was);</li>
 * <li>write the block's bitmap and the data of the write that caused it; the
 *     BAT entry changes in memory only;</li>
 * <li>{@link #flush()}: fsync (footer, bitmap and data durable), write the BAT
 *     entries allocated since the last flush, fsync.</li>
 * </ol>
 * A kill at any point leaves either no pointer (a leaked block, harmless) or a
 * pointer to durable data: never a pointer to garbage, and no allocation costs an
 * fsync of its own. Bitmap bits a write sets in an allocated block of a
 * differencing disk travel the same way: written in {@link #flush()} after the
 * first fsync, durable by the second, which acknowledges the flush.
 */
final class DynamicVhdDisk extends AbstractVhdDisk {
    /** Cache marker: every sector of the block is in this file. */
    private static final byte[] FULL = new byte[0];
    private static final int STRIPES = 64;

    /** The part of the state that readers need, swapped whole by resize. */
    private static final class State {
        final long virtualSize;
        final AtomicIntegerArray bat;
        /** Differencing only: cached bitmaps per block (null = not loaded yet, {@link #FULL}, or a copy). */
        final AtomicReferenceArray<byte[]> bitmaps;
        /**
         * Dynamic disks: one bit per block whose bitmap on disk is known to be all set (allocated
         * here, or checked and completed by the first write). Other tools (Hyper-V) write exact
         * bitmaps; a write into an unset sector must set it, or Hyper-V would read zeros there.
         */
        final AtomicLongArray completeBitmaps;

        State(long virtualSize, AtomicIntegerArray bat, AtomicReferenceArray<byte[]> bitmaps) {
            this(virtualSize, bat, bitmaps, new AtomicLongArray((bat.length() + 63) >>> 6));
        }

        State(long virtualSize, AtomicIntegerArray bat, AtomicReferenceArray<byte[]> bitmaps,
                AtomicLongArray completeBitmaps) {
            this.virtualSize = virtualSize;
            this.bat = bat;
            this.bitmaps = bitmaps;
            this.completeBitmaps = completeBitmaps;
        }

        boolean bitmapComplete(int index) {
            return (completeBitmaps.get(index >>> 6) & (1L << index)) != 0;
        }

        void markBitmapComplete(int index) {
            completeBitmaps.getAndAccumulate(index >>> 6, 1L << index, (a, b) -> a | b);
        }
    }

    /** The parent chain of a differencing disk. */
    record Parent(VirtualDisk disk, String name, UUID uniqueId) {
    }

    private final int blockSize;
    private final int blockShift;
    private final int bitmapSize;
    private final int sectorsPerBlock;
    private final byte[] fullBitmap;
    /** Null until first use for a lazily opened parent ({@link #state()}). */
    private volatile State state;
    /** The virtual size found at open, for {@link #virtualSize()} before the state is read. */
    private final long lazySize;
    /** Null for a dynamic disk (and a differencing one opened without its chain, for repair only). */
    private volatile Parent parent;
    /** Non-null for a disk that was differencing when opened; stays after a rebase to none. */
    private final ReentrantLock[] stripes;
    private final Set<Integer> dirtyBitmaps = ConcurrentHashMap.newKeySet();
    /** Blocks allocated since the last flush whose BAT entry is only in memory yet. */
    private final Set<Integer> pendingBat = ConcurrentHashMap.newKeySet();
    private final ReentrantLock flushLock = new ReentrantLock();
    private final java.util.concurrent.locks.ReentrantReadWriteLock chainLock =
            new java.util.concurrent.locks.ReentrantReadWriteLock();

    // guarded by metaLock
    private Footer footer;
    private DynamicHeader header;
    private long nextFree;
    private long footerPos;
    private long batRoomEnd;

    DynamicVhdDisk(DatastoreFile file, boolean readOnly, Inspection in) {
        this(file, readOnly, in, null);
    }

    DynamicVhdDisk(DatastoreFile file, boolean readOnly, Inspection in, Parent parent) {
        super(file, readOnly);
        this.header = in.header();
        this.footer = in.footer();
        this.blockSize = header.blockSize();
        this.blockShift = Integer.numberOfTrailingZeros(blockSize);
        this.bitmapSize = SectorBitmap.sizeFor(blockSize);
        this.sectorsPerBlock = blockSize / 512;
        this.fullBitmap = SectorBitmap.allSet(blockSize);
        this.nextFree = in.nextFree();
        this.footerPos = in.fileSize() - Footer.SIZE;
        this.batRoomEnd = in.batRoomEnd();
        boolean differencing = in.type() == DiskType.DIFFERENCING;
        this.parent = parent;
        if (differencing) {
            stripes = new ReentrantLock[STRIPES];
            for (int i = 0; i < STRIPES; i++) {
                stripes[i] = new ReentrantLock();
            }
        } else {
            stripes = null;
        }
        this.lazySize = in.virtualSize();
        if (in.bat() != null) {
            this.state = new State(in.virtualSize(), new AtomicIntegerArray(in.bat()),
                    differencing ? new AtomicReferenceArray<>(in.bat().length) : null);
        } else if (!readOnly) {
            throw new IllegalArgumentException("only a read-only disk can defer reading its BAT");
        }
    }

    /**
     * The state, read on first use for a parent opened with {@link VhdInspector#inspectHeaders}:
     * a chain's parents are opened with every child, but most of them are never read
     * through (a snapshot is taken, a volume opened and closed), and reading and checking a
     * 1 TiB disk's 2 MiB BAT costs milliseconds per image. Everything but the BAT was
     * validated at open; the BAT is validated here, and a damaged one fails this read with
     * CORRUPT_IMAGE as the open would have.
     */
    private State state() {
        State s = state;
        return s != null ? s : loadState();
    }

    private State loadState() {
        metaLock.lock();
        try {
            State s = state;
            if (s != null) {
                return s;
            }
            Inspection in = VhdInspector.inspect(file);
            if (!in.footer().uniqueId().equals(footer.uniqueId()) || in.virtualSize() != lazySize
                    || in.type() != DiskType.DIFFERENCING && in.type() != DiskType.DYNAMIC) {
                throw VhdInspector.corrupt(file, "the image changed while it was open as a parent (unique id "
                        + in.footer().uniqueId() + ", " + in.virtualSize() + " bytes)");
            }
            this.header = in.header();
            this.nextFree = in.nextFree();
            this.footerPos = in.fileSize() - Footer.SIZE;
            this.batRoomEnd = in.batRoomEnd();
            s = new State(in.virtualSize(), new AtomicIntegerArray(in.bat()),
                    in.type() == DiskType.DIFFERENCING ? new AtomicReferenceArray<>(in.bat().length) : null);
            state = s;
            return s;
        } finally {
            metaLock.unlock();
        }
    }

    @Override
    public long virtualSize() {
        State s = state();
        return s != null ? s.virtualSize : lazySize;
    }

    @Override
    public Provisioning provisioning() {
        return Provisioning.THIN;
    }

    @Override
    UUID uniqueId() {
        metaLock.lock();
        try {
            return footer.uniqueId();
        } finally {
            metaLock.unlock();
        }
    }

    @Override
    int timestamp() {
        metaLock.lock();
        try {
            return footer.timestamp();
        } finally {
            metaLock.unlock();
        }
    }

    boolean differencing() {
        return parent != null;
    }

    @Override
    public Optional<String> backingFile() {
        Parent p = parent;
        return p == null ? Optional.empty() : Optional.of(p.name());
    }

    @Override
    public int chainLength() {
        Parent p = parent;
        return p == null ? 1 : 1 + p.disk().chainLength();
    }

    private long dataOffset(int entry, int inBlock) {
        return Bat.blockOffset(entry) + bitmapSize + inBlock;
    }

    private ReentrantLock stripe(int index) {
        return stripes[index & (STRIPES - 1)];
    }


    // ---------------------------------------------------------------- the chain lock

    /*
     * A differencing disk's public operations hold the chain lock shared, so that a
     * rebase can swap the parent and close the old chain only once no operation
     * still uses it (snapshot deletion rebases a leaf in use). Dynamic disks, and a
     * child made standalone, never take it.
     */

    @Override
    public void read(ByteBuffer dst, long offset) {
        if (parent == null) {
            doRead(dst, offset);
            return;
        }
        chainLock.readLock().lock();
        try {
            doRead(dst, offset);
        } finally {
            chainLock.readLock().unlock();
        }
    }

    @Override
    public void write(ByteBuffer src, long offset) {
        if (parent == null) {
            doWrite(src, offset);
            return;
        }
        chainLock.readLock().lock();
        try {
            doWrite(src, offset);
        } finally {
            chainLock.readLock().unlock();
        }
    }

    /**
     * A read into several buffers that lies within one allocated block of a dynamic disk is
     * one contiguous range of the file, read in one call (one scattering system call on a local
     * file); anything else is read buffer by buffer.
     */
    @Override
    public void read(ByteBuffer[] dsts, long offset) {
        if (parent == null && dsts.length > 1) {
            long total = total(dsts);
            State s = state();
            int entry = allocatedBlockHolding(s, offset, total);
            int inBlock = (int) (offset & (blockSize - 1));
            if (entry != Bat.UNUSED) {
                long at = dataOffset(entry, inBlock);
                long got = file.read(dsts, at);
                if (got < total) {
                    throw new StorageException(ErrorCode.IO_ERROR, "file '" + file.name() + "' ended at "
                            + (at + got) + " while reading " + total + " bytes at " + at
                            + " (was it truncated while open?)");
                }
                return;
            }
        }
        super.read(dsts, offset);
    }

    /**
     * A payload in several buffers that lies within one allocated block of a dynamic disk is
     * contiguous in the file: it goes there in one call (one gathering system call on a
     * local file). Anything else (a differencing disk, a write across blocks or to a block
     * not yet allocated) is written buffer by buffer.
     */
    @Override
    public void write(ByteBuffer[] srcs, long offset) {
        if (parent == null && srcs.length > 1) {
            checkWritable();
            State s = state();
            int entry = allocatedBlockHolding(s, offset, total(srcs));
            if (entry != Bat.UNUSED) {
                completeBitmap(s, (int) (offset >>> blockShift), entry);
                file.write(srcs, dataOffset(entry, (int) (offset & (blockSize - 1))));
                return;
            }
        }
        super.write(srcs, offset);
    }

    /**
     * A dynamic disk's range inside one allocated block is contiguous in the file: the file's
     * window for it, after the block's bitmap is made complete as a write there makes it. A
     * differencing disk offers none (a write there may read its parent first and sets bits).
     */
    @Override
    public Optional<FileWindow> window(long offset, int length) {
        checkWritable();
        State s = state();
        if (parent != null) {
            checkRange(offset, length, s.virtualSize);
            return Optional.empty();
        }
        int entry = allocatedBlockHolding(s, offset, length);
        if (entry == Bat.UNUSED) {
            return Optional.empty();
        }
        completeBitmap(s, (int) (offset >>> blockShift), entry);
        return file.window(dataOffset(entry, (int) (offset & (blockSize - 1))), length);
    }

    private static long total(ByteBuffer[] bufs) {
        long n = 0;
        for (ByteBuffer b : bufs) {
            n += b.remaining();
        }
        return n;
    }

    /**
     * Checks the range, then finds the allocated block that holds all of it.
     *
     * @return the block's BAT entry, or {@link Bat#UNUSED} when the range is empty, crosses a
     *         block boundary or lies in a block not allocated
     */
    private int allocatedBlockHolding(State s, long offset, long length) {
        checkRange(offset, length, s.virtualSize);
        int inBlock = (int) (offset & (blockSize - 1));
        if (length <= 0 || inBlock + length > blockSize) {
            return Bat.UNUSED;
        }
        return s.bat.get((int) (offset >>> blockShift));
    }

    @Override
    public List<Extent> blockStatus(long offset, long length) {
        chainLock.readLock().lock();
        try {
            return doBlockStatus(offset, length);
        } finally {
            chainLock.readLock().unlock();
        }
    }

    /**
     * On a latency-bound file ({@link #concurrentIo}): a read whose every block is unallocated
     * (dynamic disks: zeros) or in this file (a dynamic disk's allocated block, a differencing
     * block whose cached bitmap is full) goes to the file's asynchronous reads without waiting
     * and without the chain lock (it touches no parent). Anything else runs the blocking path on
     * {@link SlowIo}'s threads.
     */
    @Override
    public CompletableFuture<Void> readAsync(ByteBuffer dst, long offset) {
        if (!file.concurrentIo()) {
            return super.readAsync(dst, offset);
        }
        State s = state();
        checkRange(offset, dst.remaining(), s.virtualSize);
        long at = oneBlockInFile(s, offset, dst.remaining(), false);
        if (at >= 0) {
            return file.readAsync(dst, at); // the common case: no stage of its own
        }
        int[] entries = direct(s, offset, dst.remaining(), false);
        if (entries == null) {
            return SlowIo.run(() -> read(dst, offset));
        }
        return each(s, entries, dst, offset, false);
    }

    /** As {@link #readAsync}: a write into allocated blocks needing no bitmap change goes straight to the file. */
    @Override
    public CompletableFuture<Void> writeAsync(ByteBuffer src, long offset) {
        if (!file.concurrentIo()) {
            return super.writeAsync(src, offset);
        }
        checkWritable();
        State s = state();
        checkRange(offset, src.remaining(), s.virtualSize);
        long at = oneBlockInFile(s, offset, src.remaining(), true);
        if (at >= 0) {
            return file.writeAsync(src, at);
        }
        int[] entries = direct(s, offset, src.remaining(), true);
        if (entries == null) {
            return SlowIo.run(() -> write(src, offset));
        }
        return each(s, entries, src, offset, true);
    }

    /**
     * @return the file offset of {@code [offset, offset + length)} when it lies inside one block
     *     served by this file alone with no metadata to change; else -1
     */
    private long oneBlockInFile(State s, long offset, int length, boolean write) {
        int inBlock = (int) (offset & (blockSize - 1));
        if (length == 0 || inBlock + length > blockSize) {
            return -1;
        }
        int index = (int) (offset >>> blockShift);
        int entry = s.bat.get(index);
        if (entry == Bat.UNUSED || (parent != null ? s.bitmaps == null || s.bitmaps.get(index) != FULL
                : write && !s.bitmapComplete(index))) {
            return -1;
        }
        return dataOffset(entry, inBlock);
    }

    /**
     * @return the BAT entries of the blocks {@code [offset, offset + length)} spans when each is
     *     served by this file alone with no metadata to change (or, reading a dynamic disk,
     *     unallocated), else null
     */
    private int[] direct(State s, long offset, int length, boolean write) {
        if (length == 0) {
            return new int[0];
        }
        int first = (int) (offset >>> blockShift);
        int last = (int) ((offset + length - 1) >>> blockShift);
        int[] entries = new int[last - first + 1];
        boolean diff = parent != null;
        for (int i = 0; i < entries.length; i++) {
            int index = first + i;
            int entry = s.bat.get(index);
            if (entry == Bat.UNUSED) {
                if (write || diff) {
                    return null;
                }
            } else if (diff ? s.bitmaps == null || s.bitmaps.get(index) != FULL
                    : write && !s.bitmapComplete(index)) {
                return null;
            }
            entries[i] = entry;
        }
        return entries;
    }

    /** Starts the file I/O of each block's piece; the buffer's position is at its limit once all are done. */
    private CompletableFuture<Void> each(State s, int[] entries, ByteBuffer buf, long offset, boolean write) {
        int end = buf.limit();
        int pos = buf.position();
        long off = offset;
        CompletableFuture<?>[] parts = new CompletableFuture<?>[entries.length];
        int started = 0;
        for (int entry : entries) {
            int inBlock = (int) (off & (blockSize - 1));
            int n = Math.min(end - pos, blockSize - inBlock);
            ByteBuffer part = buf.duplicate().limit(pos + n).position(pos);
            if (entry == Bat.UNUSED) {
                Io.fillZeros(part, n);
            } else {
                long at = dataOffset(entry, inBlock);
                parts[started++] = write ? file.writeAsync(part, at) : file.readAsync(part, at);
            }
            pos += n;
            off += n;
        }
        CompletableFuture<Void> all = started == 1 ? parts[0].thenRun(() -> { })
                : CompletableFuture.allOf(Arrays.copyOf(parts, started));
        return all.thenRun(() -> buf.position(end));
    }

    @Override
    public List<Extent> layerStatus(long offset, long length) {
        chainLock.readLock().lock();
        try {
            return doLayerStatus(offset, length);
        } finally {
            chainLock.readLock().unlock();
        }
    }

    @Override
    public void populate(long offset, long length) {
        chainLock.readLock().lock();
        try {
            doPopulate(offset, length);
        } finally {
            chainLock.readLock().unlock();
        }
    }

    @Override
    public void trim(long offset, long length) {
        chainLock.readLock().lock();
        try {
            doTrim(offset, length);
        } finally {
            chainLock.readLock().unlock();
        }
    }

    private void swapParent(Parent np) {
        chainLock.writeLock().lock();
        try {
            parent = np;
        } finally {
            chainLock.writeLock().unlock();
        }
    }

    /**
     * The range as one run of this file (an allocated block; in a differencing disk, sectors
     * all present here) or of the parent's chain (sectors all absent here), within one block.
     */
    @Override
    public Optional<FileSlice> slice(long offset, int length) {
        if (parent == null) {
            return doSlice(offset, length);
        }
        chainLock.readLock().lock();
        try {
            return doSlice(offset, length);
        } finally {
            chainLock.readLock().unlock();
        }
    }

    private Optional<FileSlice> doSlice(long offset, int length) {
        State s = state();
        checkRange(offset, length, s.virtualSize);
        int index = (int) (offset >>> blockShift);
        int inBlock = (int) (offset & (blockSize - 1));
        if (length <= 0 || inBlock + (long) length > blockSize) {
            return Optional.empty();
        }
        int entry = s.bat.get(index);
        Parent p = parent;
        if (entry == Bat.UNUSED) {
            // Unallocated: zeros in a dynamic disk (nothing to send from a file), else the parent's.
            return p == null ? Optional.empty() : parentSlice(p, offset, length);
        }
        if (p != null) {
            byte[] bm = bitmap(s, index, entry);
            if (bm != FULL) {
                int first = inBlock >>> 9;
                int last = (inBlock + length - 1) >>> 9;
                boolean here = SectorBitmap.isSet(bm, first);
                for (int i = first + 1; i <= last; i++) {
                    if (SectorBitmap.isSet(bm, i) != here) {
                        return Optional.empty(); // partly here, partly in the parent
                    }
                }
                if (!here) {
                    return parentSlice(p, offset, length);
                }
            }
        }
        return file.slice(dataOffset(entry, inBlock), length);
    }

    /** Past the end of a parent smaller than the child the chain reads zeros: not a slice. */
    private static Optional<FileSlice> parentSlice(Parent p, long offset, int length) {
        return offset + length > p.disk().virtualSize() ? Optional.empty() : p.disk().slice(offset, length);
    }

    // ---------------------------------------------------------------- reads

    private void doRead(ByteBuffer dst, long offset) {
        State s = state();
        checkRange(offset, dst.remaining(), s.virtualSize);
        Parent p = parent;
        int end = dst.limit();
        long off = offset;
        try {
            while (dst.position() < end) {
                int index = (int) (off >>> blockShift);
                int inBlock = (int) (off & (blockSize - 1));
                int n = Math.min(end - dst.position(), blockSize - inBlock);
                int entry = s.bat.get(index);
                if (p != null) {
                    readPiece(s, p, index, entry, dst, inBlock, n);
                } else if (entry == Bat.UNUSED) {
                    Io.fillZeros(dst, n);
                } else {
                    dst.limit(dst.position() + n);
                    Io.readExactly(file, dst, dataOffset(entry, inBlock));
                    dst.limit(end);
                }
                off += n;
            }
        } finally {
            dst.limit(end);
        }
    }

    /** Reads {@code n} bytes of one block of a differencing disk: this file's sectors and the parent's. */
    private void readPiece(State s, Parent p, int index, int entry, ByteBuffer dst, int inBlock, int n) {
        long blockStart = (long) index << blockShift;
        if (entry == Bat.UNUSED) {
            readParent(p, dst, blockStart + inBlock, n);
            return;
        }
        byte[] bm = bitmap(s, index, entry);
        if (bm == FULL) {
            readFile(dst, dataOffset(entry, inBlock), n);
            return;
        }
        int pos = inBlock;
        int stop = inBlock + n;
        while (pos < stop) {
            boolean here = SectorBitmap.isSet(bm, pos >>> 9);
            int q = ((pos >>> 9) + 1) << 9;
            while (q < stop && SectorBitmap.isSet(bm, q >>> 9) == here) {
                q += 512;
            }
            q = Math.min(q, stop);
            if (here) {
                readFile(dst, dataOffset(entry, pos), q - pos);
            } else {
                readParent(p, dst, blockStart + pos, q - pos);
            }
            pos = q;
        }
    }

    private void readFile(ByteBuffer dst, long position, int n) {
        int end = dst.limit();
        dst.limit(dst.position() + n);
        try {
            Io.readExactly(file, dst, position);
        } finally {
            dst.limit(end);
        }
    }

    /** The parent may be smaller than the child (the child grew): past its end the chain reads zeros. */
    private static void readParent(Parent p, ByteBuffer dst, long off, int n) {
        long fromParent = Math.max(0, Math.min(n, p.disk().virtualSize() - off));
        int end = dst.limit();
        if (fromParent > 0) {
            dst.limit(dst.position() + (int) fromParent);
            try {
                p.disk().read(dst, off);
            } finally {
                dst.limit(end);
            }
        }
        if (n > fromParent) {
            Io.fillZeros(dst, (int) (n - fromParent));
        }
    }

    /** @return the cached bitmap of an allocated block, loading it from the file the first time */
    private byte[] bitmap(State s, int index, int entry) {
        byte[] bm = s.bitmaps.get(index);
        if (bm != null) {
            return bm;
        }
        byte[] loaded = Io.readBytes(file, Bat.blockOffset(entry), bitmapSize);
        if (loaded == null) {
            throw new StorageException(ErrorCode.IO_ERROR, "the bitmap of block " + index + " of '" + file.name()
                    + "' lies past the end of the file (was it truncated while open?)");
        }
        byte[] normal = normalize(loaded);
        return s.bitmaps.compareAndSet(index, null, normal) ? normal : s.bitmaps.get(index);
    }

    private byte[] normalize(byte[] bm) {
        for (int i = 0; i < sectorsPerBlock; i++) {
            if (!SectorBitmap.isSet(bm, i)) {
                return bm;
            }
        }
        return FULL;
    }

    private byte[] onDisk(byte[] bm) {
        return bm == FULL ? fullBitmap : bm;
    }

    // ---------------------------------------------------------------- writes

    private void doWrite(ByteBuffer src, long offset) {
        checkWritable();
        State s = state();
        checkRange(offset, src.remaining(), s.virtualSize);
        boolean diff = parent != null;
        int end = src.limit();
        long off = offset;
        try {
            while (src.position() < end) {
                int index = (int) (off >>> blockShift);
                int inBlock = (int) (off & (blockSize - 1));
                int n = Math.min(end - src.position(), blockSize - inBlock);
                src.limit(src.position() + n);
                if (diff) {
                    ReentrantLock lock = stripe(index);
                    lock.lock();
                    try {
                        writePiece(index, src, inBlock, n);
                    } finally {
                        lock.unlock();
                    }
                } else {
                    int entry = s.bat.get(index);
                    if (entry == Bat.UNUSED) {
                        allocate(index, fullBitmap, src, inBlock);
                    } else {
                        completeBitmap(s, index, entry);
                        file.write(src, dataOffset(entry, inBlock));
                    }
                }
                src.limit(end);
                off += n;
            }
        } finally {
            src.limit(end);
        }
    }

    /**
     * Writes one block's part of a write to a differencing disk; the caller holds
     * the block's stripe lock. A sector written partly whose data is still in the
     * parent is first read from the parent (read-modify-write), so that setting its
     * bit never exposes stale bytes around the write.
     */
    private void writePiece(int index, ByteBuffer src, int inBlock, int n) {
        State s = state();
        Parent p = parent;
        int entry = s.bat.get(index);
        byte[] bm = entry == Bat.UNUSED ? null : bitmap(s, index, entry);
        int first = inBlock >>> 9;
        int last = (inBlock + n - 1) >>> 9;
        boolean headRmw = (inBlock & 511) != 0 && !isSet(bm, first);
        boolean tailRmw = ((inBlock + n) & 511) != 0 && !isSet(bm, last);
        ByteBuffer data = src;
        int at = inBlock;
        if ((headRmw || tailRmw) && p != null) {
            int from = first << 9;
            ByteBuffer buf = ByteBuffer.allocate(((last + 1) << 9) - from);
            boolean headPartial = (inBlock & 511) != 0;
            if (headPartial) {
                readPiece(s, p, index, entry, buf.duplicate().limit(512), from, 512);
            }
            if (((inBlock + n) & 511) != 0 && (last != first || !headPartial)) {
                readPiece(s, p, index, entry, buf.duplicate().position(buf.capacity() - 512), last << 9, 512);
            }
            buf.position(inBlock - from);
            buf.put(src);
            buf.clear();
            data = buf;
            at = from;
        }
        byte[] bits = bm == null ? new byte[bitmapSize] : bm == FULL ? null : bm.clone();
        if (bits != null) {
            for (int i = first; i <= last; i++) {
                SectorBitmap.set(bits, i);
            }
        }
        byte[] updated = bits == null ? FULL : normalize(bits);
        if (entry == Bat.UNUSED) {
            allocate(index, onDisk(updated), data, at);
            state().bitmaps.set(index, updated);
            return;
        }
        file.write(data, dataOffset(entry, at));
        if (bm != updated && !Arrays.equals(onDisk(bm), onDisk(updated))) {
            s.bitmaps.set(index, updated);
            dirtyBitmaps.add(index);
        }
    }

    private static boolean isSet(byte[] bm, int sector) {
        return bm != null && (bm == FULL || SectorBitmap.isSet(bm, sector));
    }

    /**
     * Allocates block {@code index} past the end of the file with the given bitmap
     * and, when {@code src} is not null, the data of the write that caused it.
     *
     * @return the new BAT entry (or the existing one when another writer got there first)
     */
    private int allocate(int index, byte[] bitmap, ByteBuffer src, int inBlock) {
        metaLock.lock();
        try {
            State s = state();
            int entry = s.bat.get(index);
            if (entry != Bat.UNUSED) { // another writer allocated it while we waited (dynamic disks only)
                if (src != null) {
                    file.write(src, dataOffset(entry, inBlock));
                }
                return entry;
            }
            long block = Layout.alignBlock(nextFree, bitmapSize);
            long newFooterPos = block + bitmapSize + blockSize;
            if ((block >>> 9) >= 0xFFFFFFFFL) {
                throw new StorageException(ErrorCode.DATASTORE_FULL, "disk '" + file.name()
                        + "' has reached the 2 TiB file size a VHD BAT can address");
            }
            Io.write(file, footer.encode(), newFooterPos);
            footerPos = newFooterPos;
            nextFree = newFooterPos; // even if a later step fails, never reuse space a write may have touched
            Io.write(file, bitmap, block);
            // The data area lies past the old end of the file, so what is not written reads as zeros.
            if (src != null) {
                file.write(src, block + bitmapSize + inBlock);
            }
            entry = Bat.entryFor(block);
            if (bitmap == fullBitmap) {
                s.markBitmapComplete(index);
            }
            s.bat.set(index, entry);
            pendingBat.add(index); // reaches the file in flush(), after an fsync made the block durable
            return entry;
        } finally {
            metaLock.unlock();
        }
    }

    /**
     * Dynamic disks: before the first write into a block another tool allocated, make its
     * bitmap all set, as Strata's own blocks have it. Strata and qemu read a dynamic disk's
     * data area whatever the bitmap says; Hyper-V reads zeros for unset sectors, so a write
     * there must set them. Setting bits first is safe: where the check found them unset the
     * data area holds zeros, which is what every reader then sees until the data lands.
     */
    private void completeBitmap(State s, int index, int entry) {
        if (s.bitmapComplete(index)) {
            return;
        }
        long at = Bat.blockOffset(entry);
        byte[] bm = Io.readBytes(file, at, bitmapSize);
        if (bm == null || !Arrays.equals(bm, fullBitmap)) {
            Io.write(file, fullBitmap, at);
        }
        s.markBitmapComplete(index);
    }

    private void writeBatEntry(int index, int entry) {
        ByteBuffer b = ByteBuffer.allocate(4).putInt(entry).flip();
        file.write(b, header.tableOffset() + index * 4L);
    }

    /** Unallocated blocks already read as zeros: only allocated ones are written, so zeroing never allocates. */
    @Override
    public void writeZeroes(long offset, long length) {
        if (parent != null) {
            trim(offset, length); // reads zeros afterwards, hiding the parent, without writing more than needed
            return;
        }
        checkWritable();
        State s = state();
        checkRange(offset, length, s.virtualSize);
        long off = offset;
        long end = offset + length;
        while (off < end) {
            int index = (int) (off >>> blockShift);
            long blockEnd = Math.min(end, ((long) index + 1) << blockShift);
            int entry = s.bat.get(index);
            if (entry != Bat.UNUSED) {
                Io.writeZeros(file, dataOffset(entry, (int) (off & (blockSize - 1))), blockEnd - off);
            }
            off = blockEnd;
        }
    }

    /**
     * Without allocations or bitmap changes since the last flush: one fsync. Else:
     * snapshot the pending BAT entries and changed bitmaps, fsync (the blocks and
     * data they describe are now durable), write them, fsync again. Flushes are
     * serialized so that a flush never returns while another one still holds
     * entries it has not written.
     */
    @Override
    public void flush() {
        flushLock.lock();
        try {
            if (pendingBat.isEmpty() && dirtyBitmaps.isEmpty()) {
                file.flush();
                return;
            }
            List<int[]> entries = new ArrayList<>();
            metaLock.lock();
            try {
                for (Integer index : pendingBat) {
                    pendingBat.remove(index);
                    entries.add(new int[] {index, state().bat.get(index)});
                }
            } finally {
                metaLock.unlock();
            }
            List<Object[]> pending = new ArrayList<>();
            for (Integer index : dirtyBitmaps) {
                dirtyBitmaps.remove(index);
                ReentrantLock lock = stripe(index);
                lock.lock();
                try {
                    State s = state();
                    int entry = s.bat.get(index);
                    byte[] bm = s.bitmaps.get(index);
                    if (entry != Bat.UNUSED && bm != null) {
                        pending.add(new Object[] {index, entry, bm});
                    }
                } finally {
                    lock.unlock();
                }
            }
            file.flush();
            metaLock.lock();
            try {
                for (int[] e : entries) {
                    if (state().bat.get(e[0]) == e[1]) { // else trim or reclaim changed it since, and wrote it
                        writeBatEntry(e[0], e[1]);
                    }
                }
            } finally {
                metaLock.unlock();
            }
            for (Object[] p : pending) {
                int index = (Integer) p[0];
                ReentrantLock lock = stripe(index);
                lock.lock();
                try {
                    if (state().bat.get(index) == (Integer) p[1]) {
                        Io.write(file, onDisk((byte[]) p[2]), Bat.blockOffset((Integer) p[1]));
                    }
                } finally {
                    lock.unlock();
                }
            }
            file.flush();
        } finally {
            flushLock.unlock();
        }
    }

    // ---------------------------------------------------------------- status

    private List<Extent> doBlockStatus(long offset, long length) {
        State s = state();
        checkRange(offset, length, s.virtualSize);
        Parent p = parent;
        List<Extent> layer = layerExtents(s, p, offset, length);
        if (p == null) {
            return layer;
        }
        List<Extent> out = new ArrayList<>();
        for (Extent e : layer) {
            if (e.allocated()) {
                add(out, e.offset(), e.length(), true, false);
                continue;
            }
            long psize = p.disk().virtualSize();
            long inParent = Math.max(0, Math.min(e.length(), psize - e.offset()));
            if (inParent > 0) {
                for (Extent pe : p.disk().blockStatus(e.offset(), inParent)) {
                    add(out, pe.offset(), pe.length(), pe.allocated(), pe.zero());
                }
            }
            if (e.length() > inParent) {
                add(out, e.offset() + inParent, e.length() - inParent, false, true);
            }
        }
        return out;
    }

    /**
     * This layer alone, at sector granularity for differencing disks (the bitmap),
     * at block granularity for dynamic ones. A range a differencing disk does not
     * hold is reported not allocated and not known to be zero (the chain decides).
     */
    private List<Extent> doLayerStatus(long offset, long length) {
        State s = state();
        checkRange(offset, length, s.virtualSize);
        return layerExtents(s, parent, offset, length);
    }

    private List<Extent> layerExtents(State s, Parent p, long offset, long length) {
        List<Extent> out = new ArrayList<>();
        long off = offset;
        long end = offset + length;
        while (off < end) {
            int index = (int) (off >>> blockShift);
            long blockStart = (long) index << blockShift;
            long blockEnd = Math.min(end, blockStart + blockSize);
            int entry = s.bat.get(index);
            if (entry == Bat.UNUSED) {
                add(out, off, blockEnd - off, false, p == null);
            } else if (p == null || s.bitmaps == null) {
                add(out, off, blockEnd - off, true, false);
            } else {
                byte[] bm = bitmap(s, index, entry);
                long pos = off;
                while (pos < blockEnd) {
                    boolean here = isSet(bm, (int) ((pos - blockStart) >>> 9));
                    long q = Math.min(blockEnd, ((pos >>> 9) + 1) << 9);
                    add(out, pos, q - pos, here, false);
                    pos = q;
                }
            }
            off = blockEnd;
        }
        return out;
    }

    private static void add(List<Extent> out, long off, long len, boolean allocated, boolean zero) {
        if (len <= 0) {
            return;
        }
        int last = out.size() - 1;
        if (last >= 0) {
            Extent prev = out.get(last);
            if (prev.allocated() == allocated && prev.zero() == zero && prev.offset() + prev.length() == off) {
                out.set(last, new Extent(prev.offset(), prev.length() + len, allocated, zero));
                return;
            }
        }
        out.add(new Extent(off, len, allocated, zero));
    }

    /** @return whether the chain below this layer reads zeros over the range (known without reading) */
    private static boolean parentReadsZeros(Parent p, long off, long len) {
        long inParent = Math.max(0, Math.min(len, p.disk().virtualSize() - off));
        if (inParent == 0) {
            return true;
        }
        for (Extent e : p.disk().blockStatus(off, inParent)) {
            if (!e.zero()) {
                return false;
            }
        }
        return true;
    }

    // ---------------------------------------------------------------- chains

    /**
     * Copies what the chain holds into this layer wherever this layer's bit is unset,
     * block by block under the block's stripe lock, so a guest write to the same
     * block waits and is never overwritten by older parent data. Blocks this layer
     * does not hold and the chain does not allocate (they read zeros) are left
     * unallocated.
     */
    private void doPopulate(long offset, long length) {
        checkWritable();
        State s0 = state();
        checkRange(offset, length, s0.virtualSize);
        Parent p0 = parent;
        if (p0 == null) {
            return; // nothing here depends on a parent
        }
        long off = offset & ~511L;
        long end = Math.min(s0.virtualSize, (offset + length + 511) & ~511L);
        ByteBuffer buf = ByteBuffer.allocateDirect(blockSize);
        while (off < end) {
            int index = (int) (off >>> blockShift);
            long blockStart = (long) index << blockShift;
            long blockEnd = Math.min(end, blockStart + blockSize);
            ReentrantLock lock = stripe(index);
            lock.lock();
            try {
                State s = state();
                Parent p = parent;
                int entry = s.bat.get(index);
                if (entry == Bat.UNUSED) {
                    if (!parentReadsZeros(p, off, blockEnd - off)) {
                        copyFromParent(p, index, (int) (off - blockStart), (int) (blockEnd - off), buf);
                    }
                } else {
                    byte[] bm = bitmap(s, index, entry);
                    int pos = (int) (off - blockStart);
                    int stop = (int) (blockEnd - blockStart);
                    while (pos < stop) {
                        if (isSet(bm, pos >>> 9)) {
                            pos += 512;
                            continue;
                        }
                        int q = pos + 512;
                        while (q < stop && !isSet(bm, q >>> 9)) {
                            q += 512;
                        }
                        copyFromParent(p, index, pos, q - pos, buf);
                        pos = q;
                    }
                }
            } finally {
                lock.unlock();
            }
            off = blockEnd;
        }
        flush();
    }

    /** @param buf a direct buffer of at least {@code n} bytes, reused by the caller (no copy through the JDK's) */
    private void copyFromParent(Parent p, int index, int inBlock, int n, ByteBuffer buf) {
        buf.clear().limit(n);
        readParent(p, buf, ((long) index << blockShift) + inBlock, n);
        buf.flip();
        writePiece(index, buf, inBlock, n);
    }

    /**
     * Relinks this child. To another parent: the new locator data goes into space no
     * live locator uses (Strata's second locator set, else past the end of the file),
     * is made durable, and then one header write switches parent id, timestamp, name
     * and locators, followed by a flush. To none: only after every block this layer
     * holds is complete (full bitmaps) and nothing else is left in the chain; the
     * footer's disk type changes (end, then the copy at 0, which is what readers
     * believe), then the header drops the parent fields.
     */
    @Override
    public void rebase(String parentFile, BackingResolver backing) {
        checkWritable();
        if (parent == null) {
            throw new StorageException(ErrorCode.UNSUPPORTED, "disk '" + file.name()
                    + "' is a dynamic VHD without parent; only differencing VHDs can be rebased");
        }
        flush();
        Parent old = parent;
        if (parentFile == null) {
            makeStandalone(old);
        } else {
            Parent np = VhdFormat.openParent(file.name(), parentFile, backing, null, 1);
            try {
                relink(np);
            } catch (RuntimeException e) {
                np.disk().close();
                throw e;
            }
        }
        if (old != null) {
            old.disk().close();
        }
    }

    private void relink(Parent np) {
        if (np.disk().virtualSize() > virtualSize()) {
            throw new StorageException(ErrorCode.INVALID_ARGUMENT, "cannot rebase '" + file.name() + "' onto '"
                    + np.name() + "': the parent is larger than the child");
        }
        metaLock.lock();
        try {
            long at = Layout.otherLocatorSet(header);
            if (at >= 0 && !freeForLocators(at)) {
                at = -1; // looks like Strata's layout but is not: append rather than overwrite anything
            }
            if (at < 0) {
                at = (nextFree + 511) & ~511L;
                long newFooterPos = at + Layout.LOCATOR_SET;
                Io.write(file, footer.encode(), newFooterPos);
                footerPos = newFooterPos;
                nextFree = newFooterPos;
            }
            String absolute = VhdFormat.absolutePath(np);
            List<ParentLocator> locators = Layout.writeLocators(file, at, Layout.relativePath(np.name()), absolute);
            file.flush();
            long batEnd = header.tableOffset() + Bat.bytesOnDisk(header.entries());
            if (at >= batEnd) {
                batRoomEnd = Math.min(batRoomEnd, at); // a later growth of the BAT must not run over them
            }
            DynamicHeader h = header.withParent(np.uniqueId(), VhdFormat.parentTimestamp(np), np.name(), locators);
            Io.write(file, h.encode(), footer.dataOffset());
            file.flush();
            header = h;
        } finally {
            metaLock.unlock();
        }
        swapParent(np); // outside metaLock: writers take the chain lock before metaLock
    }

    /**
     * Whether Strata's other locator set at {@code at} is really free: inside the file before the
     * footer, clear of the footer copy, header, BAT, every block and every live locator. An image
     * from elsewhere can put its first locator where Strata's set A lies and a block where set B
     * would be; a rebase must never write locator data over it. Called under metaLock.
     */
    private boolean freeForLocators(long at) {
        long end = at + Layout.LOCATOR_SET;
        if (at < Footer.SIZE || end > footerPos) {
            return false;
        }
        if (overlaps(at, Layout.LOCATOR_SET, footer.dataOffset(), DynamicHeader.SIZE)
                || overlaps(at, Layout.LOCATOR_SET, header.tableOffset(), Bat.bytesOnDisk(header.entries()))) {
            return false;
        }
        for (ParentLocator l : header.parentLocators()) {
            if (l.isUsed() && overlaps(at, Layout.LOCATOR_SET, l.dataOffset(),
                    Math.max(Integer.toUnsignedLong(l.dataLength()), Math.max(0, l.spaceBytes())))) {
                return false;
            }
        }
        AtomicIntegerArray bat = state().bat;
        long blockBytes = bitmapSize + (long) blockSize;
        for (int i = 0; i < bat.length(); i++) {
            int e = bat.get(i);
            if (e != Bat.UNUSED && overlaps(at, Layout.LOCATOR_SET, Bat.blockOffset(e), blockBytes)) {
                return false;
            }
        }
        return true;
    }

    private static boolean overlaps(long aStart, long aLen, long bStart, long bLen) {
        return aStart < bStart + bLen && bStart < aStart + aLen;
    }

    private void makeStandalone(Parent old) {
        State s = state();
        if (old != null) {
            for (int i = 0; i < s.bat.length(); i++) {
                long start = (long) i << blockShift;
                if (start >= s.virtualSize) {
                    break;
                }
                long len = Math.min(blockSize, s.virtualSize - start);
                int entry = s.bat.get(i);
                boolean complete = entry == Bat.UNUSED ? parentReadsZeros(old, start, len)
                        : bitmapCovers(bitmap(s, i, entry), len);
                if (!complete) {
                    throw new StorageException(ErrorCode.INVALID_ARGUMENT, "disk '" + file.name()
                            + "' still reads block " + i + " from its parent '" + old.name()
                            + "'; populate it before making it standalone");
                }
            }
        }
        metaLock.lock();
        try {
            // Blocks keep their bitmaps: full ones are what a dynamic disk has.
            Footer f = footer.withType(DiskType.DYNAMIC, footer.dataOffset());
            byte[] encoded = f.encode();
            Io.write(file, encoded, footerPos);
            file.flush();
            Io.write(file, encoded, 0);
            file.flush();
            DynamicHeader h = header.withoutParent();
            Io.write(file, h.encode(), f.dataOffset());
            file.flush();
            footer = f;
            header = h;
        } finally {
            metaLock.unlock();
        }
        swapParent(null);
    }

    private boolean bitmapCovers(byte[] bm, long len) {
        if (bm == FULL) {
            return true;
        }
        // bits of sectors past the end of the disk (last block) do not matter
        for (int i = 0; i < (len + 511) / 512; i++) {
            if (!SectorBitmap.isSet(bm, i)) {
                return false;
            }
        }
        return true;
    }

    // ---------------------------------------------------------------- trim and reclaim

    /**
     * Whole blocks in the range are freed at once (BAT entry unused; the data area is
     * punched when the datastore can): in a dynamic disk always, in a differencing one
     * when the chain below reads zeros there; otherwise the block's data is zeroed and
     * every bit set, so it reads zeros and hides the parent. Partial blocks are written
     * with zeros (a dynamic disk skips unallocated ones). Freed space stays a hole in
     * the file until {@link #reclaim()} compacts it.
     */
    private void doTrim(long offset, long length) {
        checkWritable();
        State s0 = state();
        checkRange(offset, length, s0.virtualSize);
        long off = offset;
        long end = offset + length;
        while (off < end) {
            int index = (int) (off >>> blockShift);
            long blockStart = (long) index << blockShift;
            long blockEnd = Math.min(end, blockStart + blockSize);
            boolean whole = off == blockStart && (blockEnd == blockStart + blockSize || blockEnd == s0.virtualSize);
            ReentrantLock lock = stripes == null ? null : stripe(index);
            if (lock != null) {
                lock.lock();
            }
            try {
                trimPiece(index, blockStart, off, blockEnd, whole);
            } finally {
                if (lock != null) {
                    lock.unlock();
                }
            }
            off = blockEnd;
        }
    }

    private void trimPiece(int index, long blockStart, long off, long end, boolean whole) {
        State s = state();
        Parent p = parent;
        int entry = s.bat.get(index);
        int inBlock = (int) (off - blockStart);
        int n = (int) (end - off);
        boolean parentZero = p == null || parentReadsZeros(p, off, n);
        if (whole && parentZero) {
            if (entry != Bat.UNUSED) {
                freeBlock(index, entry);
            }
        } else if (whole) {
            // The last block of a disk that is not a whole number of blocks: only the sectors inside the
            // disk get their bit (bits past the end would claim sectors the disk does not have).
            byte[] inDisk = blockStart + blockSize > s.virtualSize
                    ? bitsUpTo((int) ((s.virtualSize - blockStart) >>> 9)) : null;
            if (entry == Bat.UNUSED) {
                allocate(index, inDisk == null ? fullBitmap : inDisk, null, 0); // data area past the end: zeros
                s.bitmaps.set(index, inDisk == null ? FULL : inDisk);
            } else {
                zeroData(entry, 0, blockSize);
                byte[] old = bitmap(s, index, entry);
                byte[] updated = FULL;
                if (inDisk != null && old != FULL) {
                    byte[] merged = old.clone();
                    for (int i = 0; i < merged.length; i++) {
                        merged[i] |= inDisk[i];
                    }
                    updated = normalize(merged);
                }
                if (old != updated && !Arrays.equals(onDisk(old), onDisk(updated))) {
                    s.bitmaps.set(index, updated);
                    dirtyBitmaps.add(index); // written at flush, after the zeros are durable
                }
            }
        } else if (p == null) {
            if (entry != Bat.UNUSED) {
                Io.writeZeros(file, dataOffset(entry, inBlock), n);
            }
        } else if (entry != Bat.UNUSED || !parentZero) {
            writePiece(index, ByteBuffer.allocate(n), inBlock, n);
        }
    }

    /** @return a bitmap with the first {@code sectors} bits set */
    private byte[] bitsUpTo(int sectors) {
        byte[] b = new byte[bitmapSize];
        for (int i = 0; i < sectors; i++) {
            SectorBitmap.set(b, i);
        }
        return b;
    }

    private void zeroData(int entry, int inBlock, int n) {
        try {
            file.punchHole(dataOffset(entry, inBlock), n);
        } catch (StorageException e) {
            if (e.code() != ErrorCode.UNSUPPORTED) {
                throw e;
            }
            Io.writeZeros(file, dataOffset(entry, inBlock), n);
        }
    }

    /**
     * Drops a block: BAT entry unused (made durable by the next flush), then the
     * data area is punched so the space goes back at once where the datastore can.
     * The bitmap stays, so a crash before the BAT update reaches the disk leaves a
     * block that reads zeros (trimmed) with a valid full bitmap.
     */
    private void freeBlock(int index, int entry) {
        metaLock.lock();
        try {
            writeBatEntry(index, Bat.UNUSED);
            state().bat.set(index, Bat.UNUSED);
            if (state().bitmaps != null) {
                state().bitmaps.set(index, null);
                dirtyBitmaps.remove(index);
            }
        } finally {
            metaLock.unlock();
        }
        try {
            file.punchHole(dataOffset(entry, 0), blockSize);
        } catch (StorageException e) {
            if (e.code() != ErrorCode.UNSUPPORTED) {
                throw e;
            }
        }
    }

    /**
     * Frees every block that reads as zeros (in a differencing disk: whose chain
     * below reads zeros too, so dropping it changes nothing), then compacts the file.
     * The caller holds the disk alone.
     */
    @Override
    public long reclaim() {
        checkWritable();
        flush();
        long before = file.allocatedBytes();
        State s = state();
        Parent p = parent;
        ByteBuffer buf = ByteBuffer.allocate(blockSize);
        for (int i = 0; i < s.bat.length(); i++) {
            int entry = s.bat.get(i);
            long start = (long) i << blockShift;
            if (entry == Bat.UNUSED || start >= s.virtualSize) {
                continue;
            }
            int len = (int) Math.min(blockSize, s.virtualSize - start);
            if (p != null && !parentReadsZeros(p, start, len)) {
                continue;
            }
            buf.clear().limit(len);
            read(buf, start);
            if (allZero(buf.array(), len)) {
                freeBlock(i, entry);
            }
        }
        file.flush();
        compact();
        return Math.max(0, before - file.allocatedBytes());
    }

    private static boolean allZero(byte[] b, int len) {
        return allZero(b, 0, len);
    }

    private static boolean allZero(byte[] b, int from, int to) {
        for (int i = from; i < to; i++) {
            if (b[i] != 0) {
                return false;
            }
        }
        return true;
    }

    /**
     * Moves the last blocks of the file into holes nearer the front, one at a time:
     * copy bitmap and data into the hole, fsync, switch the BAT entry, fsync. Then
     * the footer is written right after the last structure, made durable, and the
     * file is cut after it. A crash at any point leaves the old or the new location
     * referenced, both complete; the other is a leak the next compaction frees.
     *
     * @return bytes the file shrank by
     */
    long compact() {
        checkWritable();
        flush(); // before metaLock: flush takes stripe locks, which writers hold while they take metaLock
        metaLock.lock();
        try {
            Inspection in = VhdInspector.inspect(file);
            State s = state();
            long blockBytes = bitmapSize + (long) blockSize;
            long metaEnd = Layout.metaEnd(in);
            TreeMap<Long, Long> used = new TreeMap<>(); // start -> end of everything past metaEnd that stays
            TreeMap<Long, Integer> blocks = new TreeMap<>(); // start -> BAT index
            for (int i = 0; i < s.bat.length(); i++) {
                int e = s.bat.get(i);
                if (e != Bat.UNUSED) {
                    long start = Bat.blockOffset(e);
                    blocks.put(start, i);
                    used.put(start, start + blockBytes);
                }
            }
            for (ParentLocator l : header.parentLocators()) {
                if (l.isUsed() && l.dataOffset() + l.dataLength() > metaEnd) {
                    long len = Math.max(l.dataLength(), Math.max(0, l.spaceBytes()));
                    used.merge(l.dataOffset(), l.dataOffset() + len, Math::max);
                }
            }
            long slot = Layout.alignBlock(metaEnd, bitmapSize);
            ByteBuffer buf = ByteBuffer.allocate((int) blockBytes);
            while (!blocks.isEmpty()) {
                Map.Entry<Long, Integer> lastBlock = blocks.lastEntry();
                slot = freeSlot(used, slot, blockBytes);
                if (slot + blockBytes > lastBlock.getKey()) {
                    break;
                }
                buf.clear();
                Io.readExactly(file, buf, lastBlock.getKey());
                buf.flip();
                copyBlock(buf, slot, blockBytes);
                file.flush();
                int index = lastBlock.getValue();
                int entry = Bat.entryFor(slot);
                writeBatEntry(index, entry);
                file.flush();
                s.bat.set(index, entry);
                blocks.remove(lastBlock.getKey());
                used.remove(lastBlock.getKey());
                blocks.put(slot, index);
                used.put(slot, slot + blockBytes);
            }
            long end = metaEnd;
            for (Map.Entry<Long, Long> u : used.entrySet()) {
                end = Math.max(end, u.getValue());
            }
            end = (end + 511) & ~511L;
            long oldSize = file.size();
            if (end + Footer.SIZE < oldSize) {
                Io.write(file, footer.encode(), end);
                file.flush();
                file.setSize(end + Footer.SIZE);
                file.flush();
                footerPos = end;
                nextFree = end;
            }
            batRoomEnd = Math.min(batRoomEnd, metaEnd); // nothing is ever placed between the BAT and metaEnd
            return oldSize - file.size();
        } finally {
            metaLock.unlock();
        }
    }

    /**
     * Writes a block into a free slot. Where the slot can be punched (it then reads
     * zeros) only the non-zero 4 KiB pages are written, so moving a sparse block
     * does not make it dense.
     */
    private void copyBlock(ByteBuffer block, long slot, long blockBytes) {
        boolean punched;
        try {
            file.punchHole(slot, blockBytes);
            punched = true;
        } catch (StorageException e) {
            if (e.code() != ErrorCode.UNSUPPORTED) {
                throw e;
            }
            punched = false;
        }
        if (!punched) {
            file.write(block, slot);
            return;
        }
        byte[] a = block.array();
        int page = 4096;
        int pos = 0;
        while (pos < a.length) {
            // pages aligned to the file, not to the block: the bitmap sits 512 bytes before a 4 KiB boundary
            int next = (int) Math.min(a.length, ((slot + pos) / page + 1) * page - slot);
            if (!allZero(a, pos, next)) {
                file.write(ByteBuffer.wrap(a, pos, next - pos), slot + pos);
            }
            pos = next;
        }
    }

    /** @return the first block-aligned offset at or past {@code from} where a block fits between the used ranges */
    private long freeSlot(TreeMap<Long, Long> used, long from, long blockBytes) {
        long slot = from;
        while (true) {
            Map.Entry<Long, Long> before = used.floorEntry(slot);
            if (before != null && before.getValue() > slot) {
                slot = Layout.alignBlock(before.getValue(), bitmapSize);
                continue;
            }
            Map.Entry<Long, Long> after = used.higherEntry(slot);
            if (after != null && after.getKey() < slot + blockBytes) {
                slot = Layout.alignBlock(after.getValue(), bitmapSize);
                continue;
            }
            return slot;
        }
    }

    // ---------------------------------------------------------------- resize

    /**
     * Grows the disk. New BAT entries go into the room after the BAT (Strata
     * reserves room for 2040 GiB, so its own images never move anything); when
     * another tool's image has no room, the BAT is copied to the end of the file
     * with that reserve. Data blocks never move. Order: BAT entries, flush,
     * header, flush, footer at the end, footer copy at 0, flush: until the copy
     * at 0 changes, every reader sees the old size with a valid BAT. A grown
     * differencing disk reads zeros past its parent's end.
     */
    @Override
    public void resize(long newSize) {
        checkWritable();
        metaLock.lock();
        try {
            State s = state();
            checkNewSize(newSize, s.virtualSize);
            if (newSize == s.virtualSize) {
                return;
            }
            int oldEntries = header.maxTableEntries();
            int newEntries = (int) ((newSize + blockSize - 1) >>> blockShift);
            AtomicIntegerArray bat = s.bat;
            AtomicReferenceArray<byte[]> bitmaps = s.bitmaps;
            AtomicLongArray completeBits = s.completeBitmaps;
            if (newEntries > oldEntries) {
                int[] entries = new int[newEntries];
                for (int i = 0; i < newEntries; i++) {
                    entries[i] = i < oldEntries ? s.bat.get(i) : Bat.UNUSED;
                }
                long batOffset = header.tableOffset();
                if (batOffset + Bat.bytesOnDisk(newEntries) <= batRoomEnd) {
                    file.write(Bat.encode(entries, oldEntries, newEntries, true), batOffset + oldEntries * 4L);
                } else {
                    long reserve = Math.max(Bat.bytesOnDisk(Vhd.MAX_VIRTUAL_SIZE / blockSize),
                            Bat.bytesOnDisk(newEntries));
                    batOffset = (nextFree + Vhd.DATA_ALIGNMENT - 1) & -(long) Vhd.DATA_ALIGNMENT;
                    long newFooterPos = batOffset + reserve;
                    Io.write(file, footer.encode(), newFooterPos);
                    footerPos = newFooterPos;
                    nextFree = newFooterPos;
                    file.write(Bat.encode(entries, 0, newEntries, true), batOffset);
                    batRoomEnd = newFooterPos;
                }
                file.flush();
                header = header.withTable(batOffset, newEntries);
                Io.write(file, header.encode(), footer.dataOffset());
                file.flush();
                bat = new AtomicIntegerArray(entries);
                AtomicLongArray complete = new AtomicLongArray((newEntries + 63) >>> 6);
                for (int i = 0; i < s.completeBitmaps.length(); i++) {
                    complete.set(i, s.completeBitmaps.get(i));
                }
                completeBits = complete;
                if (bitmaps != null) {
                    AtomicReferenceArray<byte[]> grown = new AtomicReferenceArray<>(newEntries);
                    for (int i = 0; i < oldEntries; i++) {
                        grown.set(i, bitmaps.get(i));
                    }
                    bitmaps = grown;
                }
            }
            Footer grown = footer.withSize(newSize, Geometry.of(newSize / 512),
                    SizeRule.usesCurrentSize(footer) ? footer.creatorApp() : SizeRule.STRATA_CREATOR);
            if (SizeRule.virtualSize(grown) != newSize) {
                grown = grown.withSize(newSize, grown.geometry(), SizeRule.STRATA_CREATOR);
            }
            byte[] encoded = grown.encode();
            Io.write(file, encoded, footerPos);
            Io.write(file, encoded, 0);
            file.flush();
            footer = grown;
            state = new State(newSize, bat, bitmaps, completeBits);
        } finally {
            metaLock.unlock();
        }
    }

    @Override
    public void close() {
        super.close();
        Parent p = parent;
        if (p != null) {
            p.disk().close();
        }
    }

    /** @return allocated blocks, for tests and details */
    long allocatedBlocks() {
        AtomicIntegerArray bat = state().bat;
        long n = 0;
        for (int i = 0; i < bat.length(); i++) {
            if (bat.get(i) != Bat.UNUSED) {
                n++;
            }
        }
        return n;
    }
}

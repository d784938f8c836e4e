package io.strata.vhd.internal;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.format.Extent;
import io.strata.api.format.Provisioning;
import io.strata.api.fs.DatastoreFile;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicIntegerArray;

/**
 * A dynamic VHD: footer copy, dynamic header, BAT, then blocks (sector bitmap +
 * data) allocated on first write, and the footer at the end.
 *
 * <p>Concurrency: the BAT lives in an {@link AtomicIntegerArray}, so reads and
 * writes of allocated blocks look an entry up without any lock and go straight
 * to the file. An entry only ever changes from unused to allocated, and only
 * under {@link #metaLock}, which also serializes resize.
 *
 * <p>Crash safety of an allocation (the order matters; see README):
 * <ol>
 * <li>write the footer at its new place past the new block (the file now ends
 *     with a valid footer, and everything before it is what it was);</li>
 * <li>write the block's bitmap and the data of the write that caused it;</li>
 * <li>flush, so the footer, bitmap and data are durable;</li>
 * <li>write the BAT entry; {@link #flush()} makes it durable.</li>
 * </ol>
 * A kill at any point leaves either no pointer (a leaked block, harmless) or a
 * pointer to durable data: never a pointer to garbage.
 */
final class DynamicVhdDisk extends AbstractVhdDisk {
    /** The part of the state that readers need, swapped whole by resize. */
    private static final class State {
        final long virtualSize;
        final AtomicIntegerArray bat;

        State(long virtualSize, AtomicIntegerArray bat) {
            this.virtualSize = virtualSize;
            this.bat = bat;
        }
    }

    private final int blockSize;
    private final int blockShift;
    private final int bitmapSize;
    private final byte[] fullBitmap;
    private volatile State state;

    // guarded by metaLock
    private Footer footer;
    private DynamicHeader header;
    private long nextFree;
    private long footerPos;
    private long batRoomEnd;

    DynamicVhdDisk(DatastoreFile file, boolean readOnly, Inspection in) {
        super(file, readOnly);
        this.header = in.header();
        this.footer = in.footer();
        this.blockSize = header.blockSize();
        this.blockShift = Integer.numberOfTrailingZeros(blockSize);
        this.bitmapSize = SectorBitmap.sizeFor(blockSize);
        this.fullBitmap = SectorBitmap.allSet(blockSize);
        this.nextFree = in.nextFree();
        this.footerPos = in.fileSize() - Footer.SIZE;
        this.batRoomEnd = in.batRoomEnd();
        this.state = new State(in.virtualSize(), new AtomicIntegerArray(in.bat()));
    }

    @Override
    public long virtualSize() {
        return state.virtualSize;
    }

    @Override
    public Provisioning provisioning() {
        return Provisioning.THIN;
    }

    private long dataOffset(int entry, int inBlock) {
        return Bat.blockOffset(entry) + bitmapSize + inBlock;
    }

    @Override
    public void read(ByteBuffer dst, long offset) {
        State s = state;
        checkRange(offset, dst.remaining(), s.virtualSize);
        int end = dst.limit();
        long off = offset;
        try {
            while (dst.position() < end) {
                int index = (int) (off >>> blockShift);
                int inBlock = (int) (off & (blockSize - 1));
                int n = Math.min(end - dst.position(), blockSize - inBlock);
                int entry = s.bat.get(index);
                if (entry == Bat.UNUSED) {
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

    @Override
    public void write(ByteBuffer src, long offset) {
        checkWritable();
        State s = state;
        checkRange(offset, src.remaining(), s.virtualSize);
        int end = src.limit();
        long off = offset;
        try {
            while (src.position() < end) {
                int index = (int) (off >>> blockShift);
                int inBlock = (int) (off & (blockSize - 1));
                int n = Math.min(end - src.position(), blockSize - inBlock);
                src.limit(src.position() + n);
                int entry = s.bat.get(index);
                if (entry == Bat.UNUSED) {
                    allocateAndWrite(index, src, inBlock);
                } else {
                    file.write(src, dataOffset(entry, inBlock));
                }
                src.limit(end);
                off += n;
            }
        } finally {
            src.limit(end);
        }
    }

    private void allocateAndWrite(int index, ByteBuffer src, int inBlock) {
        metaLock.lock();
        try {
            State s = state;
            int entry = s.bat.get(index);
            if (entry != Bat.UNUSED) { // another writer allocated it while we waited
                file.write(src, dataOffset(entry, inBlock));
                return;
            }
            long block = alignBlock(nextFree);
            long newFooterPos = block + bitmapSize + blockSize;
            if ((block >>> 9) >= 0xFFFFFFFFL) {
                throw new StorageException(ErrorCode.DATASTORE_FULL, "disk '" + file.name()
                        + "' has reached the 2 TiB file size a VHD BAT can address");
            }
            Io.write(file, footer.encode(), newFooterPos);
            footerPos = newFooterPos;
            nextFree = newFooterPos; // even if a later step fails, never reuse space a write may have touched
            Io.write(file, fullBitmap, block);
            file.write(src, block + bitmapSize + inBlock);
            file.flush();
            entry = Bat.entryFor(block);
            writeBatEntry(index, entry);
            s.bat.set(index, entry);
        } finally {
            metaLock.unlock();
        }
    }

    /** First offset at or past {@code from} that puts the block's data on a 4 KiB boundary. */
    private long alignBlock(long from) {
        long data = (from + bitmapSize + Vhd.DATA_ALIGNMENT - 1) & -(long) Vhd.DATA_ALIGNMENT;
        return data - bitmapSize;
    }

    private void writeBatEntry(int index, int entry) {
        ByteBuffer b = ByteBuffer.allocate(4).putInt(entry).flip();
        file.write(b, header.tableOffset() + index * 4L);
    }

    /** Unallocated blocks already read as zeros: only allocated ones are written, so zeroing never allocates. */
    @Override
    public void writeZeroes(long offset, long length) {
        checkWritable();
        State s = state;
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

    @Override
    public void flush() {
        file.flush();
    }

    @Override
    public List<Extent> blockStatus(long offset, long length) {
        State s = state;
        checkRange(offset, length, s.virtualSize);
        List<Extent> out = new ArrayList<>();
        long off = offset;
        long end = offset + length;
        while (off < end) {
            int index = (int) (off >>> blockShift);
            long blockEnd = Math.min(end, ((long) index + 1) << blockShift);
            boolean allocated = s.bat.get(index) != Bat.UNUSED;
            int last = out.size() - 1;
            if (last >= 0 && out.get(last).allocated() == allocated) {
                Extent prev = out.get(last);
                out.set(last, new Extent(prev.offset(), blockEnd - prev.offset(), allocated, !allocated));
            } else {
                out.add(new Extent(off, blockEnd - off, allocated, !allocated));
            }
            off = blockEnd;
        }
        return out;
    }

    /**
     * Grows the disk. New BAT entries go into the room after the BAT (Strata
     * reserves room for 2040 GiB, so its own images never move anything); when
     * another tool's image has no room, the BAT is copied to the end of the file
     * with that reserve. Data blocks never move. Order: BAT entries, flush,
     * header, flush, footer at the end, footer copy at 0, flush: until the copy
     * at 0 changes, every reader sees the old size with a valid BAT.
     */
    @Override
    public void resize(long newSize) {
        checkWritable();
        metaLock.lock();
        try {
            State s = state;
            checkNewSize(newSize, s.virtualSize);
            if (newSize == s.virtualSize) {
                return;
            }
            int oldEntries = header.maxTableEntries();
            int newEntries = (int) ((newSize + blockSize - 1) >>> blockShift);
            AtomicIntegerArray bat = s.bat;
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
            state = new State(newSize, bat);
        } finally {
            metaLock.unlock();
        }
    }

    /** @return allocated blocks, for tests and details */
    long allocatedBlocks() {
        AtomicIntegerArray bat = state.bat;
        long n = 0;
        for (int i = 0; i < bat.length(); i++) {
            if (bat.get(i) != Bat.UNUSED) {
                n++;
            }
        }
        return n;
    }
}

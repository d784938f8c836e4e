package io.strata.fs.vims.internal;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.device.BlockDevice;
import io.strata.api.device.WriteFence;
import java.nio.ByteBuffer;
import java.util.function.BooleanSupplier;

/**
 * The device under a VIMS, in pages, with the one rule every write obeys: nothing is written
 * once this host may no longer write (it fenced itself, or the filesystem was opened to be
 * looked at only). The rule is checked once when the write starts and again by the driver,
 * as a {@link WriteFence}, right before each system call or SCSI command that carries it: a
 * host frozen between the two (a stopped process, a long pause) does not write when it thaws.
 */
final class Disk {
    final BlockDevice device;
    private volatile BooleanSupplier mayWrite;
    private volatile String why;

    Disk(BlockDevice device) {
        this.device = device;
        this.mayWrite = () -> true;
        this.why = "";
    }

    /** From now on every write first asks {@code check}; {@code why} says what refused it. */
    void guard(BooleanSupplier check, String whyNot) {
        this.mayWrite = check;
        this.why = whyNot;
    }

    /** What every write passes to the driver: {@link #checkWritable} at the moment of issue. */
    final WriteFence fence = this::checkWritable;

    void checkWritable() {
        if (!mayWrite.getAsBoolean()) {
            throw new StorageException(ErrorCode.DEVICE_UNAVAILABLE, why);
        }
    }

    ByteBuffer readPage(long page) {
        return readPages(page, 1);
    }

    ByteBuffer readPages(long first, int count) {
        ByteBuffer b = ByteBuffer.allocate(count * Pages.SIZE);
        device.read(b, first * Pages.SIZE);
        return b.clear();
    }

    /** @return page {@code i} of a buffer read by {@link #readPages}, as its own buffer */
    static ByteBuffer page(ByteBuffer pages, int i) {
        return pages.slice(i * Pages.SIZE, Pages.SIZE).order(java.nio.ByteOrder.BIG_ENDIAN);
    }

    void writePages(long first, ByteBuffer src) {
        checkWritable();
        device.write(src.duplicate().clear(), first * Pages.SIZE, fence);
    }

    /** Reads any byte range: whole sectors straight, a partial sector through a bounce buffer. */
    void read(ByteBuffer dst, long offset) {
        int ss = device.sectorSize();
        if (offset % ss == 0 && dst.remaining() % ss == 0) {
            device.read(dst, offset);
            return;
        }
        long start = offset / ss * ss;
        long end = (offset + dst.remaining() + ss - 1) / ss * ss;
        ByteBuffer bounce = ByteBuffer.allocate((int) (end - start));
        device.read(bounce, start);
        bounce.clear().position((int) (offset - start)).limit((int) (offset - start) + dst.remaining());
        dst.put(bounce);
    }

    /**
     * Writes any byte range: whole sectors straight; a partial sector at either end is read,
     * patched and written back under a lock of that sector, so writers of different bytes of
     * one sector do not undo each other.
     */
    void write(ByteBuffer src, long offset) {
        checkWritable();
        int ss = device.sectorSize();
        int len = src.remaining();
        if (offset % ss == 0 && len % ss == 0) {
            device.write(src, offset, fence);
            return;
        }
        long end = offset + len;
        long headEnd = Math.min(end, (offset + ss - 1) / ss * ss);
        if (offset % ss != 0) {
            patch(src, offset, headEnd, offset);
        } else {
            headEnd = offset;
        }
        long tailStart = Math.max(headEnd, end / ss * ss);
        if (tailStart > headEnd) {
            ByteBuffer mid = src.duplicate();
            mid.position(src.position() + (int) (headEnd - offset)).limit(src.position() + (int) (tailStart - offset));
            device.write(mid, headEnd, fence);
        }
        if (end > tailStart) {
            patch(src, tailStart, end, offset);
        }
        src.position(src.position() + len);
    }

    private final Object[] sectorLocks = new Object[64];
    {
        for (int i = 0; i < sectorLocks.length; i++) {
            sectorLocks[i] = new Object();
        }
    }

    /** Read-modify-write of the one sector holding {@code [from, to)}, taking bytes from {@code src} (which starts at {@code srcOffset}). */
    private void patch(ByteBuffer src, long from, long to, long srcOffset) {
        int ss = device.sectorSize();
        long sector = from / ss * ss;
        synchronized (sectorLocks[(int) ((sector / ss) % sectorLocks.length)]) {
            ByteBuffer b = ByteBuffer.allocate(ss);
            device.read(b, sector);
            ByteBuffer part = src.duplicate();
            part.position(src.position() + (int) (from - srcOffset)).limit(src.position() + (int) (to - srcOffset));
            b.position((int) (from - sector));
            b.put(part);
            b.clear();
            device.write(b, sector, fence); // the fence checks again, after the read
        }
    }

    void flush() {
        device.flush();
    }

    long size() {
        return device.size();
    }
}

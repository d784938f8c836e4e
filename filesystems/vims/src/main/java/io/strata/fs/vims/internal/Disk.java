package io.strata.fs.vims.internal;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.device.BlockDevice;
import java.nio.ByteBuffer;
import java.util.function.BooleanSupplier;

/**
 * The device under a VIMS, in pages, with the one rule every write obeys: nothing is written
 * once this host may no longer write (it fenced itself, or the filesystem was opened to be
 * looked at only).
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
        device.write(src.duplicate().clear(), first * Pages.SIZE);
    }

    void read(ByteBuffer dst, long offset) {
        device.read(dst, offset);
    }

    void write(ByteBuffer src, long offset) {
        checkWritable();
        device.write(src, offset);
    }

    void flush() {
        device.flush();
    }

    long size() {
        return device.size();
    }
}

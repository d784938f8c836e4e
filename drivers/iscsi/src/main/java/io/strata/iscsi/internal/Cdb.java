package io.strata.iscsi.internal;

/** Builds the command descriptor blocks the driver sends (SPC-4, SBC-3). */
final class Cdb {
    static final int OP_TEST_UNIT_READY = 0x00;
    static final int OP_INQUIRY = 0x12;
    static final int OP_MODE_SENSE_10 = 0x5a;
    static final int OP_SYNCHRONIZE_CACHE_10 = 0x35;
    static final int OP_UNMAP = 0x42;
    static final int OP_PERSISTENT_RESERVE_IN = 0x5e;
    static final int OP_PERSISTENT_RESERVE_OUT = 0x5f;
    static final int OP_READ_16 = 0x88;
    static final int OP_COMPARE_AND_WRITE = 0x89;
    static final int OP_WRITE_16 = 0x8a;
    static final int OP_WRITE_SAME_16 = 0x93;
    static final int OP_SERVICE_ACTION_IN_16 = 0x9e;
    static final int SA_READ_CAPACITY_16 = 0x10;
    static final int OP_REPORT_LUNS = 0xa0;

    private Cdb() {
    }

    static byte[] testUnitReady() {
        return new byte[6];
    }

    static byte[] inquiry(boolean evpd, int page, int allocation) {
        byte[] c = new byte[6];
        c[0] = (byte) OP_INQUIRY;
        c[1] = (byte) (evpd ? 1 : 0);
        c[2] = (byte) page;
        putShort(c, 3, allocation);
        return c;
    }

    static byte[] reportLuns(int allocation) {
        byte[] c = new byte[12];
        c[0] = (byte) OP_REPORT_LUNS;
        putInt(c, 6, allocation);
        return c;
    }

    static byte[] readCapacity16(int allocation) {
        byte[] c = new byte[16];
        c[0] = (byte) OP_SERVICE_ACTION_IN_16;
        c[1] = SA_READ_CAPACITY_16;
        putInt(c, 10, allocation);
        return c;
    }

    static byte[] read16(long lba, int blocks) {
        return rw16(OP_READ_16, lba, blocks);
    }

    static byte[] write16(long lba, int blocks) {
        return rw16(OP_WRITE_16, lba, blocks);
    }

    /** WRITE(16) with FUA: complete only once the blocks are on stable storage. */
    static byte[] write16Fua(long lba, int blocks) {
        byte[] c = rw16(OP_WRITE_16, lba, blocks);
        c[1] = 0x08;
        return c;
    }

    /** MODE SENSE(10) of one page, without block descriptors. */
    static byte[] modeSense10(int page, int allocation) {
        byte[] c = new byte[10];
        c[0] = (byte) OP_MODE_SENSE_10;
        c[1] = 0x08; // DBD
        c[2] = (byte) (page & 0x3f);
        putShort(c, 7, allocation);
        return c;
    }

    private static byte[] rw16(int op, long lba, int blocks) {
        byte[] c = new byte[16];
        c[0] = (byte) op;
        putLong(c, 2, lba);
        putInt(c, 10, blocks);
        return c;
    }

    /** SYNCHRONIZE CACHE(10) of the whole LUN (LBA 0, 0 blocks). */
    static byte[] synchronizeCache10() {
        byte[] c = new byte[10];
        c[0] = (byte) OP_SYNCHRONIZE_CACHE_10;
        return c;
    }

    /** UNMAP with a parameter list of {@code parameterLength} bytes (0: no descriptors, a no-op). */
    static byte[] unmap(int parameterLength) {
        byte[] c = new byte[10];
        c[0] = (byte) OP_UNMAP;
        putShort(c, 7, parameterLength);
        return c;
    }

    /** WRITE SAME(16) with the UNMAP bit: one block of data out (zeros). */
    static byte[] writeSameUnmap16(long lba, int blocks) {
        byte[] c = rw16(OP_WRITE_SAME_16, lba, blocks);
        c[1] = 0x08;
        return c;
    }

    /** COMPARE AND WRITE of {@code blocks} (data out: 2 x blocks, the verify data then the write data). */
    static byte[] compareAndWrite(long lba, int blocks) {
        byte[] c = new byte[16];
        c[0] = (byte) OP_COMPARE_AND_WRITE;
        putLong(c, 2, lba);
        c[13] = (byte) blocks;
        return c;
    }

    static byte[] persistentReserveIn(int serviceAction, int allocation) {
        byte[] c = new byte[10];
        c[0] = (byte) OP_PERSISTENT_RESERVE_IN;
        c[1] = (byte) serviceAction;
        putShort(c, 7, allocation);
        return c;
    }

    /** PERSISTENT RESERVE OUT, LU scope, with the 24-byte basic parameter list. */
    static byte[] persistentReserveOut(int serviceAction, int type) {
        byte[] c = new byte[10];
        c[0] = (byte) OP_PERSISTENT_RESERVE_OUT;
        c[1] = (byte) serviceAction;
        c[2] = (byte) (type & 0x0f);
        putInt(c, 5, 24);
        return c;
    }

    static void putShort(byte[] b, int at, int v) {
        b[at] = (byte) (v >>> 8);
        b[at + 1] = (byte) v;
    }

    static void putInt(byte[] b, int at, int v) {
        b[at] = (byte) (v >>> 24);
        b[at + 1] = (byte) (v >>> 16);
        b[at + 2] = (byte) (v >>> 8);
        b[at + 3] = (byte) v;
    }

    static void putLong(byte[] b, int at, long v) {
        putInt(b, at, (int) (v >>> 32));
        putInt(b, at + 4, (int) v);
    }

    static int u8(byte[] b, int at) {
        return at < b.length ? b[at] & 0xff : 0;
    }

    static int u16(byte[] b, int at) {
        return (u8(b, at) << 8) | u8(b, at + 1);
    }

    static long u32(byte[] b, int at) {
        return ((long) u16(b, at) << 16) | u16(b, at + 2);
    }

    static long u64(byte[] b, int at) {
        return (u32(b, at) << 32) | u32(b, at + 4);
    }
}

package io.strata.qcow2.internal;

/** Constants of the qcow2 format (QEMU docs/interop/qcow2.txt) and of the layout Strata writes. */
final class Qcow2 {
    static final int MAGIC = 0x514649fb; // "QFI\xfb"
    static final int VERSION = 3;
    /** Bytes 0..103: the version 3 header without optional additional fields. */
    static final int HEADER_V3_LENGTH = 104;
    static final int MIN_CLUSTER_BITS = 9;
    /** qemu refuses clusters above 2 MiB; so does Strata, so that qemu can always read what Strata accepts. */
    static final int MAX_CLUSTER_BITS = 21;
    static final int DEFAULT_CLUSTER_BITS = 16;
    /** 16-bit refcounts, the only width Strata reads and writes. */
    static final int REFCOUNT_ORDER = 4;
    /** qemu's limit on the active L1 table (QCOW_MAX_L1_SIZE): 32 MiB. */
    static final long MAX_L1_BYTES = 32L << 20;
    /** qemu's limit on the refcount table (QCOW_MAX_REFTABLE_SIZE): 8 MiB. */
    static final long MAX_REFTABLE_BYTES = 8L << 20;
    /**
     * 1 PiB. With 64 KiB clusters qemu's 32 MiB L1 limit allows 2 PiB and its 8 MiB refcount
     * table limit covers 2 PiB of file; half of that leaves room for the metadata of a fully
     * allocated disk and for leaks.
     */
    static final long MAX_VIRTUAL_SIZE = 1L << 50;
    /** qemu's limit on internal snapshots (QCOW_MAX_SNAPSHOTS); nb_snapshots above it is refused. */
    static final int MAX_SNAPSHOTS = 65536;
    /** Bytes of one snapshot table entry without its variable parts (the least each snapshot takes). */
    static final int SNAPSHOT_ENTRY_MIN = 40;
    /** Longest backing file name the format allows. */
    static final int MAX_BACKING_NAME = 1023;
    /** Longest backing chain, this image included (issue 3: never above 32). */
    static final int MAX_CHAIN = 32;

    // incompatible feature bits
    static final long INCOMPAT_DIRTY = 1L;
    static final long INCOMPAT_CORRUPT = 1L << 1;
    static final long INCOMPAT_DATA_FILE = 1L << 2;
    static final long INCOMPAT_COMPRESSION = 1L << 3;
    static final long INCOMPAT_EXTL2 = 1L << 4;
    static final long INCOMPAT_KNOWN = INCOMPAT_DIRTY | INCOMPAT_CORRUPT | INCOMPAT_DATA_FILE
            | INCOMPAT_COMPRESSION | INCOMPAT_EXTL2;

    // header extension types
    static final int EXT_END = 0;
    static final int EXT_BACKING_FORMAT = 0xe2792aca;

    private Qcow2() {
    }

    static long roundUp(long value, long alignment) {
        return (value + alignment - 1) / alignment * alignment;
    }
}

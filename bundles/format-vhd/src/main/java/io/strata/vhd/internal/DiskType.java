package io.strata.vhd.internal;

/** The disk type field of the footer. */
enum DiskType {
    FIXED(2),
    DYNAMIC(3),
    /** A child over a parent image: snapshots and linked clones. */
    DIFFERENCING(4);

    final int code;

    DiskType(int code) {
        this.code = code;
    }

    /** @return the type, or null for a code the specification does not define for images */
    static DiskType ofCode(int code) {
        for (DiskType t : values()) {
            if (t.code == code) {
                return t;
            }
        }
        return null;
    }
}

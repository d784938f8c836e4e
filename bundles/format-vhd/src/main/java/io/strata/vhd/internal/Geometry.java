package io.strata.vhd.internal;

/**
 * The CHS geometry a VHD footer carries. Nobody boots from it any more, but
 * Virtual PC and old QEMU derive the disk size from it, so it is computed with
 * the algorithm of the VHD specification (appendix "CHS calculation").
 *
 * @param cylinders 0..65535
 * @param heads 0..255 (the algorithm yields at most 16)
 * @param sectorsPerTrack 0..255
 */
record Geometry(int cylinders, int heads, int sectorsPerTrack) {
    /** The largest geometry the algorithm produces: 65535 x 16 x 255 sectors, about 127.5 GiB. */
    static final long MAX_SECTORS = 65535L * 16 * 255;

    Geometry {
        if (cylinders < 0 || cylinders > 0xffff || heads < 0 || heads > 0xff
                || sectorsPerTrack < 0 || sectorsPerTrack > 0xff) {
            throw new IllegalArgumentException("geometry out of range: " + cylinders + "/" + heads + "/" + sectorsPerTrack);
        }
    }

    /**
     * The specification's algorithm; sizes past the maximum geometry get the maximum.
     *
     * @param totalSectors the disk size in 512-byte sectors
     */
    static Geometry of(long totalSectors) {
        long sectors = Math.min(totalSectors, MAX_SECTORS);
        int spt;
        int heads;
        long cylTimesHeads;
        if (sectors >= 65535L * 16 * 63) {
            spt = 255;
            heads = 16;
            cylTimesHeads = sectors / spt;
        } else {
            spt = 17;
            cylTimesHeads = sectors / spt;
            heads = (int) ((cylTimesHeads + 1023) / 1024);
            if (heads < 4) {
                heads = 4;
            }
            if (cylTimesHeads >= heads * 1024L || heads > 16) {
                spt = 31;
                heads = 16;
                cylTimesHeads = sectors / spt;
            }
            if (cylTimesHeads >= heads * 1024L) {
                spt = 63;
                heads = 16;
                cylTimesHeads = sectors / spt;
            }
        }
        return new Geometry((int) (cylTimesHeads / heads), heads, spt);
    }

    /** @return cylinders x heads x sectors per track */
    long totalSectors() {
        return (long) cylinders * heads * sectorsPerTrack;
    }

    /** @return whether this is the largest geometry, which QEMU takes as "size is in current_size" */
    boolean isMax() {
        return totalSectors() == MAX_SECTORS;
    }

    /** @return the 4-byte big-endian field: cylinders (2 bytes), heads, sectors per track */
    int encode() {
        return (cylinders << 16) | (heads << 8) | sectorsPerTrack;
    }

    static Geometry decode(int field) {
        return new Geometry((field >>> 16) & 0xffff, (field >>> 8) & 0xff, field & 0xff);
    }

    @Override
    public String toString() {
        return cylinders + "/" + heads + "/" + sectorsPerTrack;
    }
}

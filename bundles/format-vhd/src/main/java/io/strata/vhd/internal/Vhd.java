package io.strata.vhd.internal;

/** Limits and layout constants of the VHD images Strata writes. */
final class Vhd {
    /** 0xFF000000 sectors: the 2040 GiB limit qemu enforces and Microsoft documents for VHD. */
    static final long MAX_VIRTUAL_SIZE = 0xFF000000L * 512;
    /** The block size of the dynamic disks Strata creates (the specification's default). */
    static final int BLOCK_SIZE = 2 << 20;
    /** BAT entries a 2040 GiB disk needs in 2 MiB blocks; Strata reserves room for this many. */
    static final int MAX_BAT_ENTRIES = (int) (MAX_VIRTUAL_SIZE / BLOCK_SIZE);
    /** Where Strata puts the dynamic header: right after the footer copy. */
    static final long HEADER_OFFSET = 512;
    /** Where Strata puts the BAT: right after the dynamic header. */
    static final long BAT_OFFSET = HEADER_OFFSET + DynamicHeader.SIZE;
    /** Block data starts on this boundary in the file (the bitmap sits just before it). */
    static final int DATA_ALIGNMENT = 4096;
    /** The creator version field Strata writes (its VHD writer, 1.0). */
    static final int CREATOR_VERSION = 0x00010000;

    private Vhd() {
    }
}

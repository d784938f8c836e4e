package io.strata.vhd.internal;

import java.util.Set;

/**
 * Which of the footer's two size descriptions is the disk size.
 *
 * <p>A VHD footer states the size twice: as CHS geometry and as current_size.
 * Virtual PC trusts the geometry, Hyper-V trusts current_size. QEMU (block/vpc.c,
 * the rule of the qemu 7.2 installed here) decides per image: it takes
 * current_size when the creator application is one it knows to mean current_size
 * ({@code "win "}, {@code "qem2"}, {@code "d2v "}, {@code "CTXS"}, {@code "tap\0"})
 * or when the geometry is the maximum 65535/16/255; otherwise it takes
 * cylinders x heads x sectors. Strata applies the same rule so that Strata and
 * qemu always agree on the size of any image, and writes a creator application
 * from that list so its sizes never get rounded to a geometry.
 */
final class SizeRule {
    /**
     * The creator application Strata writes. It is Hyper-V's: its meaning
     * ("the size is current_size") is the one Strata needs, and Hyper-V and Azure
     * read current_size whatever the creator.
     */
    static final String STRATA_CREATOR = "win ";

    private static final Set<String> CURRENT_SIZE_CREATORS = Set.of("win ", "qem2", "d2v ", "CTXS", "tap\0");

    private SizeRule() {
    }

    /** @return whether the footer's size is read from current_size (else from the geometry) */
    static boolean usesCurrentSize(Footer footer) {
        return CURRENT_SIZE_CREATORS.contains(footer.creatorApp()) || footer.geometry().isMax();
    }

    /** @return the virtual size in bytes, as qemu computes it (whole sectors) */
    static long virtualSize(Footer footer) {
        long sectors = usesCurrentSize(footer) ? footer.currentSize() / 512 : footer.geometry().totalSectors();
        return sectors * 512;
    }
}

package io.strata.iscsi.internal;

import java.nio.charset.StandardCharsets;
import io.strata.api.Names;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/** Parses what a LUN answers to INQUIRY, its VPD pages, READ CAPACITY(16) and REPORT LUNS. */
final class Inquiry {
    static final int VPD_SUPPORTED_PAGES = 0x00;
    static final int VPD_DEVICE_IDENTIFICATION = 0x83;
    static final int VPD_BLOCK_LIMITS = 0xb0;
    static final int VPD_LOGICAL_BLOCK_PROVISIONING = 0xb2;

    /** Peripheral device type of a direct-access block device (a disk). */
    static final int TYPE_DISK = 0x00;

    private Inquiry() {
    }

    /**
     * Standard INQUIRY data.
     *
     * @param qualifier the peripheral qualifier (0: a LUN is connected)
     * @param type the peripheral device type (0: disk)
     * @param vendor T10 vendor identification, trimmed
     * @param product product identification, trimmed
     */
    record Standard(int qualifier, int type, String vendor, String product) {
    }

    /**
     * VPD page 0xB0; every number is 0 when the target gives no limit.
     *
     * @param maxTransferBlocks MAXIMUM TRANSFER LENGTH
     * @param maxUnmapBlocks MAXIMUM UNMAP LBA COUNT
     * @param maxUnmapDescriptors MAXIMUM UNMAP BLOCK DESCRIPTOR COUNT
     * @param maxWriteSameBlocks MAXIMUM WRITE SAME LENGTH
     * @param maxCompareAndWriteBlocks MAXIMUM COMPARE AND WRITE LENGTH (advertised only: probe)
     */
    record BlockLimits(long maxTransferBlocks, long maxUnmapBlocks, long maxUnmapDescriptors,
            long maxWriteSameBlocks, int maxCompareAndWriteBlocks) {
        static final BlockLimits NONE = new BlockLimits(0, 0, 0, 0, 0);
    }

    /**
     * VPD page 0xB2.
     *
     * @param lbpu UNMAP is supported
     * @param lbpws WRITE SAME(16) with the UNMAP bit is supported
     */
    record Provisioning(boolean lbpu, boolean lbpws) {
        static final Provisioning NONE = new Provisioning(false, false);
    }

    /**
     * READ CAPACITY(16) data.
     *
     * @param blocks the number of logical blocks
     * @param blockLength the logical block length in bytes
     */
    record Capacity(long blocks, int blockLength) {
        long bytes() {
            return blocks * blockLength;
        }
    }

    static Standard standard(byte[] d) {
        return new Standard(Cdb.u8(d, 0) >>> 5, Cdb.u8(d, 0) & 0x1f, ascii(d, 8, 8), ascii(d, 16, 16));
    }

    /** @return the page codes VPD page 0x00 lists */
    static List<Integer> supportedPages(byte[] d) {
        List<Integer> pages = new ArrayList<>();
        int n = Cdb.u16(d, 2);
        for (int i = 0; i < n && 4 + i < d.length; i++) {
            pages.add(Cdb.u8(d, 4 + i));
        }
        return pages;
    }

    /**
     * Picks the LUN's designator from VPD page 0x83: NAA first (the longest, so IEEE Registered
     * Extended over Registered or Locally Assigned: tgt reports both an 8-byte NAA 3 and a 16-byte
     * NAA 6), then EUI-64, then T10 vendor id (descriptors whose association is the logical unit
     * only, not the port or target).
     *
     * @return e.g. {@code naa.60000000000000000e00000000010001}, {@code eui.0123456789abcdef},
     *         {@code t10.IET_VIRTUAL-DISK_beaf11}; empty when the page has none
     */
    static Optional<String> designator(byte[] d) {
        String naa = null;
        String eui = null;
        String t10 = null;
        int end = Math.min(d.length, 4 + Cdb.u16(d, 2));
        int at = 4;
        while (at + 4 <= end) {
            int codeSet = Cdb.u8(d, at) & 0x0f;
            int association = (Cdb.u8(d, at + 1) >>> 4) & 0x03;
            int type = Cdb.u8(d, at + 1) & 0x0f;
            int len = Cdb.u8(d, at + 3);
            if (at + 4 + len > end) {
                break;
            }
            if (association == 0 && len > 0) {
                byte[] value = Arrays.copyOfRange(d, at + 4, at + 4 + len);
                switch (type) {
                    case 3 -> naa = codeSet == 1 && (naa == null || naa.length() < 4 + 2 * len)
                            ? "naa." + HexFormat.of().formatHex(value) : naa;
                    case 2 -> eui = eui == null && codeSet == 1 ? "eui." + HexFormat.of().formatHex(value) : eui;
                    case 1 -> t10 = t10 == null ? "t10." + t10Name(value) : t10;
                    default -> {
                        // SCSI name strings, relative port ids and the like do not name the LUN
                    }
                }
            }
            at += 4 + len;
        }
        if (naa != null) {
            return Optional.of(naa);
        }
        return Optional.ofNullable(eui != null ? eui : t10);
    }

    /** A T10 vendor id (8 vendor characters, then the vendor-specific part) as a valid name. */
    private static String t10Name(byte[] value) {
        String s = new String(value, StandardCharsets.US_ASCII).trim();
        StringBuilder b = new StringBuilder();
        boolean space = false;
        for (char c : s.toCharArray()) {
            if (Character.isLetterOrDigit(c) && c < 128 || c == '.' || c == '-' || c == '+') {
                if (space && b.length() > 0) {
                    b.append('_');
                }
                b.append(c);
                space = false;
            } else {
                space = true;
            }
        }
        return b.toString();
    }

    /**
     * @param designator from {@link #designator}
     * @return the device id: the designator with its hex digits in lower case, cut to a valid
     *         {@link Names} length
     */
    static String deviceId(String designator) {
        String id = designator.startsWith("t10.") ? designator : designator.toLowerCase(Locale.ROOT);
        return id.length() > Names.MAX_LENGTH ? id.substring(0, Names.MAX_LENGTH) : id;
    }

    static BlockLimits blockLimits(byte[] d) {
        return new BlockLimits(Cdb.u32(d, 8), Cdb.u32(d, 20), Cdb.u32(d, 24), Cdb.u64(d, 36), Cdb.u8(d, 5));
    }

    static Provisioning provisioning(byte[] d) {
        int flags = Cdb.u8(d, 5);
        return new Provisioning((flags & 0x80) != 0, (flags & 0x40) != 0);
    }

    static Capacity capacity(byte[] d) {
        return new Capacity(Cdb.u64(d, 0) + 1, (int) Cdb.u32(d, 8));
    }

    /** @return the LUN numbers of a REPORT LUNS answer (peripheral and flat addressing) */
    static List<Integer> luns(byte[] d) {
        List<Integer> luns = new ArrayList<>();
        long n = Cdb.u32(d, 0) / 8;
        for (int i = 0; i < n && 8 + i * 8 + 1 < d.length; i++) {
            int at = 8 + i * 8;
            int method = Cdb.u8(d, at) >>> 6;
            if (method == 0) {
                luns.add(Cdb.u8(d, at + 1));
            } else if (method == 1) {
                luns.add(((Cdb.u8(d, at) & 0x3f) << 8) | Cdb.u8(d, at + 1));
            }
        }
        return luns;
    }

    private static String ascii(byte[] d, int at, int len) {
        if (at >= d.length) {
            return "";
        }
        return new String(d, at, Math.min(len, d.length - at), StandardCharsets.US_ASCII).trim();
    }
}

package io.strata.fc.internal;

import io.strata.api.Names;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Locale;
import java.util.Optional;

/**
 * The identity of a SCSI logical unit, from its Device Identification VPD page (0x83) or,
 * without one, from the kernel's {@code wwid} attribute. The string form is
 * {@code wwid:naa.<hex>}, {@code wwid:eui.<hex>} or {@code wwid:t10.<hex>} (lower-case hex of
 * the designator's bytes), the form the iSCSI driver uses too, so that both name a LUN alike.
 *
 * <p>Page 0x83 (SPC-4, 7.8.6): a 4-byte header (peripheral byte, page code 0x83, page length
 * big endian) and designation descriptors, each {@code [protocol id | code set] [PIV |
 * association | designator type] [reserved] [length]} followed by the designator. Only
 * designators of the logical unit itself (association 0) name it; those of target ports and
 * target devices differ between paths. Preference: NAA (the longest: IEEE Registered
 * Extended, 16 bytes, before 8-byte forms), then EUI-64 (the longest), then T10 vendor id.
 */
final class LunIdentity {
    static final String PREFIX = "wwid:";
    private static final int TYPE_T10 = 1;
    private static final int TYPE_EUI64 = 2;
    private static final int TYPE_NAA = 3;
    private static final HexFormat HEX = HexFormat.of();

    private LunIdentity() {
    }

    /**
     * @param page the raw VPD page 0x83, as sysfs {@code vpd_pg83} holds it
     * @return the identity, empty when the page has no NAA, EUI-64 or T10 designator of the LU
     */
    static Optional<String> fromVpd83(byte[] page) {
        if (page == null || page.length < 4 || (page[1] & 0xff) != 0x83) {
            return Optional.empty();
        }
        int end = Math.min(page.length, 4 + (((page[2] & 0xff) << 8) | (page[3] & 0xff)));
        byte[] best = null;
        int bestRank = -1;
        String bestKind = null;
        int at = 4;
        while (at + 4 <= end) {
            int association = (page[at + 1] >> 4) & 0x3;
            int type = page[at + 1] & 0xf;
            int length = page[at + 3] & 0xff;
            if (at + 4 + length > end) {
                break; // a truncated descriptor: ignore it and what follows
            }
            if (association == 0 && length > 0) {
                int rank = rank(type, length);
                if (rank > bestRank) {
                    bestRank = rank;
                    best = new byte[length];
                    System.arraycopy(page, at + 4, best, 0, length);
                    bestKind = type == TYPE_NAA ? "naa." : type == TYPE_EUI64 ? "eui." : "t10.";
                }
            }
            at += 4 + length;
        }
        if (best == null) {
            return Optional.empty();
        }
        return Optional.of(PREFIX + bestKind + HEX.formatHex(best));
    }

    /** @return how much a designator is preferred, -1 for ones that do not name a LU here */
    private static int rank(int type, int length) {
        switch (type) {
            case TYPE_NAA:
                return 3000 + length;
            case TYPE_EUI64:
                return 2000 + length;
            case TYPE_T10:
                return 1000;
            default:
                return -1;
        }
    }

    /**
     * Reads the kernel's {@code wwid} attribute (Linux 4.5+): {@code naa.<hex>}, {@code eui.<hex>}
     * or {@code t10.<text>}, where the kernel escapes unprintable bytes of a T10 designator
     * ({@code \xHH} or octal {@code \ooo}).
     *
     * @param wwid the attribute's text
     * @return the identity, empty for an empty value or another kind (a SCSI name string)
     */
    static Optional<String> fromWwid(String wwid) {
        if (wwid == null) {
            return Optional.empty();
        }
        String w = wwid.strip();
        if (w.length() <= 4) {
            return Optional.empty();
        }
        String kind = w.substring(0, 4).toLowerCase(Locale.ROOT);
        String value = w.substring(4);
        switch (kind) {
            case "naa.":
            case "eui.":
                String hex = value.toLowerCase(Locale.ROOT);
                if (!hex.matches("[0-9a-f]+") || hex.length() % 2 != 0) {
                    return Optional.empty();
                }
                return Optional.of(PREFIX + kind + hex);
            case "t10.":
                return Optional.of(PREFIX + kind + HEX.formatHex(unescape(value)));
            default:
                return Optional.empty();
        }
    }

    /** @return the bytes of a string the kernel printed with {@code %pE}: escapes undone */
    static byte[] unescape(String s) {
        byte[] in = s.getBytes(StandardCharsets.ISO_8859_1);
        ByteArrayOutputStream out = new ByteArrayOutputStream(in.length);
        for (int i = 0; i < in.length; i++) {
            if (in[i] == '\\' && i + 3 < in.length && in[i + 1] == 'x' && isHex(in[i + 2]) && isHex(in[i + 3])) {
                out.write(Integer.parseInt(new String(in, i + 2, 2, StandardCharsets.ISO_8859_1), 16));
                i += 3;
            } else if (in[i] == '\\' && i + 3 < in.length && isOctal(in[i + 1]) && isOctal(in[i + 2])
                    && isOctal(in[i + 3])) {
                out.write(Integer.parseInt(new String(in, i + 1, 3, StandardCharsets.ISO_8859_1), 8) & 0xff);
                i += 3;
            } else {
                out.write(in[i]);
            }
        }
        return out.toByteArray();
    }

    private static boolean isHex(byte b) {
        return (b >= '0' && b <= '9') || (b >= 'a' && b <= 'f') || (b >= 'A' && b <= 'F');
    }

    private static boolean isOctal(byte b) {
        return b >= '0' && b <= '7';
    }

    /**
     * @param identity {@code wwid:naa.…}
     * @return the device id: the identity without {@code wwid:}, valid as a name; an identity
     *         longer than a name may be (a long T10 designator) keeps its first 100 characters and
     *         gets a digest of the whole appended
     */
    static String deviceId(String identity) {
        String id = identity.startsWith(PREFIX) ? identity.substring(PREFIX.length()) : identity;
        if (id.length() <= Names.MAX_LENGTH) {
            return id;
        }
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256")
                    .digest(id.getBytes(StandardCharsets.US_ASCII));
            return id.substring(0, 100) + "-" + HEX.formatHex(digest, 0, 8);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this Java runtime", e);
        }
    }
}

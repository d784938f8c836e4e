package io.strata.api;

import java.util.Locale;

/**
 * Sizes as users write them: {@code 10G}, {@code 512M}, {@code 1T},
 * {@code 4096} (bytes). Suffixes are binary (K = 1024) and case-insensitive;
 * an optional trailing {@code B} or {@code iB} is accepted ({@code 10GiB}).
 */
public final class Sizes {
    /** Bytes per sector in every disk format Strata writes. */
    public static final int SECTOR = 512;

    private Sizes() {
    }

    /**
     * @param text a size such as {@code 10G}
     * @return the size in bytes
     * @throws StorageException {@link ErrorCode#INVALID_SIZE} when the text is not a size
     *         or overflows a long
     */
    public static long parse(String text) {
        if (text == null || text.isBlank()) {
            throw new StorageException(ErrorCode.INVALID_SIZE, "size must not be empty");
        }
        String t = text.trim().toUpperCase(Locale.ROOT);
        if (t.endsWith("IB")) {
            t = t.substring(0, t.length() - 2);
        } else if (t.endsWith("B")) {
            t = t.substring(0, t.length() - 1);
        }
        int shift = 0;
        if (!t.isEmpty()) {
            switch (t.charAt(t.length() - 1)) {
                case 'K': shift = 10; break;
                case 'M': shift = 20; break;
                case 'G': shift = 30; break;
                case 'T': shift = 40; break;
                case 'P': shift = 50; break;
                default: shift = -1;
            }
        }
        String digits = shift >= 0 ? t.substring(0, t.length() - 1) : t;
        if (shift < 0) {
            shift = 0;
        }
        if (digits.isEmpty() || !digits.chars().allMatch(Character::isDigit)) {
            throw new StorageException(ErrorCode.INVALID_SIZE,
                    "'" + Names.printable(text) + "' is not a size (examples: 10G, 512M, 1048576)");
        }
        try {
            long n = Long.parseLong(digits);
            if (shift > 0 && n > (Long.MAX_VALUE >> shift)) {
                throw new NumberFormatException();
            }
            return n << shift;
        } catch (NumberFormatException e) {
            throw new StorageException(ErrorCode.INVALID_SIZE, "size '" + Names.printable(text) + "' is too large");
        }
    }

    /**
     * @param bytes a byte count
     * @return a short human form such as {@code 10.0G}, or the plain count below 1 KiB
     */
    public static String human(long bytes) {
        if (bytes < 1024) {
            return Long.toString(bytes);
        }
        String units = "KMGTPE";
        double v = bytes;
        int u = -1;
        while (v >= 1024 && u < units.length() - 1) {
            v /= 1024;
            u++;
        }
        return String.format(Locale.ROOT, "%.1f%c", v, units.charAt(u));
    }
}

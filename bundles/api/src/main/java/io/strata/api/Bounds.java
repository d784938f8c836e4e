package io.strata.api;

/**
 * Overflow-safe arithmetic for sizes and offsets that come from outside: image headers,
 * catalogs, NBD requests. Every format and the NBD server route such numbers through
 * here, so that a hostile 64-bit field is a typed error instead of a wrapped sum, a
 * negative index or an array bound exception deep in the I/O path.
 *
 * <p>Each method that can fail takes the {@link ErrorCode} to raise and a short text saying
 * what was computed ({@code "L1 table offset"}); the message names it and the operands, with
 * offsets printed as unsigned numbers so a wrapped value never shows as negative.
 *
 * @since 1.3
 */
public final class Bounds {
    private Bounds() {
    }

    /**
     * @return {@code a + b}
     * @throws StorageException {@code code} when either operand is negative or the sum overflows
     */
    public static long add(long a, long b, ErrorCode code, String what) {
        if (a < 0 || b < 0 || a > Long.MAX_VALUE - b) {
            throw new StorageException(code, what + " is out of range (" + unsigned(a) + " + " + unsigned(b) + ")");
        }
        return a + b;
    }

    /**
     * @return {@code a * b}
     * @throws StorageException {@code code} when either operand is negative or the product overflows
     */
    public static long multiply(long a, long b, ErrorCode code, String what) {
        if (a < 0 || b < 0 || (a != 0 && b > Long.MAX_VALUE / a)) {
            throw new StorageException(code, what + " is out of range (" + unsigned(a) + " * " + unsigned(b) + ")");
        }
        return a * b;
    }

    /**
     * @return {@code value} rounded up to a multiple of {@code alignment} (a power of two)
     * @throws StorageException {@code code} when value is negative or rounding overflows
     */
    public static long alignUp(long value, long alignment, ErrorCode code, String what) {
        if (alignment <= 0 || Long.bitCount(alignment) != 1) {
            throw new IllegalArgumentException("alignment " + alignment + " is not a power of two");
        }
        long r = add(value, alignment - 1, code, what) & -alignment;
        return r;
    }

    /** @return the number of {@code unit}-sized pieces needed to cover {@code value} bytes */
    public static long divideUp(long value, long unit, ErrorCode code, String what) {
        if (unit <= 0) {
            throw new IllegalArgumentException("unit " + unit + " is not positive");
        }
        if (value < 0) {
            throw new StorageException(code, what + " is out of range (" + unsigned(value) + ")");
        }
        return value / unit + (value % unit == 0 ? 0 : 1);
    }

    /**
     * @return {@code value} as an int
     * @throws StorageException {@code code} when it is negative or does not fit
     */
    public static int toInt(long value, ErrorCode code, String what) {
        if (value < 0 || value > Integer.MAX_VALUE) {
            throw new StorageException(code, what + " is out of range (" + unsigned(value) + ")");
        }
        return (int) value;
    }

    /** @return whether {@code [offset, offset + length)} lies inside {@code [0, size)}, without overflow */
    public static boolean inRange(long offset, long length, long size) {
        return offset >= 0 && length >= 0 && size >= 0 && offset <= size && length <= size - offset;
    }

    /**
     * Checks that {@code [offset, offset + length)} lies inside {@code [0, size)}.
     *
     * @throws StorageException {@link ErrorCode#OUT_OF_RANGE} naming the range as unsigned numbers
     */
    public static void checkRange(long offset, long length, long size, String what) {
        if (!inRange(offset, length, size)) {
            throw new StorageException(ErrorCode.OUT_OF_RANGE, what + " at offset " + unsigned(offset)
                    + ", length " + unsigned(length) + " is outside 0.." + unsigned(size));
        }
    }

    /** @return the value printed as an unsigned decimal (a wrapped 64-bit field never shows as negative) */
    public static String unsigned(long value) {
        return Long.toUnsignedString(value);
    }
}

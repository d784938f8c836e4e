package io.strata.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class BoundsTest {
    @Test
    void addAndMultiplyRefuseOverflowAndNegatives() {
        assertEquals(7, Bounds.add(3, 4, ErrorCode.CORRUPT_IMAGE, "x"));
        StorageException e = assertThrows(StorageException.class,
                () -> Bounds.add(Long.MAX_VALUE, 1, ErrorCode.CORRUPT_IMAGE, "L1 end"));
        assertEquals(ErrorCode.CORRUPT_IMAGE, e.code());
        assertTrue(e.getMessage().startsWith("L1 end is out of range (9223372036854775807 + 1)"), e.getMessage());
        assertThrows(StorageException.class, () -> Bounds.add(-1, 1, ErrorCode.CORRUPT_IMAGE, "x"));
        assertEquals(1L << 62, Bounds.multiply(1L << 31, 1L << 31, ErrorCode.CORRUPT_IMAGE, "x"));
        assertThrows(StorageException.class, () -> Bounds.multiply(1L << 32, 1L << 31, ErrorCode.CORRUPT_IMAGE, "x"));
        assertEquals(0, Bounds.multiply(0, Long.MAX_VALUE, ErrorCode.CORRUPT_IMAGE, "x"));
    }

    @Test
    void alignDivideAndNarrow() {
        assertEquals(1024, Bounds.alignUp(513, 512, ErrorCode.INVALID_SIZE, "size"));
        assertThrows(StorageException.class, () -> Bounds.alignUp(Long.MAX_VALUE, 512, ErrorCode.INVALID_SIZE, "size"));
        assertEquals(3, Bounds.divideUp(2049, 1024, ErrorCode.CORRUPT_IMAGE, "x"));
        assertEquals(Long.MAX_VALUE / 512 + 1, Bounds.divideUp(Long.MAX_VALUE, 512, ErrorCode.CORRUPT_IMAGE, "x"));
        assertThrows(StorageException.class, () -> Bounds.toInt(1L << 31, ErrorCode.CORRUPT_IMAGE, "x"));
        assertEquals(Integer.MAX_VALUE, Bounds.toInt(Integer.MAX_VALUE, ErrorCode.CORRUPT_IMAGE, "x"));
    }

    @Test
    void rangesNeverWrap() {
        assertTrue(Bounds.inRange(0, 512, 512));
        assertTrue(Bounds.inRange(512, 0, 512));
        assertFalse(Bounds.inRange(513, 0, 512));
        assertFalse(Bounds.inRange(1, Long.MAX_VALUE, Long.MAX_VALUE));
        assertFalse(Bounds.inRange(-1, 1, 512));
        StorageException e = assertThrows(StorageException.class, () -> Bounds.checkRange(-512, 512, 1024, "read"));
        assertEquals(ErrorCode.OUT_OF_RANGE, e.code());
        assertEquals("read at offset 18446744073709551104, length 512 is outside 0..1024", e.getMessage());
    }
}

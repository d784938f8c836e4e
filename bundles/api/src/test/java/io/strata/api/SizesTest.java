package io.strata.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class SizesTest {

    @ParameterizedTest
    @CsvSource({"4096,4096", "1K,1024", "512M,536870912", "10G,10737418240", "10g,10737418240",
        "10GiB,10737418240", "10GB,10737418240", "1T,1099511627776", "7B,7", " 2M ,2097152"})
    void parsesUserSizes(String text, long expected) {
        assertEquals(expected, Sizes.parse(text));
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "G", "-1", "1.5G", "ten", "10X", "0x10", "99999999999999999999"})
    void refusesNonSizes(String text) {
        assertEquals(ErrorCode.INVALID_SIZE, assertThrows(StorageException.class, () -> Sizes.parse(text)).code());
    }

    @Test
    void refusesOverflow() {
        assertEquals(ErrorCode.INVALID_SIZE, assertThrows(StorageException.class, () -> Sizes.parse("9000000P")).code());
    }

    @Test
    void printsHumanSizes() {
        assertEquals("512", Sizes.human(512));
        assertEquals("1.0K", Sizes.human(1024));
        assertEquals("10.0G", Sizes.human(10L << 30));
        assertEquals("1.5M", Sizes.human(3L << 19));
    }
}

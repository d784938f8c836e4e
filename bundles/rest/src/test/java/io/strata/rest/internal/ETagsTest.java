package io.strata.rest.internal;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Instant;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ETagsTest {
    private static final Instant CREATED = Instant.parse("2026-03-01T10:00:00Z");

    private static String tag(Object... parts) {
        return ETags.of(parts);
    }

    @Test
    void theSameInputsGiveTheSameStrongQuotedTag() {
        String a = tag("volume", "ds1", "v1", "qcow2", 1L << 30, CREATED);
        assertEquals(a, tag("volume", "ds1", "v1", "qcow2", 1L << 30, CREATED));
        assertTrue(a.matches("\"[0-9a-f]{24}\""), a);
    }

    @Test
    void anyChangeGivesAnotherTag() {
        String a = tag("volume", "ds1", "v1", "qcow2", 1L << 30, CREATED);
        assertNotEquals(a, tag("volume", "ds2", "v1", "qcow2", 1L << 30, CREATED));
        assertNotEquals(a, tag("volume", "ds1", "v2", "qcow2", 1L << 30, CREATED));
        assertNotEquals(a, tag("volume", "ds1", "v1", "vhd", 1L << 30, CREATED));
        assertNotEquals(a, tag("volume", "ds1", "v1", "qcow2", (1L << 30) + 512, CREATED));
        assertNotEquals(a, tag("volume", "ds1", "v1", "qcow2", 1L << 30, CREATED.plusSeconds(1)));
        assertNotEquals(a, tag("qos", "ds1", "v1", "qcow2", 1L << 30, CREATED));
        assertNotEquals(a, tag("volume", "ds1", "v1", "qcow2", 1L << 30));
        assertNotEquals(a, tag("volume", "ds1", "v1", "qcow2", 1L << 30, CREATED, null));
    }

    @Test
    void partsAreSeparatedSoShiftingTextBetweenThemChangesTheTag() {
        assertNotEquals(tag("ab", "c"), tag("a", "bc"));
        assertNotEquals(tag("a", ""), tag("a"));
    }

    @Test
    void checkPassesWithoutAPreconditionOrAMatchingOne() {
        String current = tag("x");
        assertDoesNotThrow(() -> ETags.check(null, current, "volume ds1/v1"));
        assertDoesNotThrow(() -> ETags.check("", current, "volume ds1/v1"));
        assertDoesNotThrow(() -> ETags.check("   ", current, "volume ds1/v1"));
        assertDoesNotThrow(() -> ETags.check("*", current, "volume ds1/v1"));
        assertDoesNotThrow(() -> ETags.check(current, current, "volume ds1/v1"));
        assertDoesNotThrow(() -> ETags.check("  " + current + " ", current, "volume ds1/v1"));
        assertDoesNotThrow(() -> ETags.check("\"other\", " + current, current, "volume ds1/v1"));
        assertDoesNotThrow(() -> ETags.check("\"other\",*", current, "volume ds1/v1"));
        assertDoesNotThrow(() -> ETags.check("W/" + current, current, "volume ds1/v1"));
        assertDoesNotThrow(() -> ETags.check("\"a\", W/" + current, current, "volume ds1/v1"));
    }

    @Test
    void aMismatchIs412WithTheCurrentTag() {
        String current = tag("x");
        for (String stale : new String[] {tag("y"), current.replace("\"", ""), "\"a\", \"b\"", "W/\"zz\""}) {
            ApiException e = assertThrows(ApiException.class, () -> ETags.check(stale, current, "volume ds1/v1"),
                    stale);
            assertEquals(412, e.status());
            assertEquals(ApiException.PRECONDITION_FAILED, e.code());
            assertEquals(Map.of("etag", current), e.details());
            assertTrue(e.getMessage().contains("volume ds1/v1"), e.getMessage());
            assertTrue(e.getMessage().contains(current), e.getMessage());
        }
    }
}

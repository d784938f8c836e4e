package io.strata.rest.internal.security;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;

class ExpiryTest {
    private static final Instant NOW = Instant.parse("2026-03-01T10:00:00Z");

    @Test
    void relativeExpiries() {
        assertEquals(NOW.plus(Duration.ofDays(90)), Expiry.parse("90d", NOW));
        assertEquals(NOW.plus(Duration.ofHours(12)), Expiry.parse("12h", NOW));
        assertEquals(NOW.plus(Duration.ofMinutes(30)), Expiry.parse("30m", NOW));
        assertEquals(NOW.plusSeconds(3600), Expiry.parse("3600s", NOW));
        assertEquals(NOW.plusSeconds(3600), Expiry.parse("  3600s ", NOW), "surrounding space is ignored");
    }

    @Test
    void isoInstants() {
        assertEquals(Instant.parse("2027-01-01T00:00:00Z"), Expiry.parse("2027-01-01T00:00:00Z", NOW));
    }

    @Test
    void neverAndNothingMeanNoExpiry() {
        assertNull(Expiry.parse("never", NOW));
        assertNull(Expiry.parse("NEVER", NOW));
        assertNull(Expiry.parse(null, NOW));
        assertNull(Expiry.parse("", NOW));
        assertNull(Expiry.parse("   ", NOW));
    }

    @Test
    void zeroIsRefused() {
        StorageException e = assertThrows(StorageException.class, () -> Expiry.parse("0d", NOW));
        assertEquals(ErrorCode.INVALID_ARGUMENT, e.code());
    }

    @Test
    void garbageIsRefusedWithTheFormsThatWork() {
        for (String bad : new String[] {"soon", "90", "d90", "90 d", "90w", "-5d", "1234567d", "2027-01-01",
            "90d\u0007"}) {
            StorageException e = assertThrows(StorageException.class, () -> Expiry.parse(bad, NOW), bad);
            assertEquals(ErrorCode.INVALID_ARGUMENT, e.code(), bad);
            assertTrue(e.getMessage().contains("90d"), e.getMessage());
            assertTrue(e.getMessage().chars().noneMatch(Character::isISOControl), "no control characters echoed");
        }
    }
}

package io.strata.multipath;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ParametersTest {
    private static String refused(String name, String value, String... mentions) {
        StorageException e = assertThrows(StorageException.class, () -> Multipath.validate(Map.of(name, value)));
        assertEquals(ErrorCode.INVALID_ARGUMENT, e.code());
        assertTrue(e.getMessage().contains(name), e.getMessage());
        assertTrue(e.getMessage().contains("'" + value + "'"), e.getMessage());
        for (String m : mentions) {
            assertTrue(e.getMessage().contains(m), e.getMessage());
        }
        return e.getMessage();
    }

    @Test
    void badValuesAreRefusedWithTheAllowedValues() {
        refused("policy", "fastest", "round-robin, queue-length, service-time, mru, fixed");
        refused("policy", "", "round-robin");
        refused("failback", "soon", "immediate", "manual", "seconds");
        refused("failback", "0", "from 1");
        refused("failback", "-5", "seconds");
        refused("no-path-retry", "queue", "seconds from 0 to 86400");
        refused("no-path-retry", "86401", "seconds");
        refused("checker-interval", "0", "seconds from 1 to 3600");
        refused("checker-interval", "1.5", "seconds");
        refused("preferred", "a,,b", "path id");
        refused("preferred", " ", "path id");
    }

    @Test
    void goodValuesAndForeignParametersAreAccepted() {
        for (String p : List.of("round-robin", "queue-length", "service-time", "mru", "fixed")) {
            Multipath.validate(Map.of("policy", p));
        }
        Multipath.validate(Map.of("failback", "manual", "no-path-retry", "0", "checker-interval", "1",
                "preferred", "10.0.0.1:3260/lun1, 10.0.0.2:3260/lun2", "portal", "anything goes"));
        Multipath.validate(Map.of("failback", "immediate"));
        Multipath.validate(Map.of("failback", "60"));
    }

    @Test
    void constructorRefusesBadParameters() {
        StorageException e = assertThrows(StorageException.class,
                () -> new Multipath("r", Map.of("checker-interval", "never")));
        assertEquals(ErrorCode.INVALID_ARGUMENT, e.code());
    }

    @Test
    void reconfigureChecksEverythingBeforeChangingAnything() {
        try (Fixture f = new Fixture(List.of("a", "b"), "policy", "round-robin")) {
            StorageException e = assertThrows(StorageException.class,
                    () -> f.mp.reconfigure(Map.of("policy", "fixed", "failback", "later")));
            assertEquals(ErrorCode.INVALID_ARGUMENT, e.code());
            assertTrue(e.getMessage().contains("failback"));
            // still round-robin: both paths active and used
            assertTrue(f.mp.paths().stream().allMatch(p -> p.active()));
            var d = f.open();
            Fixture.writeSector(d, 0, 1);
            Fixture.writeSector(d, 0, 1);
            assertEquals(1, f.path("a").writes.get());
            assertEquals(1, f.path("b").writes.get());
        }
    }
}

package io.strata.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.api.service.VolumeRef;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class NamesTest {

    @ParameterizedTest
    @ValueSource(strings = {"vm1", "web-01", "a.b_c+d", "X", "disk.vhd"})
    void acceptsOrdinaryNames(String name) {
        assertEquals(name, Names.check("volume", name));
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "a/b", "/etc", "..", "a..b", "../x", "a\\b", ".hidden", "-rf", "sp ace",
        "tab\there", "nl\nx", "nul\u0000x", "bell\u0007", "é"})
    void refusesDangerousNames(String name) {
        StorageException e = assertThrows(StorageException.class, () -> Names.check("volume", name));
        assertEquals(ErrorCode.INVALID_NAME, e.code());
        assertTrue(e.getMessage().startsWith("volume name"), e.getMessage());
        assertTrue(e.getMessage().chars().noneMatch(Character::isISOControl), "message must be printable");
    }

    @org.junit.jupiter.api.Test
    void refusesNullAndOverlongNames() {
        assertEquals(ErrorCode.INVALID_NAME, assertThrows(StorageException.class, () -> Names.check("x", null)).code());
        String longName = "a".repeat(Names.MAX_LENGTH + 1);
        assertEquals(ErrorCode.INVALID_NAME, assertThrows(StorageException.class, () -> Names.check("x", longName)).code());
        assertEquals("a".repeat(Names.MAX_LENGTH), Names.check("x", "a".repeat(Names.MAX_LENGTH)));
    }

    @org.junit.jupiter.api.Test
    void volumeRefsParseAndRejectBadForms() {
        VolumeRef ref = VolumeRef.parse("local/vm1");
        assertEquals("local", ref.datastore());
        assertEquals("vm1", ref.volume());
        assertEquals("local/vm1", ref.toString());
        for (String bad : new String[] {"local", "/vm1", "local/", "local/../etc", "local/a/b", "../x/y"}) {
            StorageException e = assertThrows(StorageException.class, () -> VolumeRef.parse(bad), bad);
            assertEquals(ErrorCode.INVALID_NAME, e.code(), bad);
        }
    }
}

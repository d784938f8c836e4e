package io.strata.rest.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class RoleTest {
    @Test
    void eachRoleIncludesTheOnesBelowIt() {
        assertTrue(Role.ADMIN.includes(Role.ADMIN));
        assertTrue(Role.ADMIN.includes(Role.OPERATOR));
        assertTrue(Role.ADMIN.includes(Role.VIEWER));
        assertTrue(Role.OPERATOR.includes(Role.OPERATOR));
        assertTrue(Role.OPERATOR.includes(Role.VIEWER));
        assertFalse(Role.OPERATOR.includes(Role.ADMIN));
        assertTrue(Role.VIEWER.includes(Role.VIEWER));
        assertFalse(Role.VIEWER.includes(Role.OPERATOR));
        assertFalse(Role.VIEWER.includes(Role.ADMIN));
    }

    @Test
    void parseTakesTheLowerCaseIdInAnyCaseWithSpaces() {
        assertEquals(Role.VIEWER, Role.parse("viewer"));
        assertEquals(Role.OPERATOR, Role.parse(" Operator "));
        assertEquals(Role.ADMIN, Role.parse("ADMIN"));
        assertNull(Role.parse(null));
        assertNull(Role.parse(""));
        assertNull(Role.parse("administrator"));
        assertNull(Role.parse("group-admin"));
        assertEquals("operator", Role.OPERATOR.id());
    }

    @Test
    void highestIgnoresUnknownNames() {
        assertEquals(Role.ADMIN, Role.highest(List.of("viewer", "admin", "operator")));
        assertEquals(Role.ADMIN, Role.highest(List.of("admin", "viewer")));
        assertEquals(Role.OPERATOR, Role.highest(List.of("operator", "viewer", "ssh", "manager")));
        assertEquals(Role.VIEWER, Role.highest(List.of("ssh", "Viewer")));
        assertNull(Role.highest(List.of("ssh", "manager", "systembundles")));
        assertNull(Role.highest(List.of()));
    }
}

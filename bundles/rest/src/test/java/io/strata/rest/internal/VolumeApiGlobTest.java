package io.strata.rest.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class VolumeApiGlobTest {
    private static boolean matches(String glob, String name) {
        return VolumeApi.glob(glob).matches(name);
    }

    @Test
    void starMatchesAnyRunQuestionMarkOneCharacter() {
        assertTrue(matches("web-*", "web-01"));
        assertTrue(matches("web-*", "web-"));
        assertFalse(matches("web-*", "db-web-01"), "the whole name must match");
        assertTrue(matches("*-01", "web-01"));
        assertTrue(matches("*", ""));
        assertTrue(matches("vm?", "vm1"));
        assertFalse(matches("vm?", "vm"));
        assertFalse(matches("vm?", "vm12"));
        assertTrue(matches("a*b?c", "axxbyc"));
    }

    @Test
    void everythingElseIsLiteral() {
        assertTrue(matches("v1.qcow2", "v1.qcow2"));
        assertFalse(matches("v1.qcow2", "v1xqcow2"), "'.' is not a regex wildcard");
        assertTrue(matches("a+b", "a+b"));
        assertFalse(matches("a+b", "aab"));
        assertTrue(matches("[x]", "[x]"));
        assertFalse(matches("[x]", "x"));
        assertTrue(matches("\\Q\\E", "\\Q\\E"), "quoting cannot be broken out of");
        assertTrue(matches("(a|b)", "(a|b)"));
        assertFalse(matches("(a|b)", "a"));
        assertFalse(matches("V1", "v1"), "case-sensitive");
    }

    @Test
    void aFilterLongerThan256CharactersIs400() {
        VolumeApi.Glob ok = VolumeApi.glob("*".repeat(256));
        assertTrue(ok.matches("anything"));
        ApiException e = assertThrows(ApiException.class, () -> VolumeApi.glob("a".repeat(257)));
        assertEquals(400, e.status());
        assertEquals(ApiException.BAD_REQUEST, e.code());
    }

    /** A name that counts how often the matcher looks at it and gives up past a budget. */
    private static final class Budgeted implements CharSequence {
        private final String s;
        private final long[] left;

        Budgeted(String s, long[] left) {
            this.s = s;
            this.left = left;
        }

        @Override
        public int length() {
            return s.length();
        }

        @Override
        public char charAt(int index) {
            if (--left[0] < 0) {
                throw new IllegalStateException("the match looked at the name too often");
            }
            return s.charAt(index);
        }

        @Override
        public CharSequence subSequence(int start, int end) {
            return new Budgeted(s.substring(start, end), left);
        }

        @Override
        public String toString() {
            return s;
        }
    }

    @Test
    void aFilterOfManyStarsDoesNotBacktrackWithoutEnd() {
        // a linear wildcard match needs at most about (filter length x name length) steps
        String name = "a".repeat(128);
        for (String filter : new String[] {"*".repeat(30) + "x", "*a".repeat(40) + "x", "*".repeat(255) + "?"}) {
            long[] budget = {5_000_000};
            boolean matched = VolumeApi.glob(filter).matches(new Budgeted(name, budget));
            assertEquals(filter.endsWith("?"), matched, filter);
        }
    }
}

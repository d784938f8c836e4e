package io.strata.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.BitSet;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class PortsTest {
    @AfterEach
    void unset() {
        System.clearProperty(Ports.PROCESS);
    }

    /** The ports one process can pick from [from, from + count), from enough random picks. */
    private static BitSet picks(String process, int from, int count) {
        if (process == null) {
            System.clearProperty(Ports.PROCESS);
        } else {
            System.setProperty(Ports.PROCESS, process);
        }
        BitSet seen = new BitSet();
        for (int i = 0; i < 200 * count; i++) {
            int p = Ports.pick(from, count);
            assertTrue(p >= from && p < from + count, p + " outside [" + from + ", " + (from + count) + ")");
            seen.set(p - from);
        }
        return seen;
    }

    @Test
    void theTwoTestProcessesPickFromHalvesThatShareNothingAndCoverTheRange() {
        BitSet first = picks("1", 20000, 101);
        BitSet second = picks("2", 20000, 101);
        assertEquals(50, first.cardinality(), first::toString);
        assertEquals(51, second.cardinality(), second::toString);
        assertTrue(!first.intersects(second), "both processes could pick " + first + " and " + second);
        BitSet all = (BitSet) first.clone();
        all.or(second);
        assertEquals(101, all.cardinality());
        assertEquals(101, picks(null, 20000, 101).cardinality(), "a single process picks from the whole range");
        assertEquals(101, picks("3", 20000, 101).cardinality(), "an unknown value is a single process");
    }

    @Test
    void aRangeTooSmallToShareIsRefused() {
        assertThrows(IllegalArgumentException.class, () -> Ports.pick(100, 1));
    }
}

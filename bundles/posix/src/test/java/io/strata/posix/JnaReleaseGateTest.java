package io.strata.posix;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** {@link JnaRelease.Gate}: once a close returns true, nothing is inside, and nothing gets in. */
class JnaReleaseGateTest {
    static final IllegalStateException REFUSED = new IllegalStateException("refused");

    @Test
    void aClosedGateRefusesAndAnOpenedOneLetsInAgainWithTicketsLeftOnAnyThread() throws Exception {
        JnaRelease.Gate gate = new JnaRelease.Gate(() -> REFUSED);
        int ticket = gate.enter();
        assertFalse(gate.close(Duration.ofMillis(50)), "closed with work inside");
        assertTrue(gate.isClosed());
        assertSame(REFUSED, assertThrows(IllegalStateException.class, gate::enter));
        Thread other = new Thread(() -> gate.exit(ticket)); // a loop ends on its own thread
        other.start();
        other.join();
        assertTrue(gate.close(Duration.ofSeconds(10)));
        gate.open();
        assertFalse(gate.isClosed());
        gate.exit(gate.enter());
        assertTrue(gate.close(Duration.ofSeconds(10)));
    }

    /**
     * Eight threads enter and exit as fast as they can while the gate closes, 50 times: when
     * {@code close} returns true no thread is between its enter and its exit, and none enters
     * after.
     */
    @Test
    void noWorkIsInsideOnceACloseReturns() throws Exception {
        for (int round = 0; round < 50; round++) {
            JnaRelease.Gate gate = new JnaRelease.Gate(() -> REFUSED);
            AtomicInteger inside = new AtomicInteger();
            AtomicInteger enteredAfterClose = new AtomicInteger();
            AtomicBoolean closedTrue = new AtomicBoolean();
            List<Thread> threads = new ArrayList<>();
            for (int t = 0; t < 8; t++) {
                Thread th = new Thread(() -> {
                    while (true) {
                        int ticket;
                        try {
                            ticket = gate.enter();
                        } catch (IllegalStateException e) {
                            return;
                        }
                        if (closedTrue.get()) {
                            enteredAfterClose.incrementAndGet();
                        }
                        inside.incrementAndGet();
                        Thread.onSpinWait();
                        inside.decrementAndGet();
                        gate.exit(ticket);
                    }
                });
                th.start();
                threads.add(th);
            }
            Thread.sleep(5);
            assertTrue(gate.close(Duration.ofSeconds(30)));
            closedTrue.set(true);
            assertEquals(0, inside.get(), "work inside after the close returned, round " + round);
            for (Thread th : threads) {
                th.join(30_000);
                assertFalse(th.isAlive());
            }
            assertEquals(0, enteredAfterClose.get(), "work let in after the close, round " + round);
        }
    }
}

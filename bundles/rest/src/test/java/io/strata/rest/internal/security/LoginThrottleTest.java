package io.strata.rest.internal.security;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class LoginThrottleTest {
    private static final long WINDOW = 60_000;
    private final AtomicLong now = new AtomicLong(1_000_000);
    private final LoginThrottle throttle = new LoginThrottle(3, WINDOW, now::get);

    @Test
    void aNewClientMayTry() {
        assertEquals(0, throttle.blockedFor("10.0.0.1"));
    }

    @Test
    void fewerFailuresThanTheLimitDoNotBlock() {
        throttle.failed("10.0.0.1");
        now.addAndGet(1000);
        throttle.failed("10.0.0.1");
        assertEquals(0, throttle.blockedFor("10.0.0.1"));
    }

    @Test
    void theLimitWithinTheWindowBlocksUntilTheOldestFailureIsAWindowOld() {
        long first = now.get();
        throttle.failed("10.0.0.1");
        now.addAndGet(10_000);
        throttle.failed("10.0.0.1");
        now.addAndGet(10_000);
        throttle.failed("10.0.0.1");
        assertEquals(first + WINDOW - now.get(), throttle.blockedFor("10.0.0.1"));
        assertEquals(40_000, throttle.blockedFor("10.0.0.1"));

        now.set(first + WINDOW - 1);
        assertEquals(1, throttle.blockedFor("10.0.0.1"));
        now.set(first + WINDOW);
        assertEquals(0, throttle.blockedFor("10.0.0.1"), "the oldest failure has left the window");
    }

    @Test
    void failuresSpreadWiderThanTheWindowDoNotBlock() {
        throttle.failed("c");
        now.addAndGet(WINDOW);
        throttle.failed("c");
        now.addAndGet(WINDOW);
        throttle.failed("c");
        assertEquals(0, throttle.blockedFor("c"));
    }

    @Test
    void aBlockAfterFurtherFailuresCountsFromTheOldestKeptOne() {
        throttle.failed("c");
        now.addAndGet(1000);
        throttle.failed("c");
        now.addAndGet(1000);
        throttle.failed("c");
        now.addAndGet(1000);
        throttle.failed("c");
        // only the newest three count: the block ends a window after the second failure
        assertEquals(WINDOW - 2000, throttle.blockedFor("c"));
    }

    @Test
    void successClearsTheClient() {
        throttle.failed("c");
        throttle.failed("c");
        throttle.succeeded("c");
        throttle.failed("c");
        throttle.failed("c");
        assertEquals(0, throttle.blockedFor("c"), "the failures before the success are forgotten");
        throttle.failed("c");
        assertEquals(WINDOW, throttle.blockedFor("c"));
        throttle.succeeded("c");
        assertEquals(0, throttle.blockedFor("c"));
    }

    @Test
    void otherClientsAreNotAffected() {
        for (int i = 0; i < 3; i++) {
            throttle.failed("bad");
        }
        throttle.failed("good");
        assertEquals(WINDOW, throttle.blockedFor("bad"));
        assertEquals(0, throttle.blockedFor("good"));
        assertEquals(0, throttle.blockedFor("other"));
    }

    @Test
    void theMapIsBoundedForgettingTheLeastRecentlyFailingClient() {
        LoginThrottle one = new LoginThrottle(1, WINDOW, now::get);
        one.failed("first");
        assertEquals(WINDOW, one.blockedFor("first"));
        for (int i = 0; i < LoginThrottle.MAX_CLIENTS; i++) {
            one.failed("c" + i);
        }
        assertEquals(0, one.blockedFor("first"), "the eldest client is forgotten past MAX_CLIENTS");
        assertEquals(WINDOW, one.blockedFor("c0"));
        assertEquals(WINDOW, one.blockedFor("c" + (LoginThrottle.MAX_CLIENTS - 1)));
    }

    @Test
    void limitsBelowOneAreRaisedToOne() {
        LoginThrottle zero = new LoginThrottle(0, 0, now::get);
        zero.failed("c");
        assertEquals(1, zero.blockedFor("c"));
        now.addAndGet(1);
        assertEquals(0, zero.blockedFor("c"));
    }
}

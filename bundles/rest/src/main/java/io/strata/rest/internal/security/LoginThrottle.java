package io.strata.rest.internal.security;

import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.LongSupplier;

/**
 * Failed logins per client address: after {@code maxFailures} within {@code windowMillis},
 * the address is refused, right credentials or not, until the oldest of those failures is
 * a window old. A success clears the address. At most {@value #MAX_CLIENTS} addresses are
 * remembered, the least recently failing forgotten first. The clock is injected for tests.
 */
public final class LoginThrottle {
    static final int MAX_CLIENTS = 10_000;
    private final int maxFailures;
    private final long windowMillis;
    private final LongSupplier clock;
    private final Map<String, Deque<Long>> failures = new LinkedHashMap<>(16, 0.75f, true);

    public LoginThrottle(int maxFailures, long windowMillis, LongSupplier clockMillis) {
        this.maxFailures = Math.max(1, maxFailures);
        this.windowMillis = Math.max(1, windowMillis);
        this.clock = clockMillis;
    }

    /** @return 0 when {@code client} may try, else the milliseconds until it may */
    public synchronized long blockedFor(String client) {
        Deque<Long> f = failures.get(client);
        if (f == null) {
            return 0;
        }
        long now = clock.getAsLong();
        expire(f, now);
        if (f.isEmpty()) {
            failures.remove(client);
            return 0;
        }
        return f.size() >= maxFailures ? Math.max(1, f.peekFirst() + windowMillis - now) : 0;
    }

    /** Records a failed login from {@code client}. */
    public synchronized void failed(String client) {
        long now = clock.getAsLong();
        Deque<Long> f = failures.computeIfAbsent(client, c -> new ArrayDeque<>());
        expire(f, now);
        f.addLast(now);
        while (f.size() > maxFailures) {
            f.removeFirst();
        }
        if (failures.size() > MAX_CLIENTS) {
            Iterator<String> eldest = failures.keySet().iterator();
            eldest.next();
            eldest.remove();
        }
    }

    /** Forgets {@code client}'s failures after a successful login. */
    public synchronized void succeeded(String client) {
        failures.remove(client);
    }

    private void expire(Deque<Long> f, long now) {
        while (!f.isEmpty() && f.peekFirst() + windowMillis <= now) {
            f.removeFirst();
        }
    }
}

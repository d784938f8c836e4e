package io.strata.testing;

import java.util.concurrent.ThreadLocalRandom;

/**
 * Random picks of ports (and port blocks) for the servers tests start, kept apart between the
 * two test processes {@code ./strata test} runs at once. A probe finds a port free, and the
 * server binds it seconds later (a Strata instance once Karaf has booted): in between, the
 * other process could find the same port free. Each process picks from its own half of a range.
 */
public final class Ports {
    /**
     * The system property {@code ./strata test} sets to 1 in its first test process and to 2 in
     * the second; unset (or any other value), a pick may fall anywhere in the range.
     */
    public static final String PROCESS = "strata.test.process";

    private Ports() {
    }

    /** @return a random number from this process's share of {@code [from, from + count)} */
    public static int pick(int from, int count) {
        if (count < 2) {
            throw new IllegalArgumentException("a range of " + count);
        }
        String process = System.getProperty(PROCESS, "");
        if (process.equals("1")) {
            count /= 2;
        } else if (process.equals("2")) {
            from += count / 2;
            count -= count / 2;
        }
        return from + ThreadLocalRandom.current().nextInt(count);
    }
}

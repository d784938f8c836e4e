package io.strata.core.internal;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * Fault injection for the test datastore: simulates a kill -9 after a given
 * number of mutating steps. After the crash every further step fails too, as
 * the process is gone; the files on disk stay exactly as they were.
 */
final class Faults {
    /** Thrown at the simulated crash; not a StorageException, as a dead process answers nothing. */
    static final class Crash extends RuntimeException {
        private static final long serialVersionUID = 1L;

        Crash(String step) {
            super("simulated crash at " + step);
        }
    }

    private final AtomicInteger steps = new AtomicInteger();
    private volatile int crashAt = Integer.MAX_VALUE;
    private volatile boolean dead;

    /** Crash when the n-th mutating step (1-based) from now is attempted. */
    void crashAt(int n) {
        steps.set(0);
        crashAt = n;
        dead = false;
    }

    void disarm() {
        crashAt = Integer.MAX_VALUE;
        dead = false;
        steps.set(0);
    }

    int steps() {
        return steps.get();
    }

    boolean dead() {
        return dead;
    }

    void step(String what) {
        if (dead) {
            throw new Crash(what + " (after crash)");
        }
        if (steps.incrementAndGet() >= crashAt) {
            dead = true;
            throw new Crash(what);
        }
    }

    void read(String what) {
        if (dead) {
            throw new Crash(what + " (after crash)");
        }
    }
}

package io.strata.fs.vims.internal;

import io.strata.lease.HostIdentity;
import io.strata.lease.LeaseClock;
import io.strata.lease.LeaseParticipant;
import io.strata.lease.LeaseSettings;
import java.time.Duration;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;

/** Host identities and short lease timings for tests. */
final class Hosts {
    /** Renew every 250 ms, dead after 2 s: quick, and loose enough for a loaded machine. */
    static final LeaseSettings FAST = new LeaseSettings(Duration.ofMillis(250), Duration.ofMillis(2000),
            Duration.ofMillis(700));

    /**
     * Slower timings for tests where no host dies: a loaded machine that stalls a heartbeat for
     * a second must not make a host fence itself (joining takes about 4 s).
     */
    static final LeaseSettings STEADY = new LeaseSettings(Duration.ofMillis(400), Duration.ofSeconds(6),
            Duration.ofSeconds(2));

    /**
     * For a test where one host must die and the others must not: a host fences itself only
     * after 5 s without a renewal (FAST: 1.3 s, which a loaded 2-core machine running the whole
     * build once stalled a healthy host past), and is counted dead after 6 s.
     */
    static final LeaseSettings TOLERANT = new LeaseSettings(Duration.ofMillis(250), Duration.ofSeconds(6),
            Duration.ofSeconds(1));

    private Hosts() {
    }

    static LeaseParticipant steady(String name) {
        return new LeaseParticipant(new HostIdentity(UUID.randomUUID(), name), STEADY, LeaseClock.SYSTEM, () -> {
        });
    }

    static LeaseParticipant host(String name, AtomicInteger fences) {
        return host(name, fences, FAST);
    }

    static LeaseParticipant host(String name, AtomicInteger fences, LeaseSettings settings) {
        return new LeaseParticipant(new HostIdentity(UUID.randomUUID(), name), settings, LeaseClock.SYSTEM,
                fences::incrementAndGet);
    }

    static LeaseParticipant host(String name) {
        return host(name, new AtomicInteger());
    }
}

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

    private Hosts() {
    }

    static LeaseParticipant steady(String name) {
        return new LeaseParticipant(new HostIdentity(UUID.randomUUID(), name), STEADY, LeaseClock.SYSTEM, () -> {
        });
    }

    static LeaseParticipant host(String name, AtomicInteger fences) {
        return new LeaseParticipant(new HostIdentity(UUID.randomUUID(), name), FAST, LeaseClock.SYSTEM,
                fences::incrementAndGet);
    }

    static LeaseParticipant host(String name) {
        return host(name, new AtomicInteger());
    }
}

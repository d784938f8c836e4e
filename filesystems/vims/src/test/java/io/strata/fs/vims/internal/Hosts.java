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

    private Hosts() {
    }

    static LeaseParticipant host(String name, AtomicInteger fences) {
        return new LeaseParticipant(new HostIdentity(UUID.randomUUID(), name), FAST, LeaseClock.SYSTEM,
                fences::incrementAndGet);
    }

    static LeaseParticipant host(String name) {
        return host(name, new AtomicInteger());
    }
}

package io.strata.core.internal;

import io.strata.fs.dir.internal.DirFilesystem;
import io.strata.lease.LeaseSettings;
import io.strata.local.internal.LocalDriver;
import io.strata.qcow2.internal.Qcow2Format;
import io.strata.raw.internal.RawFormat;
import io.strata.vhd.internal.VhdFormat;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

/**
 * Strata hosts (cores with the real local driver, dir layer and formats) that share one
 * directory as datastore {@code ds}, each with its own configuration and state, as three
 * hosts mounting one cluster filesystem would. Lease timing is short so that tests of
 * expiry take seconds; every margin the tests use is a multiple of it.
 */
final class SharedHosts {
    /** Renew every 200 ms, dead after 2.5 s. */
    static final LeaseSettings FAST = new LeaseSettings(Duration.ofMillis(200), Duration.ofMillis(2500),
            Duration.ofMillis(500));

    /**
     * For tests where no host dies but many threads keep the disk busy with synced writes: a
     * renewal may take up to 1.5 s and a host fences itself only after 4.5 s without one (FAST:
     * 0.5 s and 2 s, which a loaded 2-core machine once stalled a healthy host past).
     */
    static final LeaseSettings TOLERANT = new LeaseSettings(Duration.ofMillis(200), Duration.ofSeconds(6),
            Duration.ofMillis(1500));

    private SharedHosts() {
    }

    /** A host named {@code name} with its state under {@code root/name}, the shared directory mounted as ds. */
    static StrataCore start(Path root, String name, ConfigStore store) {
        return start(root, name, store, FAST);
    }

    /** The same, with lease timing {@code lease}. */
    static StrataCore start(Path root, String name, ConfigStore store, LeaseSettings lease) {
        return start(root, name, store, lease, new DirFilesystem());
    }

    /** The same, with {@code dir} as the dir layer. */
    static StrataCore start(Path root, String name, ConfigStore store, LeaseSettings lease,
            io.strata.api.fs.DatastoreFilesystem dir) {
        StrataCore core = new StrataCore(store, new CoreSettings(false, "local", root.resolve(name + "/default"),
                root.resolve(name + "/state")).withLease(lease, name));
        core.addFormat(new VhdFormat(), "vhd", "io.strata.format-vhd");
        core.addFormat(new Qcow2Format(), "qcow2", "io.strata.format-qcow2");
        core.addFormat(new RawFormat(), "raw", "io.strata.format-raw");
        core.addDriver(new LocalDriver(), "local", "io.strata.driver-local");
        core.addFilesystem(dir, "dir", "io.strata.fs-dir");
        if (core.list().stream().noneMatch(d -> d.name().equals("ds"))) {
            new ResourceServiceImpl(core).add("shared", "local",
                    Map.of("kind", "directory", "path", root.resolve("shared").toString()));
            core.create("ds", "dir", "shared", Map.of("shared", "true"), false);
        }
        return core;
    }
}

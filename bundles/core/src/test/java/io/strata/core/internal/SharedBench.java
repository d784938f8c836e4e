package io.strata.core.internal;

import io.strata.api.format.Provisioning;
import io.strata.api.service.VolumeRef;
import io.strata.lease.LeaseSettings;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;

/**
 * The cost of a catalog change on a shared datastore against today's single-host one, in one
 * run on one directory: volume-create (thin raw, 1 MiB) and volume-delete, each one catalog
 * transaction or two, on a dir datastore mounted plain and mounted {@code shared=true} (the
 * catalog lease taken and released, the catalog read and its generation checked, the volume's
 * lease taken and released). Default lease timing. Prints median and 99th percentile.
 * Usage: SharedBench &lt;dir&gt; [rounds]
 */
public final class SharedBench {
    private SharedBench() {
    }

    public static void main(String[] a) throws Exception {
        Path dir = Path.of(a[0]);
        int rounds = a.length > 1 ? Integer.parseInt(a[1]) : 200;
        for (boolean shared : new boolean[] {false, true}) {
            Path root = dir.resolve(shared ? "shared" : "plain");
            Files.createDirectories(root.resolve("ds"));
            StrataCore core = new StrataCore(new MemoryConfigStore(), new CoreSettings(false, "local",
                    root.resolve("default"), root.resolve("state")).withLease(LeaseSettings.DEFAULTS, "bench"));
            core.addFormat(new io.strata.raw.internal.RawFormat(), "raw", "raw");
            core.addDriver(new io.strata.local.internal.LocalDriver(), "local", "local");
            core.addFilesystem(new io.strata.fs.dir.internal.DirFilesystem(), "dir", "dir");
            new ResourceServiceImpl(core).add("r", "local", Map.of("kind", "directory", "path",
                    root.resolve("ds").toString()));
            core.create("ds", "dir", "r", shared ? Map.of("shared", "true") : Map.of(), false);
            long[] create = new long[rounds];
            long[] delete = new long[rounds];
            try {
                for (int i = -20; i < rounds; i++) { // 20 rounds of warm-up
                    VolumeRef v = VolumeRef.parse("ds/v" + (i + 20));
                    long t0 = System.nanoTime();
                    core.create(v, 1L << 20, "raw", Provisioning.THIN);
                    long t1 = System.nanoTime();
                    core.delete(v);
                    long t2 = System.nanoTime();
                    if (i >= 0) {
                        create[i] = t1 - t0;
                        delete[i] = t2 - t1;
                    }
                }
            } finally {
                core.close();
            }
            System.out.printf("%-7s volume-create: median %.2f ms, p99 %.2f ms; volume-delete: median %.2f ms, "
                    + "p99 %.2f ms (%d rounds)%n", shared ? "shared" : "plain", pct(create, 50), pct(create, 99),
                    pct(delete, 50), pct(delete, 99), rounds);
        }
    }

    private static double pct(long[] nanos, int p) {
        long[] s = nanos.clone();
        Arrays.sort(s);
        return s[Math.min(s.length - 1, (int) Math.ceil(p / 100.0 * s.length) - 1)] / 1e6;
    }
}

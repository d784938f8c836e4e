package io.strata.lease;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.UUID;

/**
 * Latency of taking and releasing resource leases on a lockspace file (the default layout:
 * 64 hosts, 4096 areas, 512-byte sectors, as a shared datastore has), with DSYNC writes. Not
 * a test: run it by hand, see the module README.
 *
 * <pre>
 * java -cp ... io.strata.lease.LeaseBenchmark [directory] [iterations]
 * </pre>
 *
 * An uncontended acquire is three reads of an area (leader and 64 ballot blocks, 32.5 KiB)
 * and three one-sector writes (two ballot phases and the leader); a release is one write.
 */
public final class LeaseBenchmark {
    private LeaseBenchmark() {
    }

    /**
     * @param args the directory for the lockspace file (default: java.io.tmpdir) and the number
     *        of measured iterations (default 300)
     */
    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args.length > 0 ? args[0] : System.getProperty("java.io.tmpdir"));
        int iterations = args.length > 1 ? Integer.parseInt(args[1]) : 300;
        LockspaceLayout layout = LockspaceLayout.DEFAULT;
        long sectors = Lockspaces.sectorsNeeded(layout, 512);
        Path file = Files.createTempFile(dir, "strata-lease-bench-", ".lockspace");
        LeaseSettings settings = new LeaseSettings(Duration.ofMillis(500), Duration.ofSeconds(5), Duration.ofSeconds(1));
        try (SectorStore store = Lockspaces.pathStore(file, 512, sectors);
                SectorStore other = Lockspaces.pathStore(file, 512, sectors)) {
            Lockspaces.format(store, "bench", layout);
            long t = System.nanoTime();
            try (Lockspace ls = Lockspaces.join(store, new HostIdentity(UUID.randomUUID(), "bench-a"), settings,
                    LeaseClock.SYSTEM, null);
                    Lockspace peer = Lockspaces.join(other, new HostIdentity(UUID.randomUUID(), "bench-b"), settings,
                            LeaseClock.SYSTEM, null)) {
                long joined = System.nanoTime() - t;
                int warmup = Math.min(50, iterations);
                long[] acquire = new long[iterations];
                long[] release = new long[iterations];
                for (int i = -warmup; i < iterations; i++) {
                    int area = Math.floorMod(i, layout.areas());
                    long a = System.nanoTime();
                    ResourceLease l = ls.acquire(area, "bench-" + area, Duration.ZERO);
                    long b = System.nanoTime();
                    l.close();
                    long c = System.nanoTime();
                    if (i >= 0) {
                        acquire[i] = b - a;
                        release[i] = c - b;
                    }
                }
                // a lease handed over between the two hosts: release on one, acquire on the other
                long[] handover = new long[Math.min(iterations, 100)];
                ResourceLease held = ls.acquire(0, "handover", Duration.ZERO);
                for (int i = 0; i < handover.length; i++) {
                    Lockspace to = i % 2 == 0 ? peer : ls;
                    long a = System.nanoTime();
                    held.close();
                    held = to.acquire(0, "handover", Duration.ofSeconds(30));
                    handover[i] = System.nanoTime() - a;
                }
                held.close();
                long[] both = new long[iterations];
                for (int i = 0; i < iterations; i++) {
                    both[i] = acquire[i] + release[i];
                }
                System.out.printf("lease benchmark on %s (%d hosts, %d areas, 512-byte sectors, DSYNC), %d iterations%n",
                        dir, layout.maxHosts(), layout.areas(), iterations);
                System.out.printf("  join (slot claim wait included):  %8.1f ms%n", joined / 1e6);
                print("acquire", acquire);
                print("release", release);
                print("acquire + release", both);
                print("hand-over between 2 hosts", handover);
                System.out.printf("  throughput: %.0f acquire+release per second%n",
                        iterations / (Arrays.stream(both).sum() / 1e9));
            }
        } finally {
            Files.deleteIfExists(file);
        }
    }

    private static void print(String what, long[] ns) {
        long[] s = ns.clone();
        Arrays.sort(s);
        System.out.printf("  %-32s median %7.2f ms   p99 %7.2f ms   max %7.2f ms%n", what + ":",
                s[s.length / 2] / 1e6, s[(int) Math.min(s.length - 1, Math.ceil(s.length * 0.99) - 1)] / 1e6,
                s[s.length - 1] / 1e6);
    }
}

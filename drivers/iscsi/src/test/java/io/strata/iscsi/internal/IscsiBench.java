package io.strata.iscsi.internal;

import io.strata.testing.Tgt;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Not a test: 4k random read and write IOPS at queue depth 32 through one {@link IscsiPath}
 * (one session, one event loop) against a LUN of a private tgtd. Run with
 * {@code java -cp <test classpath> io.strata.iscsi.internal.IscsiBench [seconds]}.
 */
public final class IscsiBench {
    private static final int QD = 32;
    private static final int BS = 4096;

    private IscsiBench() {
    }

    public static void main(String[] args) throws Exception {
        Optional<String> why = Tgt.unavailableReason();
        if (why.isPresent()) {
            System.out.println("cannot run: " + why.get());
            return;
        }
        int seconds = args.length > 0 ? Integer.parseInt(args[0]) : 10;
        Path dir = Files.createTempDirectory("iscsi-bench");
        try (Tgt tgt = Tgt.start(dir)) {
            Tgt.Target t = tgt.addTarget(1, "iqn.2026-12.test:bench");
            tgt.addLun(t, 1, "bench", 1L << 30, false);
            try (Discovery d = new Discovery("bench", IscsiParams.parse("bench",
                    Map.of("portal", tgt.portal1())))) {
                IscsiPath path = d.refresh().get(0);
                for (boolean write : new boolean[] {false, true}) {
                    run(path, write, 2);
                    double iops = run(path, write, seconds);
                    System.out.printf("4k random %s QD%d, %d s: %.0f IOPS%n", write ? "write" : "read", QD,
                            seconds, iops);
                }
            }
        }
    }

    /** Keeps QD commands in flight on the path's session, as the multipath layer's callers would. */
    private static double run(IscsiPath path, boolean write, int seconds) throws Exception {
        long blocks = path.size() / BS;
        long end = System.nanoTime() + seconds * 1_000_000_000L;
        List<CompletableFuture<Long>> workers = new ArrayList<>();
        for (int i = 0; i < QD; i++) {
            workers.add(CompletableFuture.supplyAsync(() -> {
                ByteBuffer buf = ByteBuffer.allocateDirect(BS);
                long n = 0;
                while (System.nanoTime() < end) {
                    long off = ThreadLocalRandom.current().nextLong(blocks) * BS;
                    buf.clear();
                    if (write) {
                        path.write(buf, off);
                    } else {
                        path.read(buf, off);
                    }
                    n++;
                }
                return n;
            }, r -> {
                Thread th = new Thread(r);
                th.setDaemon(true);
                th.start();
            }));
        }
        long total = 0;
        for (CompletableFuture<Long> w : workers) {
            total += w.get();
        }
        return total / (double) seconds;
    }
}

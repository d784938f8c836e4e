package io.strata.iscsi.internal;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.strata.testing.Tgt;
import java.nio.file.Path;
import java.util.Optional;

/** A tgtd with one target ({@value #IQN}) and two LUNs: 1 thick (64 MiB), 2 thin (32 MiB). */
final class TgtFixture implements AutoCloseable {
    static final String IQN = "iqn.2026-12.test:strata";
    static final long THICK_SIZE = 64L << 20;
    static final long THIN_SIZE = 32L << 20;

    final Tgt tgt;
    final Tgt.Target target;

    private TgtFixture(Tgt tgt, Tgt.Target target) {
        this.tgt = tgt;
        this.target = target;
    }

    /** Starts it, or skips the test when tgt or libiscsi is missing or we are not root. */
    static TgtFixture start(Path dir) {
        Optional<String> why = Tgt.unavailableReason();
        assumeTrue(why.isEmpty(), () -> why.orElse(""));
        assumeTrue(LibIscsi.available(), "libiscsi.so.7 cannot be loaded");
        Tgt tgt = Tgt.start(dir);
        try {
            Tgt.Target t = tgt.addTarget(1, IQN);
            tgt.addLun(t, 1, "thick", THICK_SIZE, false);
            tgt.addLun(t, 2, "thin", THIN_SIZE, true);
            return new TgtFixture(tgt, t);
        } catch (RuntimeException e) {
            tgt.close();
            throw e;
        }
    }

    String portals() {
        return tgt.portal1() + "," + tgt.portal2();
    }

    @Override
    public void close() {
        tgt.close();
    }
}

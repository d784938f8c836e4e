package io.strata.iscsi.internal;

import java.time.Duration;
import org.osgi.framework.BundleActivator;
import org.osgi.framework.BundleContext;

/**
 * Releases libiscsi's JNA bindings when the bundle stops, after its components were deactivated
 * (which closes every session), so that no class of this revision stays loaded.
 */
public final class IscsiActivator implements BundleActivator {
    /** How long a stop waits for sessions still running (each close waits up to 5 s for its loop). */
    static final Duration LOOPS_WAIT = Duration.ofSeconds(10);

    @Override
    public void start(BundleContext context) {
        LibIscsi.bind();
    }

    @Override
    public void stop(BundleContext context) {
        LibIscsi.release(LOOPS_WAIT);
    }
}

package io.strata.posix;

import java.time.Duration;
import org.osgi.framework.BundleActivator;
import org.osgi.framework.BundleContext;

/**
 * The activator of every bundle that embeds this package ({@code Bundle-Activator} in its
 * {@code bnd.bnd}): when the bundle stops, after its components were deactivated, the package's
 * JNA bindings are released so that an update or uninstall leaves no class of the old revision
 * loaded (see {@link NativeBindings}).
 */
public final class PosixActivator implements BundleActivator {
    /** How long a stop waits for a native call still in progress before it keeps the bindings. */
    static final Duration CALLS_IN_PROGRESS_WAIT = Duration.ofSeconds(10);

    @Override
    public void start(BundleContext context) {
        NativeBindings.bind();
    }

    @Override
    public void stop(BundleContext context) {
        NativeBindings.release(CALLS_IN_PROGRESS_WAIT);
    }
}

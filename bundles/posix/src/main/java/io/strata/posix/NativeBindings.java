package io.strata.posix;

import com.sun.jna.Native;
import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import java.time.Duration;

/**
 * This copy of the package's JNA bindings, and their release when the bundle that embeds the
 * package stops ({@link PosixActivator}).
 *
 * <p>Left bound, JNA keeps the bundle's class loader, and every class it loaded, after the bundle
 * is updated or uninstalled: about 160 KiB of metaspace per update of the dir filesystem bundle,
 * measured in Karaf (see {@link JnaRelease}). Unregistering {@link FastIo} while a thread is
 * inside one of its calls would free what that call still uses, so its calls pass a
 * {@link JnaRelease.Gate}, which {@link #release} closes and waits to drain. A call after the
 * release is refused with {@code DEVICE_UNAVAILABLE}, as for a device that went away.
 */
final class NativeBindings {
    private NativeBindings() {
    }

    /** The data-path calls of {@link FastIo} in progress. */
    static final JnaRelease.Gate CALLS = new JnaRelease.Gate(() -> new StorageException(ErrorCode.DEVICE_UNAVAILABLE,
            "the bundle that served this file was stopped; open the volume again"));

    /** Set by {@link FastIo}'s initializer: whether its methods are registered. */
    static volatile boolean fastIoRegistered;

    /**
     * Refuses new data-path calls, waits for those in progress, unregisters {@link FastIo} and
     * removes this bundle's classes from JNA's static maps.
     *
     * @param wait how long to wait for calls in progress (a call stuck in the kernel)
     * @return true when everything was released; false when a call was still in progress after
     *         {@code wait}, or JNA's maps could not be reached: the bindings then stay as they are
     *         and only the class loader is kept
     */
    static synchronized boolean release(Duration wait) {
        if (!CALLS.close(wait)) {
            return false;
        }
        if (fastIoRegistered) {
            Native.unregister(FastIo.class);
            fastIoRegistered = false;
        }
        return JnaRelease.forget(NativeBindings.class.getClassLoader());
    }

    /** Opens the gate again after {@link #release}: the bundle was started again, with the same classes. */
    static synchronized void bind() {
        if (CALLS.isClosed()) {
            if (!fastIoRegistered) {
                FastIo.register();
            }
            CALLS.open();
        }
    }
}

package io.strata.posix;

import com.sun.jna.Native;
import com.sun.jna.Structure;
import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import java.lang.reflect.Field;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * This copy of the package's JNA bindings, and their release when the bundle that embeds the
 * package stops.
 *
 * <p>JNA keeps every class it binds in static maps of its own: the options of each interface or
 * directly mapped class and the layout of each {@code Structure}, in maps whose values name the
 * class again, and the native side of each direct mapping until {@code Native.unregister}. So a
 * bundle that used JNA keeps its class loader, and every class it loaded, after it is updated
 * or uninstalled: about 160 KiB of metaspace per update of the dir filesystem bundle, measured in
 * Karaf. {@link #release} gives all of that back.
 *
 * <p>Unregistering a direct mapping while a thread is inside one of its calls would free what
 * that call still uses, so the data-path calls of {@link FastIo} pass a gate: a counter of calls
 * in progress, which {@link #release} closes and waits to drain. A call after the release is
 * refused with {@code DEVICE_UNAVAILABLE}, as for a device that went away.
 */
final class NativeBindings {
    private NativeBindings() {
    }

    /** Added to {@link #CALLS} to close the gate: the count stays negative however many calls enter. */
    private static final long CLOSED = Long.MIN_VALUE / 2;

    /** Calls in progress through the gate, plus {@link #CLOSED} once released. */
    private static final AtomicLong CALLS = new AtomicLong();

    /** Set by {@link FastIo}'s initializer: whether its methods are registered. */
    static volatile boolean fastIoRegistered;

    /** Passes a data-path call through the gate; the caller must call {@link #exit} after it. */
    static void enter() {
        if (CALLS.incrementAndGet() < 0) {
            CALLS.decrementAndGet();
            throw new StorageException(ErrorCode.DEVICE_UNAVAILABLE,
                    "the bundle that served this file was stopped; open the volume again");
        }
    }

    /** Ends a call that {@link #enter} let in. */
    static void exit() {
        CALLS.decrementAndGet();
    }

    /**
     * Refuses new data-path calls, waits for those in progress, unregisters {@link FastIo} and
     * removes this package's and its bundle's classes from JNA's static maps.
     *
     * @param wait how long to wait for calls in progress (a call stuck in the kernel)
     * @return true when everything was released; false when a call was still in progress after
     *         {@code wait}, or JNA's maps could not be reached: the bindings then stay as they are
     *         and only the class loader is kept
     */
    static synchronized boolean release(Duration wait) {
        if (CALLS.get() >= 0) {
            CALLS.addAndGet(CLOSED);
        }
        long deadline = System.nanoTime() + wait.toNanos();
        while (CALLS.get() != CLOSED) {
            if (System.nanoTime() - deadline > 0) {
                return false;
            }
            try {
                TimeUnit.MILLISECONDS.sleep(1);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        }
        if (fastIoRegistered) {
            Native.unregister(FastIo.class);
            fastIoRegistered = false;
        }
        ClassLoader ours = NativeBindings.class.getClassLoader();
        return forget(Native.class, "typeOptions", ours) & forget(Structure.class, "layoutInfo", ours);
    }

    /** Opens the gate again after {@link #release}: the bundle was started again, with the same classes. */
    static synchronized void bind() {
        if (CALLS.get() < 0) {
            if (!fastIoRegistered) {
                FastIo.register();
            }
            CALLS.addAndGet(-CLOSED);
        }
    }

    /** Removes from one of JNA's static class-keyed maps every class the loader defined. */
    private static boolean forget(Class<?> owner, String field, ClassLoader loader) {
        Map<?, ?> map;
        try {
            Field f = owner.getDeclaredField(field);
            f.setAccessible(true);
            map = (Map<?, ?>) f.get(null);
        } catch (ReflectiveOperationException | RuntimeException e) {
            return false; // another JNA version: the loader stays, nothing else changes
        }
        synchronized (map) { // JNA's maps are synchronized maps: iteration holds their lock
            map.keySet().removeIf(k -> k instanceof Class<?> c && c.getClassLoader() == loader);
        }
        return true;
    }
}

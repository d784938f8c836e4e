package io.strata.posix;

import java.lang.reflect.Field;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.function.Supplier;

/**
 * What a bundle that binds native code through JNA needs to leave nothing loaded when it stops.
 *
 * <p>JNA remembers the classes it binds in static maps of its own: the options of each
 * interface or directly mapped class ({@code Native.typeOptions}, whose values name the class
 * again, so their weak keys never clear), the layout of each {@code Structure}, and the native
 * side of each callback object ({@code CallbackReference}'s maps) and of each direct mapping
 * (until {@code Native.unregister}). A bundle's class loader, and every class it loaded, stays
 * for as long as any of those does.
 *
 * <p>Freeing a direct mapping or a callback while native code may still be inside it frees what
 * that code uses, so each bundle passes its native work through a {@link Gate} and releases
 * only once the gate has drained.
 */
public final class JnaRelease {
    private JnaRelease() {
    }

    /**
     * A count of native work in progress (calls, or whole event loops), which can be closed to
     * new work and waited on to drain.
     *
     * <p>The count is striped by thread, each stripe on a cache line of its own: data-path
     * calls from several threads would otherwise take turns on one line, which cost 3.5% of a
     * 4 KiB page-cache read with two threads reading (one counter, measured on 2 cores). Work
     * enters and exits on the same stripe (the ticket {@link #enter} returns). A closer sets the
     * flag and then reads the stripes; an entrant adds to its stripe and then reads the flag.
     * All of those are volatile, so either the entrant sees the flag and backs out, or the closer
     * sees it counted: a sum of zero means nothing is inside.
     */
    public static final class Gate {
        private static final int STRIPES = 16;
        /** Longs between two stripes: 128 bytes, two cache lines (adjacent-line prefetch). */
        private static final int SPACING = 16;

        private final AtomicLongArray counts = new AtomicLongArray(STRIPES * SPACING);
        private final Supplier<RuntimeException> refusal;
        private volatile boolean closed;

        /** @param refusal the error for work that arrives after {@link #close} */
        public Gate(Supplier<RuntimeException> refusal) {
            this.refusal = refusal;
        }

        /**
         * Lets work in; the caller must pass the ticket to {@link #exit} once it is over.
         *
         * @return the ticket
         */
        public int enter() {
            long h = Thread.currentThread().getId() * 0x9E3779B97F4A7C15L;
            int ticket = (int) (h >>> 60) * SPACING;
            counts.incrementAndGet(ticket);
            if (closed) {
                counts.decrementAndGet(ticket);
                throw refusal.get();
            }
            return ticket;
        }

        /** Ends work that {@link #enter} let in, on any thread. */
        public void exit(int ticket) {
            counts.decrementAndGet(ticket);
        }

        /**
         * Refuses new work and waits for the work in progress.
         *
         * @return true once nothing is in progress; false when work still was after {@code wait}
         *         (the gate stays closed)
         */
        public boolean close(Duration wait) {
            closed = true;
            long deadline = System.nanoTime() + wait.toNanos();
            while (inside() != 0) {
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
            return true;
        }

        private long inside() {
            long sum = 0;
            for (int i = 0; i < STRIPES; i++) {
                sum += counts.get(i * SPACING);
            }
            return sum;
        }

        /** Lets work in again after {@link #close}. */
        public void open() {
            closed = false;
        }

        /** @return whether {@link #close} was called and {@link #open} not since */
        public boolean isClosed() {
            return closed;
        }
    }

    /**
     * Removes every class, and every callback object, of a class loader from JNA's static maps.
     * Call it only when nothing of that loader is inside native code, and after unregistering
     * its direct mappings.
     *
     * @return false when some map could not be reached (another JNA version): what it holds
     *         then stays, and with it the loader
     */
    public static boolean forget(ClassLoader loader) {
        boolean all = true;
        all &= forget("com.sun.jna.Native", "typeOptions", loader);
        all &= forget("com.sun.jna.Structure", "layoutInfo", loader);
        all &= forget("com.sun.jna.CallbackReference", "callbackMap", loader);
        all &= forget("com.sun.jna.CallbackReference", "directCallbackMap", loader);
        all &= forget("com.sun.jna.CallbackReference", "initializers", loader);
        return all;
    }

    private static boolean forget(String owner, String field, ClassLoader loader) {
        Map<?, ?> map;
        try {
            Field f = Class.forName(owner, false, com.sun.jna.Native.class.getClassLoader()).getDeclaredField(field);
            f.setAccessible(true);
            map = (Map<?, ?>) f.get(null);
        } catch (ReflectiveOperationException | RuntimeException e) {
            return false;
        }
        synchronized (map) { // JNA's maps are synchronized maps: iterating holds their lock
            map.keySet().removeIf(k -> k != null && (k instanceof Class<?> c ? c : k.getClass()).getClassLoader() == loader);
        }
        return true;
    }
}

package io.strata.posix;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.jna.Memory;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Platform;
import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.testing.RevisionLoader;
import java.lang.ref.WeakReference;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.osgi.framework.BundleContext;

/**
 * A bundle that embeds this package and stops must leave no class loaded: each test loads the
 * package in a class loader of its own, as a bundle revision does, uses every kind of JNA binding
 * it has (the {@code LibC} interface, a {@code Structure}, {@code FastIo}'s direct mapping, the
 * per-thread buffers) on the test's own long-lived thread, and stops it through
 * {@link PosixActivator}.
 */
class NativeBindingsTest {
    @TempDir
    Path dir;

    /** The package as a bundle revision has it: its own classes, JNA and the API from the test's loader. */
    static final class Revision extends RevisionLoader {
        Revision() {
            super(Posix.class.getProtectionDomain().getCodeSource().getLocation(), "io.strata.posix.",
                    NativeBindingsTest.class.getClassLoader());
        }

        /** Calls a static method of the revision's {@code Posix}. */
        Object posix(String method, Class<?>[] types, Object... args) throws Exception {
            return invoke(null, "io.strata.posix.Posix", method, types, args);
        }

        int open(Path file) throws Exception {
            return (int) posix("open", new Class<?>[] {Path.class, boolean.class, boolean.class}, file, true, false);
        }

        void close(int fd) throws Exception {
            posix("close", new Class<?>[] {int.class}, fd);
        }

        /** One vectored transfer of one direct buffer, through the revision's {@code FastIo}. */
        long transfer(int fd, ByteBuffer buf, long position, boolean write, Path file) throws Exception {
            return (long) posix("transferAll", new Class<?>[] {int.class, ByteBuffer[].class, long.class, boolean.class,
                Path.class}, fd, new ByteBuffer[] {buf}, position, write, file);
        }

        void start() throws Exception {
            activator("start");
        }

        void stop() throws Exception {
            activator("stop");
        }

        private void activator(String method) throws Exception {
            Class<?> a = loadClass("io.strata.posix.PosixActivator");
            invoke(a.getConstructor().newInstance(), a.getName(), method, new Class<?>[] {BundleContext.class},
                    (Object) null);
        }
    }

    /**
     * JNA starts its cleaner thread on first use, and a new thread keeps the access-control
     * context of the code that created it, class loaders included. In Karaf some bundle is first;
     * here it must not be a revision under test.
     */
    @BeforeAll
    static void startJnaHere() {
        new Memory(8).close();
        NativeLibrary.getInstance(Platform.C_LIBRARY_NAME);
    }

    /** Writes through the revision's vectored calls and reads back, locks and stats the file. */
    void use(Revision r, Path file, long seed) throws Exception {
        byte[] data = new byte[64 << 10];
        new Random(seed).nextBytes(data);
        int fd = r.open(file);
        try {
            ByteBuffer out = ByteBuffer.allocateDirect(data.length).put(data).flip();
            assertEquals(data.length, r.transfer(fd, out, 4096L, true, file));
            ByteBuffer in = ByteBuffer.allocateDirect(data.length);
            assertEquals(data.length, r.transfer(fd, in, 4096L, false, file));
            byte[] back = new byte[data.length];
            in.flip().get(back);
            assertArrayEquals(data, back);
            assertTrue((boolean) r.posix("lock", new Class<?>[] {int.class, boolean.class, Path.class}, fd, true, file));
            r.posix("unlock", new Class<?>[] {int.class, Path.class}, fd, file);
            assertTrue((long) r.posix("allocatedBytes", new Class<?>[] {int.class}, fd) > 0);
        } finally {
            r.close(fd);
        }
    }

    static StorageException refusedWrite(Revision r, Path file) throws Exception {
        int fd = r.open(file);
        try {
            return assertThrows(StorageException.class, () -> r.transfer(fd, ByteBuffer.allocateDirect(512), 0L, true, file));
        } finally {
            r.close(fd);
        }
    }

    static boolean release(Revision r, Duration wait) throws Exception {
        return (boolean) r.invoke(null, "io.strata.posix.NativeBindings", "release", new Class<?>[] {Duration.class}, wait);
    }

    /** The revision's gate of data-path calls. */
    static Object gate(Revision r) throws Exception {
        java.lang.reflect.Field f = r.loadClass("io.strata.posix.NativeBindings").getDeclaredField("CALLS");
        f.setAccessible(true);
        return f.get(null);
    }

    static boolean collected(WeakReference<?> ref) throws InterruptedException {
        return RevisionLoader.collected(ref, 50);
    }

    @Test
    void aStoppedRevisionRefusesNativeIoAndLeavesNoClassLoaded() throws Exception {
        Path file = Files.write(dir.resolve("f"), new byte[0]);
        Revision r = new Revision();
        r.start();
        use(r, file, 1);
        r.stop();
        StorageException e = refusedWrite(r, file);
        assertEquals(ErrorCode.DEVICE_UNAVAILABLE, e.code(), e.getMessage());
        assertTrue(e.getMessage().contains("stopped"), e.getMessage());
        e = null; // an exception's stack trace holds the classes it passed through
        WeakReference<ClassLoader> ref = new WeakReference<>(r);
        r = null;
        assertTrue(collected(ref), "the stopped revision's class loader is still reachable");
    }

    /**
     * The control for the test above: without the release, JNA keeps the revision. If a JNA
     * version stops doing so, this fails, and {@link NativeBindings} may no longer be needed.
     */
    @Test
    void withoutTheReleaseJnaKeepsTheRevision() throws Exception {
        Path file = Files.write(dir.resolve("f"), new byte[0]);
        Revision r = new Revision();
        use(r, file, 2);
        WeakReference<ClassLoader> ref = new WeakReference<>(r);
        r = null;
        assertFalse(RevisionLoader.collected(ref, 10), "JNA let go of a revision that was never released");
    }

    @Test
    void aRevisionStartedAgainAfterAStopDoesIoAgain() throws Exception {
        Path file = Files.write(dir.resolve("f"), new byte[0]);
        Revision r = new Revision();
        r.start();
        use(r, file, 3);
        r.stop();
        refusedWrite(r, file);
        r.start();
        use(r, file, 4);
        r.stop();
        WeakReference<ClassLoader> ref = new WeakReference<>(r);
        r = null;
        assertTrue(collected(ref), "the revision stopped a second time is still reachable");
    }

    @Test
    void aStopWaitsForACallInProgressAndKeepsTheBindingsWhileItLasts() throws Exception {
        Path file = Files.write(dir.resolve("f"), new byte[0]);
        Revision r = new Revision();
        r.start();
        use(r, file, 5);
        Object calls = gate(r);
        int ticket = (int) calls.getClass().getMethod("enter").invoke(calls); // a call in progress, as in the kernel
        assertFalse((boolean) release(r, Duration.ofMillis(200)));
        assertEquals(ErrorCode.DEVICE_UNAVAILABLE, refusedWrite(r, file).code(), "the gate closes at once");
        java.lang.reflect.Field registered = r.loadClass("io.strata.posix.NativeBindings").getDeclaredField("fastIoRegistered");
        registered.setAccessible(true);
        assertTrue(registered.getBoolean(null), "the direct mapping stays bound while a call may be inside it");
        registered = null; // a reflected field holds its class
        calls.getClass().getMethod("exit", int.class).invoke(calls, ticket);
        calls = null;
        assertTrue((boolean) release(r, Duration.ofSeconds(10)));
        WeakReference<ClassLoader> ref = new WeakReference<>(r);
        r = null;
        assertTrue(collected(ref), "the revision released once its last call ended is still reachable");
    }

    @Test
    void theReleaseLeavesOtherRevisionsWorking() throws Exception {
        Path file = Files.write(dir.resolve("f"), new byte[0]);
        Revision a = new Revision();
        Revision b = new Revision();
        a.start();
        b.start();
        use(a, file, 6);
        use(b, file, 7);
        a.stop();
        refusedWrite(a, file);
        use(b, file, 8);
        // and the package as the test's own loader has it, which no activator manages
        int fd = Posix.open(file, true, false);
        try {
            ByteBuffer out = ByteBuffer.allocateDirect(4096).put(new byte[4096]).flip();
            assertEquals(4096, Posix.transferAll(fd, new ByteBuffer[] {out}, 0, true, file));
        } finally {
            Posix.close(fd);
        }
        b.stop();
        refusedWrite(b, file);
    }
}

package io.strata.iscsi.internal;

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
import java.lang.reflect.Constructor;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The driver's classes, loaded by a class loader of their own as a bundle revision's are, log in
 * to a real tgtd, read through every path and close; stopped through {@link IscsiActivator},
 * nothing of them stays loaded: not libiscsi's direct mapping, not the sessions' JNA callbacks.
 */
class NativeReleaseTest {
    @TempDir
    Path tmp;
    TgtFixture tgt;

    /** The driver's package as a bundle revision has it: JNA, the API and the posix helpers from the test's loader. */
    static final class Revision extends RevisionLoader {
        Revision() {
            super(Session.class.getProtectionDomain().getCodeSource().getLocation(), "io.strata.iscsi.",
                    NativeReleaseTest.class.getClassLoader());
        }

        /** Discovery over the fixture's portals; returns the Discovery, its paths logged in. */
        Object discover(String portals) throws Exception {
            Class<?> params = loadClass("io.strata.iscsi.internal.IscsiParams");
            Object p = invoke(null, params.getName(), "parse", new Class<?>[] {String.class, Map.class}, "r",
                    Map.of("portal", portals, "timeout", "5"));
            Constructor<?> c = loadClass("io.strata.iscsi.internal.Discovery").getDeclaredConstructor(String.class, params);
            c.setAccessible(true);
            return c.newInstance("r", p);
        }

        List<?> refresh(Object discovery) throws Exception {
            return (List<?>) invoke(discovery, "io.strata.iscsi.internal.Discovery", "refresh", new Class<?>[0]);
        }

        void read(Object path) throws Exception {
            invoke(path, "io.strata.iscsi.internal.IscsiPath", "read", new Class<?>[] {ByteBuffer.class, long.class},
                    ByteBuffer.allocateDirect(4096), 0L);
        }

        void close(Object discovery) throws Exception {
            invoke(discovery, "io.strata.iscsi.internal.Discovery", "close", new Class<?>[0]);
        }

        /** Logs in, reads 4 KiB through every path, closes everything. */
        void use(String portals) throws Exception {
            Object d = discover(portals);
            try {
                List<?> paths = refresh(d);
                assertFalse(paths.isEmpty());
                for (Object p : paths) {
                    read(p);
                }
            } finally {
                close(d);
            }
        }

        void start() throws Exception {
            invoke(loadClass("io.strata.iscsi.internal.IscsiActivator").getConstructor().newInstance(),
                    "io.strata.iscsi.internal.IscsiActivator", "start",
                    new Class<?>[] {org.osgi.framework.BundleContext.class}, (Object) null);
        }

        void stop() throws Exception {
            invoke(loadClass("io.strata.iscsi.internal.IscsiActivator").getConstructor().newInstance(),
                    "io.strata.iscsi.internal.IscsiActivator", "stop",
                    new Class<?>[] {org.osgi.framework.BundleContext.class}, (Object) null);
        }

        boolean release(Duration wait) throws Exception {
            return (boolean) invoke(null, "io.strata.iscsi.internal.LibIscsi", "release",
                    new Class<?>[] {Duration.class}, wait);
        }
    }

    /** JNA's cleaner thread keeps the access-control context of its creator: it must not be a revision. */
    @BeforeAll
    static void startJnaHere() {
        new Memory(8).close();
        NativeLibrary.getInstance(Platform.C_LIBRARY_NAME);
    }

    @BeforeEach
    void start() {
        tgt = TgtFixture.start(tmp);
    }

    @AfterEach
    void stop() {
        if (tgt != null) {
            tgt.close();
        }
    }

    @Test
    void aStoppedRevisionRefusesNewSessionsAndLeavesNoClassLoaded() throws Exception {
        Revision r = new Revision();
        r.start();
        r.use(tgt.portals());
        r.stop();
        assertNewSessionsRefused(r, tgt.portals());
        WeakReference<ClassLoader> ref = new WeakReference<>(r);
        r = null;
        assertTrue(RevisionLoader.collected(ref, 50), "the stopped revision's class loader is still reachable");
    }

    /** In a frame of its own: an exception's stack trace holds the classes it passed through. */
    static void assertNewSessionsRefused(Revision r, String portals) throws Exception {
        Object d = r.discover(portals);
        try {
            StorageException e = assertThrows(StorageException.class, () -> r.refresh(d));
            assertEquals(ErrorCode.DEVICE_UNAVAILABLE, e.code(), e.getMessage());
            assertTrue(e.getMessage().contains("stopped"), e.getMessage());
        } finally {
            r.close(d);
        }
    }

    /** The control: without the stop, JNA keeps the revision (if a JNA version stops, this says so). */
    @Test
    void withoutTheStopJnaKeepsTheRevision() throws Exception {
        Revision r = new Revision();
        r.use(tgt.portals());
        WeakReference<ClassLoader> ref = new WeakReference<>(r);
        r = null;
        assertFalse(RevisionLoader.collected(ref, 10), "JNA let go of a revision that was never released");
    }

    @Test
    void aStopWaitsForOpenSessionsAndKeepsTheBindingsWhileTheyRun() throws Exception {
        Revision r = new Revision();
        r.start();
        Object d = r.discover(tgt.portals());
        List<?> paths = r.refresh(d);
        assertFalse(r.release(Duration.ofMillis(300)), "released under running sessions");
        for (Object p : paths) {
            r.read(p); // the sessions still work: nothing was unregistered under them
        }
        paths = null;
        r.close(d);
        d = null;
        assertTrue(r.release(Duration.ofSeconds(10)));
        WeakReference<ClassLoader> ref = new WeakReference<>(r);
        r = null;
        assertTrue(RevisionLoader.collected(ref, 50), "the revision released after its sessions closed is still reachable");
    }

    @Test
    void aRevisionStartedAgainAfterAStopLogsInAgain() throws Exception {
        Revision r = new Revision();
        r.start();
        r.use(tgt.portals());
        r.stop();
        r.start();
        r.use(tgt.portals());
        r.stop();
        WeakReference<ClassLoader> ref = new WeakReference<>(r);
        r = null;
        assertTrue(RevisionLoader.collected(ref, 50), "the revision stopped a second time is still reachable");
    }
}

package io.strata.iscsi.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** A session's wake-up descriptor is never written to once closed, whatever thread wakes it. */
class WakeFdTest {
    @BeforeAll
    static void libiscsi() {
        assumeTrue(LibIscsi.available(), "libiscsi is not installed");
    }

    /** @return the eventfd's counter, read without blocking, or -1 when it is zero */
    static long counter(WakeFd w) {
        Memory m = new Memory(8);
        long n = LibIscsi.C.read(w.fd(), Pointer.nativeValue(m), 8);
        return n == 8 ? m.getLong(0) : -1;
    }

    @Test
    void wakeUpsAddUpAndADrainResetsThem() {
        WakeFd w = new WakeFd("test");
        try {
            assertEquals(-1, counter(w));
            w.wake();
            w.wake();
            assertEquals(2, counter(w));
            w.wake();
            w.drain();
            assertEquals(-1, counter(w));
        } finally {
            w.close();
        }
    }

    @Test
    void aCloseWaitsForAWakeUpThatIsAboutToWrite() throws Exception {
        WakeFd w = new WakeFd("test");
        CountDownLatch inWrite = new CountDownLatch(1);
        CountDownLatch letGo = new CountDownLatch(1);
        w.beforeWrite = () -> {
            inWrite.countDown();
            try {
                letGo.await(30, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        };
        Thread waker = new Thread(w::wake, "waker");
        waker.start();
        assertTrue(inWrite.await(30, TimeUnit.SECONDS));
        Thread closer = new Thread(w::close, "closer");
        closer.start();
        closer.join(300);
        assertTrue(closer.isAlive(), "the descriptor was closed under a wake-up about to write to it");
        letGo.countDown();
        waker.join(30_000);
        closer.join(30_000);
        assertFalse(closer.isAlive());
        assertFalse(waker.isAlive());
    }

    @Test
    void aWakeUpAfterTheCloseWritesNothingToTheNextFileGivenItsNumber() throws IOException {
        WakeFd w = new WakeFd("test");
        int number = w.fd();
        w.close();
        // the lowest free number goes to the next open: most likely the one just freed
        Path f = Files.createTempFile("wakefd", ".img");
        try (var ch = java.nio.channels.FileChannel.open(f, java.nio.file.StandardOpenOption.WRITE)) {
            assumeTrue(Files.readSymbolicLink(Path.of("/proc/self/fd/" + number)).equals(f),
                    "another thread took the freed number first");
            w.wake();
            w.close();
            assertEquals(0, Files.size(f), "a wake-up after the close wrote into another file");
        } finally {
            Files.delete(f);
        }
    }
}

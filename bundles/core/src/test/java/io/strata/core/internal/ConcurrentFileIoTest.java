package io.strata.core.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.api.format.Provisioning;
import io.strata.api.format.VirtualDisk;
import io.strata.api.service.VolumeRef;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A volume whose format blocks, on a file whose I/O waits on a round trip (a VHD on VIMS on
 * an iSCSI LUN): the handle says concurrentIo, and readAsync/writeAsync return at once with
 * the blocking calls running side by side on the volume I/O threads, so an NBD client's
 * requests are not served one after the other.
 */
class ConcurrentFileIoTest {
    @TempDir
    Path tmp;
    Fixture f;

    @BeforeEach
    void setUp() {
        f = Fixture.withDatastore(tmp);
    }

    @AfterEach
    void tearDown() {
        TestDatastore.TestFile.concurrent = false;
        CountDownLatch g = TestDatastore.TestFile.readGate;
        TestDatastore.TestFile.readGate = null;
        if (g != null) {
            g.countDown();
        }
        f.close();
    }

    @Test
    void requestsOnARoundTripFileRunSideBySide() throws Exception {
        VolumeRef v = VolumeRef.parse("ds1/v");
        f.core.create(v, 1L << 20, "tst", Provisioning.THIN);
        byte[] data = new byte[4096];
        for (int i = 0; i < data.length; i++) {
            data[i] = (byte) (i * 7);
        }
        try (VirtualDisk d = f.core.open(v, false)) {
            assertFalse(d.concurrentIo(), "a file on local storage is served in order");
            d.write(ByteBuffer.wrap(data), 8192);
        }
        TestDatastore.TestFile.concurrent = true;
        CountDownLatch gate = new CountDownLatch(1);
        try (VirtualDisk d = f.core.open(v, false)) {
            assertTrue(d.concurrentIo());
            TestDatastore.TestFile.readGate = gate;
            ByteBuffer a = ByteBuffer.allocate(4096);
            ByteBuffer b = ByteBuffer.allocate(4096);
            CompletableFuture<Void> ra = d.readAsync(a, 8192); // returns while the file read waits
            CompletableFuture<Void> rb = d.readAsync(b, 8192);
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (TestDatastore.TestFile.reading.get() < 2 && System.nanoTime() < end) {
                Thread.sleep(10);
            }
            assertEquals(2, TestDatastore.TestFile.reading.get(), "both reads are under way at once");
            assertFalse(ra.isDone());
            TestDatastore.TestFile.readGate = null;
            gate.countDown();
            ra.get(30, TimeUnit.SECONDS);
            rb.get(30, TimeUnit.SECONDS);
            assertArrayEquals(data, a.array());
            assertArrayEquals(data, b.array());
            // a write the same way, then read back in order
            byte[] more = data.clone();
            more[0] = 42;
            d.writeAsync(ByteBuffer.wrap(more), 0).get(30, TimeUnit.SECONDS);
            ByteBuffer c = ByteBuffer.allocate(4096);
            d.read(c, 0);
            assertArrayEquals(more, c.array());
        }
        // every gate taken for the async I/O was given back: the volume can be deleted
        f.core.delete(v);
    }
}

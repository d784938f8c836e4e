package io.strata.core.internal;

import static io.strata.core.internal.Assertions2.fails;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.api.ErrorCode;
import io.strata.api.format.Provisioning;
import io.strata.api.format.VirtualDisk;
import io.strata.api.service.QosLimits;
import io.strata.api.service.VolumeRef;
import io.strata.api.service.VolumeStats;
import io.strata.fs.dir.internal.DirFilesystem;
import io.strata.local.internal.LocalDriver;
import io.strata.vhd.internal.VhdFormat;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Per-volume accounting and QoS through the core's volume handles, on a clock the test
 * drives: a request's wait for tokens moves the clock instead of sleeping, so rates are
 * checked exactly and quickly. The fio test against a real export is NbdQosIT.
 */
class VolumeIoTest {
    @TempDir
    Path tmp;
    final MemoryConfigStore store = new MemoryConfigStore();
    final FakeTicker ticker = new FakeTicker();
    StrataCore core;
    VolumeIoServiceImpl io;
    static final VolumeRef V = VolumeRef.parse("local/q");
    static final VolumeRef FREE = VolumeRef.parse("local/free");

    /** Starts at 1000 s; advances only when told to or when a request waits. */
    static final class FakeTicker implements Ticker {
        final AtomicLong now = new AtomicLong(1000L * 1_000_000_000L);
        final AtomicLong slept = new AtomicLong();

        @Override
        public long nanoTime() {
            return now.get();
        }

        @Override
        public void sleepNanos(long nanos) {
            slept.addAndGet(nanos);
            now.addAndGet(nanos);
        }

        void advance(long nanos) {
            now.addAndGet(nanos);
        }
    }

    @BeforeEach
    void start() {
        core = new StrataCore(store, new CoreSettings(true, "local", tmp.resolve("datastores/local"),
                tmp.resolve("strata")), ticker, false);
        core.addFormat(new VhdFormat(), "vhd", "io.strata.format-vhd");
        core.addDriver(new LocalDriver(), "local", "io.strata.driver-local");
        core.addFilesystem(new DirFilesystem(), "dir", "io.strata.fs-dir");
        io = new VolumeIoServiceImpl(core);
    }

    @AfterEach
    void stop() {
        core.close();
    }

    /**
     * A window (how NBD receives a large write in place) holds the volume's gate until it is
     * closed, so a snapshot taken meanwhile waits for the bytes and keeps them; it counts as one
     * write of the bytes put; and a volume QoS limits is offered none (its wait for tokens would
     * happen under the gate).
     */
    @Test
    void aWindowIsOneWriteUnderTheGateAndQosLimitedVolumesGetNone() throws Exception {
        core.create(V, 64L << 20, "vhd", Provisioning.THIN);
        byte[] data = new byte[1 << 20];
        new java.util.Random(4).nextBytes(data);
        java.util.concurrent.ExecutorService other = java.util.concurrent.Executors.newSingleThreadExecutor();
        try (VirtualDisk d = core.open(V, false)) {
            d.write(ByteBuffer.wrap(new byte[4 << 20]), 0); // allocated: a window is offered
            io.setQos(V, new QosLimits(100, 0, 0, 0, 0.1));
            assertEquals(java.util.Optional.empty(), d.window(4096, 4096), "limited: none");
            io.setQos(V, QosLimits.NONE);
            long writes = io.stats(V).write().ops();
            java.util.concurrent.Future<?> snapshot;
            try (io.strata.api.fs.FileWindow w = d.window(4096, data.length).orElseThrow()) {
                snapshot = other.submit(() -> core.snapshotCreate(V, "s1"));
                Thread.sleep(300);
                assertTrue(!snapshot.isDone(), "the snapshot did not wait for the window");
                w.buffer().put(data);
            }
            snapshot.get(30, java.util.concurrent.TimeUnit.SECONDS);
            VolumeStats st = io.stats(V);
            assertEquals(writes + 1, st.write().ops());
            assertEquals(4L * (1 << 20) + data.length, st.write().bytes());
            ByteBuffer back = ByteBuffer.allocate(data.length);
            d.read(back, 4096);
            assertArrayEquals(data, back.array());
        } finally {
            other.shutdownNow();
        }
        // the snapshot holds the bytes put before it was taken
        VolumeRef clone = VolumeRef.parse("local/c");
        core.clone(V, "s1", clone, false, null, null);
        try (VirtualDisk c = core.open(clone, true)) {
            ByteBuffer back = ByteBuffer.allocate(data.length);
            c.read(back, 4096);
            assertArrayEquals(data, back.array());
        }
    }

    @Test
    void aTokenBucketPassesItsRateAfterItsBurst() {
        TokenBucket b = new TokenBucket(100, 0.1, 0);
        long t = 0;
        for (int i = 0; i < 1010; i++) {
            t += b.take(1, t); // wait what the bucket says, then go
        }
        // 10 tokens of burst, then 1000 at 100/s: 10 seconds
        assertEquals(10.0, t / 1e9, 0.02);
        TokenBucket bytes = new TokenBucket(1 << 20, 0.1, 0);
        assertEquals(0, bytes.take(100_000, 0));
        long wait = bytes.take(4 << 20, 0); // larger than the bucket: it passes after paying the debt
        assertEquals(4.0 - (0.1 - 100_000.0 / (1 << 20)), wait / 1e9, 0.001);
    }

    @Test
    void limitsAreEnforcedForEveryHandleAndSurviveARestart() {
        core.create(V, 64L << 20, "vhd", Provisioning.THIN);
        core.create(FREE, 64L << 20, "vhd", Provisioning.THIN);
        io.setQos(V, new QosLimits(200, 0, 50, 0, 0.1));
        ByteBuffer b = ByteBuffer.allocate(4096);
        long t0 = ticker.nanoTime();
        try (VirtualDisk a = core.open(V, false); VirtualDisk r = core.open(V, true)) {
            for (int i = 0; i < 1000; i++) {
                b.clear();
                (i % 2 == 0 ? a : r).read(b, (long) i * 4096);
            }
        }
        double seconds = (ticker.nanoTime() - t0) / 1e9;
        assertEquals((1000 - 20) / 200.0, seconds, 0.05, "1000 reads at 200 IOPS after a 20-request burst");

        t0 = ticker.nanoTime();
        try (VirtualDisk a = core.open(V, false)) {
            for (int i = 0; i < 100; i++) {
                b.clear();
                a.write(b, (long) i * 4096);
            }
        }
        // writes: 50/s is the binding limit (the bucket refilled while the clock stood still: 5 of burst)
        assertEquals((100 - 5) / 50.0, (ticker.nanoTime() - t0) / 1e9, 0.05);

        long slept = ticker.slept.get();
        try (VirtualDisk f = core.open(FREE, false)) {
            for (int i = 0; i < 1000; i++) {
                b.clear();
                f.write(b, (long) i * 4096);
            }
        }
        assertEquals(slept, ticker.slept.get(), "an unlimited volume never waits");

        VolumeStats s = io.stats(V);
        assertEquals(1000, s.read().ops());
        assertEquals(1000L * 4096, s.read().bytes());
        assertEquals(100, s.write().ops());
        assertTrue(s.throttledMillis() >= 6000, "throttled " + s.throttledMillis());
        assertEquals(0, s.queueDepth());
        assertEquals(new QosLimits(200, 0, 50, 0, 0.1), s.qos());
        assertEquals(1000, io.stats(FREE).write().ops());
        assertEquals(0, io.stats(FREE).read().ops());

        core.close();
        start();
        assertEquals(new QosLimits(200, 0, 50, 0, 0.1), io.qos(V), "limits are host configuration");
        assertEquals(QosLimits.NONE, io.qos(FREE));
        t0 = ticker.nanoTime();
        try (VirtualDisk a = core.open(V, true)) {
            for (int i = 0; i < 420; i++) {
                b.clear();
                a.read(b, 0);
            }
        }
        assertEquals(2.0, (ticker.nanoTime() - t0) / 1e9, 0.05, "still limited after the restart");
        io.setQos(V, QosLimits.NONE);
        assertEquals(null, store.get(IoRegistry.QOS_FACTORY_PID, "local:q"));
        io.setQos(V, new QosLimits(0, 0, 0, 1 << 20, 1));
        core.delete(V);
        assertEquals(null, store.get(IoRegistry.QOS_FACTORY_PID, "local:q"), "a deleted volume's limits go");
        fails(ErrorCode.VOLUME_NOT_FOUND, () -> io.stats(V));
        fails(ErrorCode.INVALID_ARGUMENT, () -> new QosLimits(-1, 0, 0, 0, 0.1));
        fails(ErrorCode.INVALID_ARGUMENT, () -> new QosLimits(1, 0, 0, 0, 0));
    }

    @Test
    void statsCountRatesAndQueueDepth() throws Exception {
        core.create(V, 64L << 20, "vhd", Provisioning.THIN);
        ByteBuffer b = ByteBuffer.allocate(65536);
        try (VirtualDisk d = core.open(V, false)) {
            for (int sec = 0; sec < 12; sec++) {
                for (int i = 0; i < 30; i++) {
                    b.clear();
                    d.write(b, (long) i * 65536);
                    b.clear();
                    d.read(b, (long) i * 65536);
                }
                ticker.advance(1_000_000_000L);
            }
            d.flush();
        }
        VolumeStats s = io.stats(V);
        assertEquals(360, s.write().ops());
        assertEquals(360L * 65536, s.read().bytes());
        assertEquals(30.0, s.read().iops(), 0.01, "30 per second over the last 10 seconds");
        assertEquals(30.0 * 65536, s.write().bytesPerSecond(), 1);
        assertEquals(1, s.flushes());
        io.reset(V);
        assertEquals(0, io.stats(V).read().ops());
    }

    /**
     * A read or write of several buffers in one call (how NBD passes a large request's pooled
     * buffers) is one operation of their total size, for QoS and in the stats, and moves the
     * bytes in order.
     */
    @Test
    void aVectoredReadOrWriteIsOneOperationOfItsTotalSize() throws Exception {
        core.create(V, 64L << 20, "vhd", Provisioning.THIN);
        io.setQos(V, new QosLimits(100, 0, 0, 0, 0.1));
        byte[] data = new byte[3 * 65536 + 100];
        new java.util.Random(3).nextBytes(data);
        long t0;
        try (VirtualDisk d = core.open(V, false)) {
            t0 = ticker.nanoTime();
            for (int i = 0; i < 55; i++) {
                ByteBuffer[] out = {ByteBuffer.wrap(data, 0, 100).slice(), ByteBuffer.wrap(data, 100, 3 * 65536).slice()};
                d.write(out, 4096);
                ByteBuffer[] in = {ByteBuffer.allocate(65536), ByteBuffer.allocate(2 * 65536 + 100)};
                d.read(in, 4096);
                byte[] got = new byte[data.length];
                ByteBuffer.wrap(got).put(in[0].flip()).put(in[1].flip());
                assertArrayEquals(data, got);
            }
        }
        assertEquals(1.0, (ticker.nanoTime() - t0) / 1e9, 0.05, "110 operations at 100 IOPS after a 10-request burst");
        VolumeStats st = io.stats(V);
        assertEquals(55, st.write().ops());
        assertEquals(55, st.read().ops());
        assertEquals(55L * data.length, st.write().bytes());
        assertEquals(55L * data.length, st.read().bytes());
    }

    /**
     * A read sent as a file slice is admitted by QoS when the slice is made and accounted
     * when it is sent; one that is made but never sent leaves no request in the queue.
     */
    @Test
    void slicedReadsAreLimitedAndCounted() throws Exception {
        core.create(V, 64L << 20, "vhd", Provisioning.THIN);
        io.setQos(V, new QosLimits(0, 100, 0, 0, 0.1));
        ByteBuffer b = ByteBuffer.allocate(65536);
        long t0;
        try (VirtualDisk d = core.open(V, false)) {
            d.write(b, 0);
            t0 = ticker.nanoTime();
            for (int i = 0; i < 110; i++) {
                try (io.strata.api.fs.FileSlice s = d.slice(4096, 8192).orElseThrow()) {
                    s.transferTo(java.nio.channels.Channels.newChannel(new java.io.ByteArrayOutputStream()));
                }
            }
            d.slice(0, 512).orElseThrow().close(); // made, never sent
            assertEquals(java.util.Optional.empty(), d.slice(8L << 20, 4096), "unallocated: read instead");
        }
        assertEquals(1.0, (ticker.nanoTime() - t0) / 1e9, 0.05, "110 sliced reads at 100 IOPS after a 10-read burst");
        VolumeStats st = io.stats(V);
        assertEquals(110, st.read().ops());
        assertEquals(110L * 8192, st.read().bytes());
        assertEquals(0, st.queueDepth());
    }
}

package io.strata.local.internal;

import static io.strata.local.internal.LocalDriverTest.assertCode;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.device.BlockDevice;
import io.strata.api.device.DeviceInfo;
import io.strata.api.device.DeviceKind;
import io.strata.api.device.DeviceState;
import io.strata.api.device.StorageResource;
import io.strata.api.device.Subscription;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Time limits, stuck I/O, vanished backing files, and the state changes they cause. */
class DeviceStateTest {
    /** Generous: only a stalled I/O may exceed it, never a real one on a loaded machine. */
    private static final long LIMIT_MS = 2500;

    @TempDir
    Path tmp;

    /** A backend that, when armed, blocks in the kernel-like call until released; or fails as told. */
    static class StallingBackend implements LocalBlockDevice.Backend {
        final LocalBlockDevice.Backend real;
        volatile CountDownLatch stall;
        volatile StorageException fail;

        StallingBackend(LocalBlockDevice.Backend real) {
            this.real = real;
        }

        void arm() {
            stall = new CountDownLatch(1);
        }

        void release() {
            CountDownLatch s = stall;
            stall = null;
            if (s != null) {
                s.countDown();
            }
        }

        private void maybeStall() {
            StorageException f = fail;
            if (f != null) {
                throw f;
            }
            CountDownLatch s = stall;
            if (s != null) {
                try {
                    s.await(); // uninterruptible I/O would not even notice an interrupt
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        }

        @Override
        public void read(ByteBuffer dst, long offset) {
            maybeStall();
            real.read(dst, offset);
        }

        @Override
        public void write(ByteBuffer src, long offset) {
            maybeStall();
            real.write(src, offset);
        }

        @Override
        public void write(ByteBuffer src, long offset, io.strata.api.device.WriteFence fence) {
            maybeStall();
            real.write(src, offset, fence);
        }

        @Override
        public void flush() {
            maybeStall();
            real.flush();
        }

        @Override
        public boolean uncached() {
            return real.uncached();
        }

        @Override
        public void close() {
            release();
            real.close();
        }
    }

    private Path file(String name) throws Exception {
        Path f = tmp.resolve(name);
        try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
            raf.setLength(1 << 20);
        }
        return f;
    }

    private static DeviceInfo info(Path f) {
        return new DeviceInfo("t", "lun", DeviceKind.BLOCK, 1 << 20, 512, "test LUN " + f, "uuid:test");
    }

    private static void await(BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (!condition.getAsBoolean()) {
            assertTrue(System.nanoTime() < deadline, "gave up waiting: " + what);
            Thread.sleep(20);
        }
    }

    private static byte[] bytes(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    @Test
    void aStalledIoTimesOutDegradesTheDeviceAndLeavesTheCallersBufferAlone() throws Exception {
        Path f = file("lun.img");
        StallingBackend backend = new StallingBackend(LocalBlockDevice.ChannelBackend.open(info(f), f, false));
        BlockingQueue<DeviceState> seen = new LinkedBlockingQueue<>();
        try (LocalBlockDevice d = new LocalBlockDevice(info(f), f, false, LIMIT_MS, 4, backend)) {
            d.addStateListener(seen::add);
            d.write(ByteBuffer.wrap(bytes(512, 1)), 0);
            assertEquals(DeviceState.ONLINE, d.state());

            backend.arm();
            ByteBuffer dst = ByteBuffer.allocate(512);
            Arrays.fill(dst.array(), (byte) 0x55);
            StorageException e = assertCode(ErrorCode.DEVICE_UNAVAILABLE, () -> d.read(dst, 0));
            assertTrue(e.getMessage().contains("did not complete within " + LIMIT_MS + " ms"), e.getMessage());
            assertEquals(DeviceState.DEGRADED, d.state());
            assertEquals(DeviceState.DEGRADED, seen.poll(60, TimeUnit.SECONDS));
            assertEquals(1, d.stuckIos());

            // a write that times out leaves the caller's buffer where it was, too
            ByteBuffer src = ByteBuffer.wrap(bytes(512, 2));
            assertCode(ErrorCode.DEVICE_UNAVAILABLE, () -> d.write(src, 512));
            assertEquals(0, src.position());
            assertEquals(2, d.stuckIos());

            backend.release(); // the kernel returns the stuck I/Os at last
            await(() -> d.stuckIos() == 0, "the stuck I/Os return");
            assertEquals(0, dst.position(), "the abandoned read never wrote into the caller's buffer");
            byte[] untouched = new byte[512];
            Arrays.fill(untouched, (byte) 0x55);
            assertArrayEquals(untouched, dst.array());
            assertEquals(DeviceState.DEGRADED, d.state(), "until an I/O succeeds");

            ByteBuffer back = ByteBuffer.allocate(512);
            d.read(back, 0);
            assertArrayEquals(bytes(512, 1), back.array());
            assertEquals(DeviceState.ONLINE, d.state());
            assertEquals(DeviceState.ONLINE, seen.poll(60, TimeUnit.SECONDS));
            // the abandoned write did land later, as on a SAN: the range is the caller's to rewrite
            ByteBuffer late = ByteBuffer.allocate(512);
            d.read(late, 512);
            assertArrayEquals(bytes(512, 2), late.array());
        }
        assertNull(seen.poll());
    }

    @Test
    void tooManyStuckIosTakeTheDeviceOfflineUntilTheyReturn() throws Exception {
        Path f = file("lun.img");
        StallingBackend backend = new StallingBackend(LocalBlockDevice.ChannelBackend.open(info(f), f, false));
        BlockingQueue<DeviceState> seen = new LinkedBlockingQueue<>();
        try (LocalBlockDevice d = new LocalBlockDevice(info(f), f, false, LIMIT_MS, 2, backend)) {
            d.addStateListener(seen::add);
            backend.arm();
            assertCode(ErrorCode.DEVICE_UNAVAILABLE, () -> d.read(ByteBuffer.allocate(512), 0));
            assertCode(ErrorCode.DEVICE_UNAVAILABLE, d::flush);
            assertEquals(DeviceState.DEGRADED, seen.poll(60, TimeUnit.SECONDS));
            StorageException refused = assertCode(ErrorCode.DEVICE_UNAVAILABLE, () -> d.read(ByteBuffer.allocate(512), 0));
            assertTrue(refused.getMessage().contains("2 I/Os have not returned"), refused.getMessage());
            assertEquals(DeviceState.OFFLINE, d.state());
            assertEquals(DeviceState.OFFLINE, seen.poll(60, TimeUnit.SECONDS));

            backend.release();
            await(() -> d.stuckIos() == 0, "the stuck I/Os return");
            d.read(ByteBuffer.allocate(512), 0);
            assertEquals(DeviceState.ONLINE, d.state());
            assertEquals(DeviceState.ONLINE, seen.poll(60, TimeUnit.SECONDS));
        }
    }

    @Test
    void ioErrorsDegradeVanishedDevicesGoOfflineAndSuccessBringsThemBack() throws Exception {
        Path f = file("lun.img");
        StallingBackend backend = new StallingBackend(LocalBlockDevice.ChannelBackend.open(info(f), f, false));
        BlockingQueue<DeviceState> seen = new LinkedBlockingQueue<>();
        try (LocalBlockDevice d = new LocalBlockDevice(info(f), f, false, 0, 4, backend)) {
            Subscription s = d.addStateListener(seen::add);
            d.addStateListener(x -> {
                throw new IllegalStateException("a broken listener does not break the device");
            });
            backend.fail = new StorageException(ErrorCode.IO_ERROR, "cannot read: Input/output error");
            assertCode(ErrorCode.IO_ERROR, () -> d.read(ByteBuffer.allocate(512), 0));
            assertEquals(DeviceState.DEGRADED, seen.poll(60, TimeUnit.SECONDS));
            backend.fail = new StorageException(ErrorCode.DEVICE_UNAVAILABLE, "cannot read: No such device or address");
            assertCode(ErrorCode.DEVICE_UNAVAILABLE, () -> d.read(ByteBuffer.allocate(512), 0));
            assertEquals(DeviceState.OFFLINE, seen.poll(60, TimeUnit.SECONDS));
            backend.fail = new StorageException(ErrorCode.DATASTORE_FULL, "cannot write: No space left on device");
            assertCode(ErrorCode.DATASTORE_FULL, () -> d.write(ByteBuffer.allocate(512), 0));
            assertEquals(DeviceState.OFFLINE, d.state(), "a full filesystem says nothing about the device");
            backend.fail = null;
            d.read(ByteBuffer.allocate(512), 0);
            assertEquals(DeviceState.ONLINE, seen.poll(60, TimeUnit.SECONDS));
            s.close();
            s.close();
            backend.fail = new StorageException(ErrorCode.IO_ERROR, "cannot read: Input/output error");
            assertCode(ErrorCode.IO_ERROR, () -> d.read(ByteBuffer.allocate(512), 0));
            assertEquals(DeviceState.DEGRADED, d.state());
            assertNull(seen.poll(), "no call after the subscription is closed");
        }
    }

    @Test
    void aBackingFileThatDisappearsTakesTheDeviceOfflineAndBackOnline() throws Exception {
        Path f = tmp.resolve("luns/lun.img");
        StorageResource r = new LocalDriver().attach("lun", Map.of("kind", "file-lun", "path", f.toString(), "size", "1M"));
        BlockingQueue<DeviceState> seen = new LinkedBlockingQueue<>();
        BlockDevice d = (BlockDevice) r.openDevice("lun");
        try {
            d.addStateListener(seen::add);
            d.write(ByteBuffer.wrap(bytes(512, 3)), 0);
            Path away = tmp.resolve("luns/away.img");
            Files.move(f, away);
            assertEquals(DeviceState.OFFLINE, d.state());
            assertEquals(DeviceState.OFFLINE, seen.poll(60, TimeUnit.SECONDS));
            StorageException e = assertCode(ErrorCode.DEVICE_UNAVAILABLE, () -> d.write(ByteBuffer.wrap(bytes(512, 4)), 0));
            assertTrue(e.getMessage().contains("is gone"), e.getMessage());
            byte[] kept = new byte[512];
            try (RandomAccessFile raf = new RandomAccessFile(away.toFile(), "r")) {
                raf.readFully(kept);
            }
            assertArrayEquals(bytes(512, 3), kept, "nothing written to the file while it was away");

            Files.move(away, f);
            assertEquals(DeviceState.ONLINE, d.state(), "the same file is back");
            assertEquals(DeviceState.ONLINE, seen.poll(60, TimeUnit.SECONDS));
            d.write(ByteBuffer.wrap(bytes(512, 5)), 0);

            // another file under the same name is not this device
            Files.move(f, tmp.resolve("luns/old.img"));
            Files.write(f, new byte[1 << 20]);
            assertCode(ErrorCode.DEVICE_UNAVAILABLE, () -> d.read(ByteBuffer.allocate(512), 0));
            assertEquals(DeviceState.OFFLINE, d.state());
            assertEquals(DeviceState.OFFLINE, seen.poll(60, TimeUnit.SECONDS));
            assertArrayEquals(new byte[1 << 20], Files.readAllBytes(f));
        } finally {
            d.close();
        }
        assertEquals(DeviceState.OFFLINE, d.state(), "a closed device is offline");
        assertTrue(assertCode(ErrorCode.DEVICE_UNAVAILABLE, () -> d.read(ByteBuffer.allocate(512), 0))
                .getMessage().contains("closed"));
        assertNull(seen.poll(), "closing notifies nobody");
    }
}

package io.strata.multipath;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.device.BlockDevice;
import io.strata.api.device.DeviceState;
import io.strata.api.device.WriteFence;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A write behind a {@link WriteFence} (a shared datastore's lease) is checked again before every
 * attempt: when its path fails and the lease expired meanwhile, the retry on another path is not
 * sent. The refusal is the fence's error, and no path is blamed for it.
 */
class WriteFenceTest {
    private static final StorageException LOST = new StorageException(ErrorCode.DEVICE_UNAVAILABLE,
            "this host's lease expired");

    @ParameterizedTest(name = "asynchronous {0}")
    @ValueSource(booleans = {false, true})
    void aWriteWhosePathFailedIsNotRetriedOnceTheFenceRefuses(boolean async) throws Exception {
        ExecutorService io = Executors.newSingleThreadExecutor();
        try (Fixture f = new Fixture(64, List.of("a", "b"), "policy", "mru")) {
            BlockDevice d = f.open();
            FakePath a = f.path("a");
            FakePath b = f.path("b");
            if (async) {
                a.asyncOn = io;
                b.asyncOn = io;
            }
            byte[] data = new byte[Fixture.SECTOR];
            java.util.Arrays.fill(data, (byte) 0x3c);
            AtomicInteger checks = new AtomicInteger();
            WriteFence fence = () -> {
                if (checks.incrementAndGet() > 1) {
                    throw LOST; // the lease expired while the first attempt was under way
                }
            };
            a.ioMode = FakePath.Mode.FAIL;
            StorageException e;
            if (async) {
                ExecutionException x = assertThrows(ExecutionException.class,
                        () -> d.writeAsync(ByteBuffer.wrap(data), 0, fence).get(60, TimeUnit.SECONDS));
                e = (StorageException) x.getCause();
            } else {
                e = assertThrows(StorageException.class, () -> d.write(ByteBuffer.wrap(data), 0, fence));
            }
            assertSame(LOST, e);
            assertEquals(2, checks.get(), "checked before the attempt on a and before the retry on b");
            assertEquals(0, b.writes.get(), "nothing was sent on b");
            assertEquals(DeviceState.ONLINE, f.info("b").state(), "b is not blamed for the refusal");
            ByteBuffer back = ByteBuffer.allocate(Fixture.SECTOR);
            d.read(back, 0);
            assertArrayEquals(new byte[Fixture.SECTOR], back.array(), "nothing reached the LUN");
            // a fence that lets it through: the retry on b writes
            checks.set(-100);
            if (async) {
                d.writeAsync(ByteBuffer.wrap(data), 0, fence).get(60, TimeUnit.SECONDS);
            } else {
                d.write(ByteBuffer.wrap(data), 0, fence);
            }
            d.read(back.clear(), 0);
            assertArrayEquals(data, back.array());
        } finally {
            io.shutdownNow();
        }
    }
}

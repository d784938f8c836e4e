package io.strata.api.device;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** What a driver written against device API 1.0 gets from the 1.1 defaults. */
class DeviceContractTest {
    /** Implements exactly the methods of 1.0. */
    static class OldLun implements BlockDevice {
        @Override
        public DeviceInfo info() {
            return new DeviceInfo("san", "lun7", DeviceKind.BLOCK, 1 << 20, 512, "an old driver's LUN");
        }

        @Override
        public Optional<Path> localPath() {
            return Optional.empty();
        }

        @Override
        public long size() {
            return 1 << 20;
        }

        @Override
        public int sectorSize() {
            return 512;
        }

        @Override
        public void read(ByteBuffer dst, long offset) {
        }

        @Override
        public void write(ByteBuffer src, long offset) {
        }

        @Override
        public void flush() {
        }

        @Override
        public void unmap(long offset, long length) {
        }

        @Override
        public void close() {
        }
    }

    @Test
    void aDeviceOfTheOldApiHasNoIdentityIsOnlineAndOffersNoOptionalOperation() {
        try (BlockDevice d = new OldLun()) {
            assertEquals(Optional.empty(), d.identity());
            assertEquals(DeviceState.ONLINE, d.state());
            try (Subscription s = d.addStateListener(x -> {
                throw new AssertionError("the default state never changes");
            })) {
                assertEquals(DeviceState.ONLINE, d.state());
            }
            StorageException caw = assertThrows(StorageException.class,
                    () -> d.compareAndWrite(ByteBuffer.allocate(512), ByteBuffer.allocate(512), 0));
            assertEquals(ErrorCode.UNSUPPORTED, caw.code());
            assertTrue(caw.getMessage().contains("san/lun7"), caw.getMessage());
            assertEquals(ErrorCode.UNSUPPORTED, assertThrows(StorageException.class, d::reservations).code());
            assertThrows(NullPointerException.class, () -> d.addStateListener(null));
        }
    }

    @Test
    void writeThroughOfAnOldDriverWritesThenFlushesTheDevice() {
        List<String> calls = new ArrayList<>();
        BlockDevice d = new OldLun() {
            @Override
            public void write(ByteBuffer src, long offset) {
                calls.add("write " + src.remaining() + " at " + offset);
                src.position(src.limit());
            }

            @Override
            public void flush() {
                calls.add("flush");
            }
        };
        ByteBuffer b = ByteBuffer.allocate(1024);
        d.writeThrough(b, 4096);
        assertEquals(List.of("write 1024 at 4096", "flush"), calls,
                "a driver that knows no cheaper way is durable through a flush after the write");
        assertEquals(0, b.remaining());
    }

    @Test
    void deviceInfoKeepsItsOldConstructor() {
        DeviceInfo old = new DeviceInfo("r", "d", DeviceKind.BLOCK, 512, 512, "x");
        assertEquals("", old.identity());
        assertEquals(new DeviceInfo("r", "d", DeviceKind.BLOCK, 512, 512, "x", ""), old);
        DeviceInfo known = old.withIdentity("wwid:naa.1");
        assertEquals("wwid:naa.1", known.identity());
        assertEquals("r/d", known.ref());
        assertThrows(NullPointerException.class, () -> old.withIdentity(null));
    }
}

package io.strata.multipath;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.device.BlockDevice;
import io.strata.api.device.PersistentReservations;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class OptionalOperationsTest {
    @Test
    void withoutSupportTheyAreUnsupported() {
        try (Fixture f = new Fixture(List.of("a", "b"))) {
            BlockDevice d = f.open();
            assertEquals(ErrorCode.UNSUPPORTED, assertThrows(StorageException.class, () -> d.unmap(0, 512)).code());
            assertEquals(ErrorCode.UNSUPPORTED, assertThrows(StorageException.class,
                    () -> d.compareAndWrite(ByteBuffer.allocate(512), ByteBuffer.allocate(512), 0)).code());
            assertEquals(ErrorCode.UNSUPPORTED, assertThrows(StorageException.class, d::reservations).code());
        }
    }

    @Test
    void aWriteThroughIsThePathsOwnAndMovesToAnotherPathWhenItsPathFails() {
        try (Fixture f = new Fixture(List.of("a", "b"), "policy", "fixed")) {
            BlockDevice d = f.open();
            byte[] record = new byte[512];
            Arrays.fill(record, (byte) 0x3c);
            d.writeThrough(ByteBuffer.wrap(record), 1024);
            assertArrayEquals(record, f.lun.bytes(1024, 512));
            assertEquals(1, f.path("a").writeThroughs.get() + f.path("b").writeThroughs.get());
            assertEquals(0, f.path("a").flushes.get() + f.path("b").flushes.get(),
                    "the path's write-through (FUA), not a write and a flush of the LUN");

            FakePath used = f.path("a").writeThroughs.get() == 1 ? f.path("a") : f.path("b");
            FakePath other = used == f.path("a") ? f.path("b") : f.path("a");
            used.ioMode = FakePath.Mode.FAIL;
            Arrays.fill(record, (byte) 0x4d);
            d.writeThrough(ByteBuffer.wrap(record), 1024);
            assertArrayEquals(record, f.lun.bytes(1024, 512));
            assertEquals(1, other.writeThroughs.get(), "retried on the path that works");
        }
    }

    @Test
    void unmapGoesThroughAPathThatCanUnmap() {
        try (Fixture f = new Fixture(List.of("a", "b"), "policy", "fixed")) {
            BlockDevice d = f.open();
            f.paths.forEach(p -> p.unmapSupported = true);
            Fixture.writeSector(d, 1, 0x11);
            f.path("a").ioMode = FakePath.Mode.FAIL;
            d.unmap(512, 512);
            assertArrayEquals(new byte[512], f.lun.bytes(512, 512));
        }
    }

    @Test
    void registrationGoesToEveryPathAndReturnsWithAReconnectedPath() {
        try (Fixture f = new Fixture(List.of("a", "b"), "policy", "round-robin")) {
            BlockDevice d = f.open();
            f.paths.forEach(p -> p.reservationsSupported = true);
            PersistentReservations pr = d.reservations();
            pr.register(0xabcL);
            assertEquals(Map.of("a", 0xabcL, "b", 0xabcL), f.lun.registrationsCopy());
            assertEquals(List.of(0xabcL), pr.keys());

            f.path("a").checkMode = FakePath.Mode.FAIL;
            f.mp.checkNow();
            f.path("a").checkMode = FakePath.Mode.OK;
            f.mp.checkNow(); // reconnect drops a's registration; the layer registers again
            assertEquals(Map.of("a", 0xabcL, "b", 0xabcL), f.lun.registrationsCopy());

            f.path("b").checkMode = FakePath.Mode.FAIL;
            f.mp.checkNow();
            pr.preempt(0x999L, 0xabcL, PersistentReservations.Type.WRITE_EXCLUSIVE); // as another host would
            assertTrue(f.lun.registrationsCopy().isEmpty());
            f.path("b").checkMode = FakePath.Mode.OK;
            f.mp.checkNow();
            assertTrue(f.lun.registrationsCopy().isEmpty(), "a preempted key is not brought back");
            assertEquals(ErrorCode.INVALID_ARGUMENT, assertThrows(StorageException.class, () -> pr.register(0)).code());
        }
    }
}

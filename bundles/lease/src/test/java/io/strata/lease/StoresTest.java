package io.strata.lease;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.device.BlockDevice;
import io.strata.api.fs.DatastoreFile;
import java.lang.reflect.Proxy;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The three stores: bounds, zeros past the end, durability (flush or write-through), who closes what. */
class StoresTest {
    @TempDir
    Path dir;

    static ByteBuffer filled(int len, int value) {
        byte[] b = new byte[len];
        Arrays.fill(b, (byte) value);
        return ByteBuffer.wrap(b);
    }

    static void checkBounds(SectorStore s) {
        StorageException e = assertThrows(StorageException.class, () -> s.read(s.sectors(), ByteBuffer.allocate(512)));
        assertEquals(ErrorCode.OUT_OF_RANGE, e.code());
        e = assertThrows(StorageException.class, () -> s.write(s.sectors() - 1, ByteBuffer.allocate(1024)));
        assertEquals(ErrorCode.OUT_OF_RANGE, e.code());
        e = assertThrows(StorageException.class, () -> s.read(-1, ByteBuffer.allocate(512)));
        assertEquals(ErrorCode.OUT_OF_RANGE, e.code());
        e = assertThrows(StorageException.class, () -> s.write(0, ByteBuffer.allocate(100)));
        assertEquals(ErrorCode.INVALID_ARGUMENT, e.code());
    }

    @Test
    void pathStoreIsSparseReadsZerosAndWritesThrough() throws Exception {
        Path f = dir.resolve("ls");
        try (SectorStore s = Lockspaces.pathStore(f, 512, 1000)) {
            assertEquals(512, s.sectorSize());
            assertEquals(1000, s.sectors());
            assertEquals(512_000, Files.size(f));
            ByteBuffer b = ByteBuffer.allocate(1024);
            s.read(998, b);
            assertArrayEquals(new byte[1024], b.array());
            s.write(3, filled(512, 7));
            checkBounds(s);
        }
        try (SectorStore s = Lockspaces.pathStore(f, 512, 1000)) {
            ByteBuffer b = ByteBuffer.allocate(512);
            s.read(3, b);
            assertArrayEquals(filled(512, 7).array(), b.array());
        }
        StorageException e = assertThrows(StorageException.class, () -> Lockspaces.pathStore(f, 1000, 10));
        assertEquals(ErrorCode.INVALID_ARGUMENT, e.code());
    }

    /** A datastore file in memory, made with a proxy so that new default methods need nothing here. */
    static final class MemFile {
        byte[] data = new byte[700];
        int flushes;
        int writeThroughs;
        boolean closed;

        DatastoreFile file() {
            return (DatastoreFile) Proxy.newProxyInstance(getClass().getClassLoader(),
                    new Class<?>[] {DatastoreFile.class}, (p, m, a) -> switch (m.getName()) {
                        case "name" -> "lockspace";
                        case "size" -> (long) data.length;
                        case "writable" -> true;
                        case "read" -> {
                            ByteBuffer dst = (ByteBuffer) a[0];
                            long pos = (Long) a[1];
                            int n = (int) Math.max(0, Math.min(dst.remaining(), data.length - pos));
                            dst.put(data, (int) pos, n);
                            yield n;
                        }
                        case "write", "writeThrough" -> {
                            ByteBuffer src = (ByteBuffer) a[0];
                            int pos = (int) (long) (Long) a[1];
                            if (pos + src.remaining() > data.length) {
                                data = Arrays.copyOf(data, pos + src.remaining());
                            }
                            src.get(data, pos, src.remaining());
                            if (m.getName().equals("writeThrough")) {
                                writeThroughs++;
                            }
                            yield null;
                        }
                        case "flush" -> {
                            flushes++;
                            yield null;
                        }
                        case "close" -> {
                            closed = true;
                            yield null;
                        }
                        case "toString" -> "memfile";
                        default -> throw new UnsupportedOperationException(m.getName());
                    });
        }
    }

    @Test
    void fileStoreWritesEachRecordThroughReadsZerosPastTheEndAndClosesTheFile() {
        MemFile mem = new MemFile();
        Arrays.fill(mem.data, (byte) 1);
        SectorStore s = Lockspaces.fileStore(mem.file(), 512, 8);
        ByteBuffer b = ByteBuffer.allocate(1024);
        s.read(0, b);
        byte[] want = new byte[1024];
        Arrays.fill(want, 0, 700, (byte) 1);
        assertArrayEquals(want, b.array());
        s.write(5, filled(512, 9));
        // durable on return, without a flush of the whole file (a FILE_SYNC write on NFS)
        assertEquals(1, mem.writeThroughs);
        assertEquals(0, mem.flushes);
        assertEquals(6 * 512, mem.data.length);
        checkBounds(s);
        s.close();
        assertTrue(mem.closed);
    }

    /** A block device in memory. */
    static final class MemDevice {
        final byte[] data = new byte[64 * 512];
        final List<String> calls = new ArrayList<>();

        BlockDevice device() {
            return (BlockDevice) Proxy.newProxyInstance(getClass().getClassLoader(),
                    new Class<?>[] {BlockDevice.class}, (p, m, a) -> {
                        switch (m.getName()) {
                            case "size":
                                return (long) data.length;
                            case "sectorSize":
                                return 512;
                            case "read": {
                                ByteBuffer dst = (ByteBuffer) a[0];
                                dst.put(data, (int) (long) (Long) a[1], dst.remaining());
                                calls.add("read@" + a[1]);
                                return null;
                            }
                            case "write": {
                                ByteBuffer src = (ByteBuffer) a[0];
                                calls.add("write@" + a[1]);
                                src.get(data, (int) (long) (Long) a[1], src.remaining());
                                return null;
                            }
                            case "writeThrough": {
                                ByteBuffer src = (ByteBuffer) a[0];
                                calls.add("writeThrough@" + a[1]);
                                src.get(data, (int) (long) (Long) a[1], src.remaining());
                                return null;
                            }
                            case "flush":
                                calls.add("flush");
                                return null;
                            case "close":
                                calls.add("close");
                                return null;
                            case "toString":
                                return "memdevice";
                            default:
                                throw new UnsupportedOperationException(m.getName());
                        }
                    });
        }
    }

    @Test
    void blockStoreUsesItsRegionWritesThroughAndLeavesTheDeviceOpen() {
        MemDevice mem = new MemDevice();
        SectorStore s = Lockspaces.blockStore(mem.device(), 8 * 512, 16);
        assertEquals(512, s.sectorSize());
        s.write(1, filled(512, 5));
        assertEquals(List.of("writeThrough@" + 9 * 512), mem.calls,
                "a lease record is durable on its own: no flush of the whole device, whose write-back"
                        + " of other data could hold a renewal past its deadline");
        assertEquals(5, mem.data[9 * 512]);
        ByteBuffer b = ByteBuffer.allocate(512);
        s.read(1, b);
        assertEquals(5, b.get(0));
        checkBounds(s);
        s.close();
        assertTrue(!mem.calls.contains("close"));

        StorageException e = assertThrows(StorageException.class, () -> Lockspaces.blockStore(mem.device(), 100, 4));
        assertEquals(ErrorCode.INVALID_ARGUMENT, e.code());
        e = assertThrows(StorageException.class, () -> Lockspaces.blockStore(mem.device(), 60 * 512, 5));
        assertEquals(ErrorCode.OUT_OF_RANGE, e.code());
    }
}

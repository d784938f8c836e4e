package io.strata.multipath;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;

/** An in-memory LUN that several {@link FakePath}s reach. */
final class FakeLun {
    final String identity;
    final int sectorSize;
    private final byte[] data;
    /** Registered reservation keys by path (I_T nexus). */
    final Map<String, Long> registrations = new HashMap<>();

    FakeLun(String identity, int sectorSize, int sectors) {
        this.identity = identity;
        this.sectorSize = sectorSize;
        this.data = new byte[sectorSize * sectors];
    }

    long size() {
        return data.length;
    }

    synchronized void read(ByteBuffer dst, long offset) {
        check(offset, dst.remaining());
        dst.put(data, (int) offset, dst.remaining());
    }

    synchronized void write(ByteBuffer src, long offset) {
        check(offset, src.remaining());
        src.get(data, (int) offset, src.remaining());
    }

    synchronized boolean compareAndWrite(ByteBuffer expected, ByteBuffer src, long offset) {
        check(offset, src.remaining());
        byte[] e = new byte[expected.remaining()];
        expected.get(e);
        if (!Arrays.equals(e, 0, e.length, data, (int) offset, (int) offset + e.length)) {
            return false;
        }
        src.get(data, (int) offset, src.remaining());
        return true;
    }

    synchronized byte[] bytes(long offset, int length) {
        return Arrays.copyOfRange(data, (int) offset, (int) offset + length);
    }

    synchronized void register(String path, long key) {
        registrations.put(path, key);
    }

    synchronized void unregister(String path) {
        registrations.remove(path);
    }

    synchronized List<Long> keys() {
        return new ArrayList<>(new LinkedHashSet<>(registrations.values()));
    }

    synchronized Map<String, Long> registrationsCopy() {
        return new HashMap<>(registrations);
    }

    private void check(long offset, int length) {
        if (offset < 0 || offset + length > data.length) {
            throw new StorageException(ErrorCode.OUT_OF_RANGE, "beyond the fake LUN");
        }
    }
}

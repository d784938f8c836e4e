package io.strata.core.internal;

import io.strata.api.Capability;
import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.device.DeviceKind;
import io.strata.api.device.StorageDevice;
import io.strata.api.fs.Datastore;
import io.strata.api.fs.DatastoreFilesystem;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;

/** A filesystem layer like dir, mounting {@link TestDatastore}s on file shares. */
final class TestFs implements DatastoreFilesystem {
    final Faults faults;
    final long capacity;
    final boolean formats;
    final AtomicInteger formatted = new AtomicInteger();
    final List<TestDatastore> mounted = new ArrayList<>();

    TestFs(Faults faults, long capacity, boolean formats) {
        this.faults = faults;
        this.capacity = capacity;
        this.formats = formats;
    }

    @Override
    public String type() {
        return "dir";
    }

    @Override
    public String description() {
        return "test filesystem";
    }

    @Override
    public Set<Capability> capabilities() {
        Set<Capability> caps = new HashSet<>(Set.of(Capability.LOCAL_PATHS, Capability.SPARSE_FILES));
        if (formats) {
            caps.add(Capability.FORMAT);
        }
        return caps;
    }

    @Override
    public DeviceKind deviceKind() {
        return DeviceKind.FILE_SHARE;
    }

    @Override
    public void format(StorageDevice device, Map<String, String> options, boolean force) {
        if (!formats) {
            throw new StorageException(ErrorCode.UNSUPPORTED, "no format");
        }
        formatted.incrementAndGet();
    }

    @Override
    public synchronized Datastore mount(String datastoreName, StorageDevice device, Map<String, String> options) {
        Path dir = device.localPath().orElseThrow();
        TestDatastore ds = new TestDatastore(datastoreName, dir, faults, capacity);
        mounted.add(ds);
        return ds;
    }
}

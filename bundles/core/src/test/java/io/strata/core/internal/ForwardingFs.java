package io.strata.core.internal;

import io.strata.api.Capability;
import io.strata.api.device.DeviceKind;
import io.strata.api.device.StorageDevice;
import io.strata.api.fs.Datastore;
import io.strata.api.fs.DatastoreFilesystem;
import java.util.Map;
import java.util.Set;

/** A filesystem layer that hands every call to another; tests override what they watch or hold up. */
class ForwardingFs implements DatastoreFilesystem {
    final DatastoreFilesystem fs;

    ForwardingFs(DatastoreFilesystem fs) {
        this.fs = fs;
    }

    @Override
    public String type() {
        return fs.type();
    }

    @Override
    public String description() {
        return fs.description();
    }

    @Override
    public Set<Capability> capabilities() {
        return fs.capabilities();
    }

    @Override
    public DeviceKind deviceKind() {
        return fs.deviceKind();
    }

    @Override
    public void format(StorageDevice device, Map<String, String> options, boolean force) {
        fs.format(device, options, force);
    }

    @Override
    public Datastore mount(String datastoreName, StorageDevice device, Map<String, String> options) {
        return fs.mount(datastoreName, device, options);
    }
}

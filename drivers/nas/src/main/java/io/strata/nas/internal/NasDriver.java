package io.strata.nas.internal;

import io.strata.api.Capability;
import io.strata.api.Names;
import io.strata.api.device.StorageDriver;
import io.strata.api.device.StorageResource;
import java.util.Collections;
import java.util.EnumSet;
import java.util.Map;
import java.util.Set;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;

/**
 * The {@code nas} driver: the exports of an NFS server, reached by a user-space NFSv3 client
 * written in Java (no kernel client, no native library). Each export is a file-share device.
 */
@Component(service = StorageDriver.class, property = StorageDriver.TYPE_PROPERTY + "=" + NasDriver.TYPE)
public final class NasDriver implements StorageDriver {
    static final String TYPE = "nas";

    private final Set<NasResource> attached = Collections.newSetFromMap(new java.util.concurrent.ConcurrentHashMap<>());

    /** Used by DS. */
    public NasDriver() {
    }

    @Override
    public String type() {
        return TYPE;
    }

    @Override
    public String description() {
        return "NFSv3 exports of a NAS server (user-space client; MOUNT, hard-mount retries with a time limit)";
    }

    @Override
    public Set<Capability> capabilities() {
        return Collections.unmodifiableSet(EnumSet.of(Capability.DEVICE_DISCOVERY, Capability.FILE_SHARES,
                Capability.IO_TIMEOUT, Capability.DEVICE_STATE));
    }

    @Override
    public Map<String, String> parameters() {
        return NasParams.OWN;
    }

    @Override
    public StorageResource attach(String name, Map<String, String> parameters) {
        Names.check("resource", name);
        Map<String, String> params = parameters == null ? Map.of() : Map.copyOf(parameters);
        NasResource r = NasResource.attach(name, params, NasParams.parse(name, params), attached::remove);
        attached.add(r);
        return r;
    }

    /** Closes what is still attached when the bundle stops: calls under way fail, nothing is lost on the server. */
    @Deactivate
    void deactivate() {
        for (NasResource r : Set.copyOf(attached)) {
            r.close();
        }
        attached.clear();
    }
}

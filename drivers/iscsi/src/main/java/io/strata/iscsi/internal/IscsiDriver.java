package io.strata.iscsi.internal;

import io.strata.api.Capability;
import io.strata.api.Names;
import io.strata.api.device.StorageDriver;
import io.strata.api.device.StorageResource;
import io.strata.multipath.Multipath;
import java.util.Collections;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;

/**
 * The {@code iscsi} driver: iSCSI LUNs through libiscsi in user space (no kernel initiator),
 * every portal a path, paths grouped by LUN identity by the multipath layer.
 *
 * <p>Attach is idempotent: attaching a name that is attached with the same parameters returns
 * the same resource (one more handle on it; the sessions are closed with the last handle).
 */
@Component(service = StorageDriver.class, property = StorageDriver.TYPE_PROPERTY + "=" + IscsiDriver.TYPE)
public final class IscsiDriver implements StorageDriver {
    static final String TYPE = "iscsi";

    private final Map<String, IscsiResource> attached = new ConcurrentHashMap<>();

    /** Used by DS. */
    public IscsiDriver() {
    }

    @Override
    public String type() {
        return TYPE;
    }

    @Override
    public String description() {
        return "iSCSI LUNs through libiscsi (SendTargets discovery, CHAP, multipath over every portal)";
    }

    @Override
    public Set<Capability> capabilities() {
        // not COMPARE_AND_WRITE: it is probed per LUN (tgt, for one, lacks it)
        return Collections.unmodifiableSet(EnumSet.of(Capability.DEVICE_DISCOVERY, Capability.BLOCK_DEVICES,
                Capability.DEVICE_UNMAP, Capability.PERSISTENT_RESERVATIONS, Capability.IO_TIMEOUT,
                Capability.DEVICE_STATE, Capability.MULTIPATH));
    }

    @Override
    public Map<String, String> parameters() {
        Map<String, String> m = new LinkedHashMap<>(IscsiParams.OWN);
        m.putAll(Multipath.PARAMETERS);
        return Collections.unmodifiableMap(m);
    }

    @Override
    public StorageResource attach(String name, Map<String, String> parameters) {
        Names.check("resource", name);
        Map<String, String> params = parameters == null ? Map.of() : Map.copyOf(parameters);
        IscsiParams parsed = IscsiParams.parse(name, params);
        Multipath.validate(params);
        LibIscsi.ensureLoaded();
        synchronized (attached) {
            IscsiResource existing = attached.get(name);
            if (existing != null && existing.parameters().equals(params) && existing.retain()) {
                return existing;
            }
            IscsiResource r = new IscsiResource(name, params, parsed, closed -> attached.remove(name, closed));
            attached.put(name, r);
            return r;
        }
    }

    /** Closes what is still attached when the bundle stops. */
    @Deactivate
    void deactivate() {
        for (IscsiResource r : attached.values()) {
            while (!r.isClosed()) {
                r.close();
            }
        }
        attached.clear();
    }
}

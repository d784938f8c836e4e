package io.strata.fc.internal;

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
import org.osgi.service.component.annotations.Component;

/**
 * The {@code fc} driver: the LUNs a Linux host sees through its Fibre Channel HBAs, found in
 * sysfs and used through their SCSI disk nodes, grouped by identity into multipath devices.
 * Stateless: every attach discovers afresh, so attaching again is idempotent.
 */
@Component(service = StorageDriver.class, property = StorageDriver.TYPE_PROPERTY + "=" + FcDriver.TYPE)
public final class FcDriver implements StorageDriver {
    static final String TYPE = "fc";
    private static final Map<String, String> PARAMETERS;

    static {
        Map<String, String> m = new LinkedHashMap<>(FcParams.OWN);
        Multipath.PARAMETERS.forEach(m::putIfAbsent);
        PARAMETERS = Collections.unmodifiableMap(m);
    }

    /** Used by DS. */
    public FcDriver() {
    }

    @Override
    public String type() {
        return TYPE;
    }

    @Override
    public String description() {
        return "Fibre Channel LUNs seen through the host's HBAs (sysfs), multipathed";
    }

    @Override
    public Set<Capability> capabilities() {
        return Collections.unmodifiableSet(EnumSet.of(Capability.DEVICE_DISCOVERY, Capability.BLOCK_DEVICES,
                Capability.DEVICE_UNMAP, Capability.UNCACHED_IO, Capability.DEVICE_STATE, Capability.MULTIPATH));
    }

    @Override
    public Map<String, String> parameters() {
        return PARAMETERS;
    }

    @Override
    public StorageResource attach(String name, Map<String, String> parameters) {
        Names.check("resource", name);
        Map<String, String> params = parameters == null ? Map.of() : parameters;
        return new FcResource(name, params, FcParams.parse(name, params));
    }
}

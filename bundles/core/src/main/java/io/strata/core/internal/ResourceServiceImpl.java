package io.strata.core.internal;

import static java.util.Objects.requireNonNull;

import io.strata.api.device.DeviceInfo;
import io.strata.api.service.PluginInfo;
import io.strata.api.service.ResourceInfo;
import io.strata.api.service.ResourcePath;
import io.strata.api.service.ResourceService;
import java.util.List;
import java.util.Map;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;

/**
 * {@link ResourceService}, as its own component because its {@code remove(String)}
 * has the same signature as {@code DatastoreService.remove(String)}, so one object
 * cannot be both. Everything is done by {@link StrataCore}, which the bundle
 * registers under its private class name for this component alone.
 */
@Component(service = ResourceService.class)
public final class ResourceServiceImpl implements ResourceService {
    private final StrataCore core;

    @Activate
    public ResourceServiceImpl(@Reference StrataCore core) {
        this.core = requireNonNull(core, "core");
    }

    @Override
    public List<PluginInfo> plugins() {
        return core.plugins();
    }

    @Override
    public List<ResourceInfo> resources() {
        return core.resources();
    }

    @Override
    public ResourceInfo resource(String name) {
        return core.resource(name);
    }

    @Override
    public ResourceInfo add(String name, String driver, Map<String, String> parameters) {
        return core.addResource(name, driver, parameters);
    }

    @Override
    public void remove(String name) {
        core.removeResource(name);
    }

    @Override
    public List<DeviceInfo> devices(String resource) {
        return core.devices(resource);
    }

    @Override
    public List<ResourcePath> paths(String resource, String device) {
        return core.paths(resource, device);
    }

    @Override
    public void setPathEnabled(String resource, String pathId, boolean enabled) {
        core.setPathEnabled(resource, pathId, enabled);
    }

    @Override
    public ResourceInfo update(String name, Map<String, String> changes) {
        return core.updateResource(name, changes);
    }
}

package io.strata.core.internal;

import static java.util.Objects.requireNonNull;

import org.osgi.service.cm.ConfigurationEvent;
import org.osgi.service.cm.ConfigurationListener;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Lets {@link StrataCore} follow resources and datastores configured outside its
 * services ({@code config:edit}, .cfg files in etc/, {@code config:delete}).
 * Configuration Admin delivers the events asynchronously, on its own thread.
 */
@Component(service = ConfigurationListener.class)
public final class HostConfigListener implements ConfigurationListener {
    private static final Logger LOG = LoggerFactory.getLogger(HostConfigListener.class);

    private final StrataCore core;

    @Activate
    public HostConfigListener(@Reference StrataCore core) {
        this.core = requireNonNull(core, "core");
    }

    @Override
    public void configurationEvent(ConfigurationEvent event) {
        String factoryPid = event.getFactoryPid();
        if (ConfigStore.RESOURCE_FACTORY_PID.equals(factoryPid)
                || ConfigStore.DATASTORE_FACTORY_PID.equals(factoryPid)) {
            try {
                core.resync();
            } catch (RuntimeException e) {
                LOG.error("cannot follow the change of configuration {}: {}", event.getPid(), e.getMessage(), e);
            }
        }
    }
}

package io.strata.core.internal;

import io.strata.lease.HostIdentity;
import java.net.InetAddress;
import java.util.HashMap;
import java.util.Map;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * This host's identity: a UUID made at its first start and kept in the configuration
 * {@value StrataCore#HOST_PID} (so it survives restarts and shows in {@code config:list}), and
 * a name: the core's {@code host.name} setting, else the configuration's {@code name}, else the
 * hostname.
 */
final class HostIdentities {
    private static final Logger LOG = LoggerFactory.getLogger(HostIdentities.class);

    private HostIdentities() {
    }

    static HostIdentity load(ConfigStore store, String configuredName) {
        Map<String, Object> props = store.loadSingleton(StrataCore.HOST_PID);
        UUID id = null;
        Object raw = props.get("id");
        if (raw != null) {
            try {
                id = UUID.fromString(raw.toString().trim());
            } catch (IllegalArgumentException e) {
                LOG.error("host identity '{}' in configuration {} is not a UUID; keeping it aside and making a new one",
                        raw, StrataCore.HOST_PID);
            }
        }
        Object storedName = props.get("name");
        String name = !configuredName.isBlank() ? configuredName
                : storedName != null && !storedName.toString().isBlank()
                        ? storedName.toString().trim() : hostname();
        if (id == null) {
            id = UUID.randomUUID();
            Map<String, Object> next = new HashMap<>();
            next.put("id", id.toString());
            if (raw != null) {
                next.put("id.refused", raw.toString());
            }
            try {
                store.saveSingleton(StrataCore.HOST_PID, next);
                LOG.info("this host is {} ({}), identity made at first start", name, id);
            } catch (RuntimeException e) {
                LOG.error("cannot save this host's identity {}: {}; shared datastores will see a new host after "
                        + "a restart", id, e.getMessage());
            }
        }
        return new HostIdentity(id, name);
    }

    private static String hostname() {
        try {
            String h = InetAddress.getLocalHost().getHostName();
            return h == null || h.isBlank() ? "localhost" : h;
        } catch (Exception e) {
            return "localhost";
        }
    }
}

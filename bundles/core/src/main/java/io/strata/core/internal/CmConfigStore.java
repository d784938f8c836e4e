package io.strata.core.internal;

import static java.util.Objects.requireNonNull;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Dictionary;
import java.util.HashMap;
import java.util.Hashtable;
import java.util.List;
import java.util.Map;
import org.osgi.framework.InvalidSyntaxException;
import org.osgi.service.cm.Configuration;
import org.osgi.service.cm.ConfigurationAdmin;

/**
 * Host configuration in Configuration Admin, as named factory configurations
 * ({@code io.strata.resource~<name>}, {@code io.strata.datastore~<name>}), so
 * they show in {@code config:list} and Karaf saves them under etc/.
 */
final class CmConfigStore implements ConfigStore {
    /** Bound to no bundle in particular: the core reads them, an admin may edit them. */
    private static final String ANY_LOCATION = "?";

    private final ConfigurationAdmin cm;

    CmConfigStore(ConfigurationAdmin cm) {
        this.cm = requireNonNull(cm, "cm");
    }

    @Override
    public List<Map<String, Object>> load(String factoryPid) {
        List<Map<String, Object>> result = new ArrayList<>();
        for (Configuration c : list("(service.factoryPid=" + factoryPid + ")")) {
            Dictionary<String, Object> d = c.getProperties();
            if (d == null) {
                continue;
            }
            Map<String, Object> m = new HashMap<>();
            for (String key : Collections.list(d.keys())) {
                m.put(key, d.get(key));
            }
            result.add(m);
        }
        return result;
    }

    @Override
    public void save(String factoryPid, String name, Map<String, Object> properties) {
        try {
            Configuration c = cm.getFactoryConfiguration(factoryPid, name, ANY_LOCATION);
            c.update(new Hashtable<>(properties));
        } catch (IOException e) {
            throw new StorageException(ErrorCode.IO_ERROR,
                    "cannot save configuration " + factoryPid + "~" + name + ": " + e.getMessage(), e);
        }
    }

    @Override
    public void delete(String factoryPid, String name) {
        for (Configuration c : list("(&(service.factoryPid=" + factoryPid + ")(name=" + name + "))")) {
            try {
                c.delete();
            } catch (IOException | IllegalStateException e) {
                throw new StorageException(ErrorCode.IO_ERROR,
                        "cannot delete configuration " + c.getPid() + ": " + e.getMessage(), e);
            }
        }
    }

    @Override
    public Map<String, Object> loadSingleton(String pid) {
        List<Configuration> cs = list("(service.pid=" + pid + ")");
        Dictionary<String, Object> d = cs.isEmpty() ? null : cs.get(0).getProperties();
        if (d == null) {
            return Map.of();
        }
        Map<String, Object> m = new HashMap<>();
        for (String key : Collections.list(d.keys())) {
            m.put(key, d.get(key));
        }
        return m;
    }

    @Override
    public void saveSingleton(String pid, Map<String, Object> properties) {
        try {
            Configuration c = cm.getConfiguration(pid, ANY_LOCATION);
            Dictionary<String, Object> old = c.getProperties();
            Hashtable<String, Object> next = new Hashtable<>();
            if (old != null) {
                for (String key : Collections.list(old.keys())) {
                    next.put(key, old.get(key));
                }
            }
            next.putAll(properties);
            c.update(next);
        } catch (IOException e) {
            throw new StorageException(ErrorCode.IO_ERROR, "cannot save configuration " + pid + ": " + e.getMessage(), e);
        }
    }

    private List<Configuration> list(String filter) {
        try {
            Configuration[] cs = cm.listConfigurations(filter);
            return cs == null ? List.of() : List.of(cs);
        } catch (IOException | InvalidSyntaxException e) {
            throw new StorageException(ErrorCode.IO_ERROR,
                    "cannot read configurations " + filter + ": " + e.getMessage(), e);
        }
    }
}

package io.strata.core.internal;

import java.util.List;
import java.util.Map;

/**
 * Where host configuration (resources, datastores) is persisted: Configuration
 * Admin in the container ({@link CmConfigStore}), a map in unit tests. Each
 * object is one factory configuration, identified by its {@code name} property.
 */
interface ConfigStore {
    /** Factory PID of storage resources. */
    String RESOURCE_FACTORY_PID = "io.strata.resource";
    /** Factory PID of datastores. */
    String DATASTORE_FACTORY_PID = "io.strata.datastore";

    /** @return the properties of every configuration of the factory PID */
    List<Map<String, Object>> load(String factoryPid);

    /** Creates or replaces the configuration of that name. */
    void save(String factoryPid, String name, Map<String, Object> properties);

    /** Deletes the configuration of that name; nothing when there is none. */
    void delete(String factoryPid, String name);

    /**
     * @return the properties of the singleton configuration {@code pid}, empty when it does not exist.
     *         By default kept as the one factory configuration of that PID, named {@code pid};
     *         Configuration Admin keeps a real singleton.
     */
    default Map<String, Object> loadSingleton(String pid) {
        List<Map<String, Object>> all = load(pid);
        return all.isEmpty() ? Map.of() : all.get(0);
    }

    /** Adds or replaces {@code properties} in the singleton configuration {@code pid}, keeping the others. */
    default void saveSingleton(String pid, Map<String, Object> properties) {
        Map<String, Object> p = new java.util.HashMap<>(loadSingleton(pid));
        p.putAll(properties);
        save(pid, pid, p);
    }
}

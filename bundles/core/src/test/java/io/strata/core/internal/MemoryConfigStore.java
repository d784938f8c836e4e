package io.strata.core.internal;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/** Configuration Admin's role in unit tests: survives a "restart" when the same instance is reused. */
final class MemoryConfigStore implements ConfigStore {
    private final Map<String, Map<String, Map<String, Object>>> configs = new HashMap<>();

    @Override
    public synchronized List<Map<String, Object>> load(String factoryPid) {
        return new ArrayList<>(configs.getOrDefault(factoryPid, Map.of()).values());
    }

    @Override
    public synchronized void save(String factoryPid, String name, Map<String, Object> properties) {
        configs.computeIfAbsent(factoryPid, k -> new TreeMap<>()).put(name, Map.copyOf(properties));
    }

    @Override
    public synchronized void delete(String factoryPid, String name) {
        Map<String, Map<String, Object>> m = configs.get(factoryPid);
        if (m != null) {
            m.remove(name);
        }
    }

    synchronized Map<String, Object> get(String factoryPid, String name) {
        return configs.getOrDefault(factoryPid, Map.of()).get(name);
    }
}

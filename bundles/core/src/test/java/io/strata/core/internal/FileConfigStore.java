package io.strata.core.internal;

import java.io.IOException;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Configuration Admin's role for tests that run the core in several JVMs one after the
 * other: the configurations are a serialized map, replaced atomically on every change
 * (as Felix's file persistence manager does).
 */
final class FileConfigStore implements ConfigStore {
    private final Path file;
    private final HashMap<String, TreeMap<String, HashMap<String, Object>>> configs;

    @SuppressWarnings("unchecked")
    FileConfigStore(Path file) {
        this.file = file;
        if (Files.exists(file)) {
            try (ObjectInputStream in = new ObjectInputStream(Files.newInputStream(file))) {
                configs = (HashMap<String, TreeMap<String, HashMap<String, Object>>>) in.readObject();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            } catch (ClassNotFoundException e) {
                throw new IllegalStateException(e);
            }
        } else {
            configs = new HashMap<>();
        }
    }

    @Override
    public synchronized List<Map<String, Object>> load(String factoryPid) {
        List<Map<String, Object>> out = new ArrayList<>();
        configs.getOrDefault(factoryPid, new TreeMap<>()).values().forEach(m -> out.add(Map.copyOf(m)));
        return out;
    }

    @Override
    public synchronized void save(String factoryPid, String name, Map<String, Object> properties) {
        configs.computeIfAbsent(factoryPid, k -> new TreeMap<>()).put(name, new HashMap<>(properties));
        persist();
    }

    @Override
    public synchronized void delete(String factoryPid, String name) {
        TreeMap<String, HashMap<String, Object>> m = configs.get(factoryPid);
        if (m != null && m.remove(name) != null) {
            persist();
        }
    }

    private void persist() {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        try (ObjectOutputStream out = new ObjectOutputStream(Files.newOutputStream(tmp))) {
            out.writeObject(configs);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        try {
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}

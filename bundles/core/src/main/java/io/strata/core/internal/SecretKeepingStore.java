package io.strata.core.internal;

import static java.util.Objects.requireNonNull;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.service.ResourceInfo;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps the secret parameters of resources (a CHAP secret, a password:
 * {@link ResourceInfo#isSecret}) out of the configuration store. Configuration Admin shows
 * every property to whoever runs {@code config:list} and Karaf writes it to {@code etc/*.cfg};
 * so a secret's value goes to a file of its own, readable by its owner only (mode 0600), and
 * the stored configuration holds {@link #PLACEHOLDER} in its place. Loading puts the value
 * back. A secret found in the configuration itself (written by an older Strata, or by an
 * administrator with {@code config:edit}) is moved into the file when it is loaded.
 *
 * <p>The file is a properties file of {@code <resource>/<parameter>=<value>}, replaced
 * atomically (written beside it, flushed, renamed) before the configuration that refers to
 * it, so a crash leaves either the old pair or the new secret with the old configuration.
 */
final class SecretKeepingStore implements ConfigStore {
    private static final Logger LOG = LoggerFactory.getLogger(SecretKeepingStore.class);
    /** What the configuration holds instead of a secret. */
    static final String PLACEHOLDER = "<kept in strata-secrets.properties>";

    private final ConfigStore inner;
    private final Path file;
    private final Object lock = new Object();

    /**
     * @param inner where the configuration goes
     * @param file where the secrets go (created with mode 0600 on first use)
     */
    SecretKeepingStore(ConfigStore inner, Path file) {
        this.inner = requireNonNull(inner, "inner");
        this.file = requireNonNull(file, "file");
    }

    @Override
    public List<Map<String, Object>> load(String factoryPid) {
        List<Map<String, Object>> all = inner.load(factoryPid);
        if (!RESOURCE_FACTORY_PID.equals(factoryPid)) {
            return all;
        }
        synchronized (lock) {
            Properties secrets = read();
            List<Map<String, Object>> result = new ArrayList<>();
            for (Map<String, Object> props : all) {
                Object name = props.get(HostConfig.NAME);
                Object params = props.get(HostConfig.PARAMETERS);
                if (!(name instanceof String resource) || params == null) {
                    result.add(props);
                    continue;
                }
                Map<String, String> parameters = new HashMap<>(HostConfig.map(params));
                boolean plain = false;
                for (Map.Entry<String, String> e : parameters.entrySet()) {
                    if (!ResourceInfo.isSecret(e.getKey())) {
                        continue;
                    }
                    if (PLACEHOLDER.equals(e.getValue())) {
                        String value = secrets.getProperty(key(resource, e.getKey()));
                        if (value == null) {
                            LOG.warn("resource {}: the value of secret parameter {} is missing from {}; set it again"
                                    + " with storage:resource-set", resource, e.getKey(), file);
                        } else {
                            e.setValue(value);
                        }
                    } else {
                        plain = true;
                    }
                }
                Map<String, Object> loaded = new HashMap<>(props);
                loaded.put(HostConfig.PARAMETERS, HostConfig.pairs(parameters));
                if (plain) {
                    LOG.info("resource {}: its secret parameters move out of the configuration into {}", resource,
                            file);
                    save(factoryPid, resource, loaded);
                }
                result.add(loaded);
            }
            return result;
        }
    }

    @Override
    public void save(String factoryPid, String name, Map<String, Object> properties) {
        if (!RESOURCE_FACTORY_PID.equals(factoryPid) || properties.get(HostConfig.PARAMETERS) == null) {
            inner.save(factoryPid, name, properties);
            return;
        }
        synchronized (lock) {
            Map<String, String> parameters = new HashMap<>(HostConfig.map(properties.get(HostConfig.PARAMETERS)));
            Properties secrets = read();
            boolean changed = secrets.keySet().removeIf(k -> ((String) k).startsWith(name + "/")
                    && !parameters.containsKey(((String) k).substring(name.length() + 1)));
            for (Map.Entry<String, String> e : parameters.entrySet()) {
                if (ResourceInfo.isSecret(e.getKey()) && !PLACEHOLDER.equals(e.getValue())) {
                    Object old = secrets.setProperty(key(name, e.getKey()), e.getValue());
                    changed |= !e.getValue().equals(old);
                    e.setValue(PLACEHOLDER);
                }
            }
            if (changed) {
                write(secrets);
            }
            Map<String, Object> stored = new HashMap<>(properties);
            stored.put(HostConfig.PARAMETERS, HostConfig.pairs(parameters));
            inner.save(factoryPid, name, stored);
        }
    }

    @Override
    public void delete(String factoryPid, String name) {
        inner.delete(factoryPid, name);
        if (!RESOURCE_FACTORY_PID.equals(factoryPid)) {
            return;
        }
        synchronized (lock) {
            Properties secrets = read();
            if (secrets.keySet().removeIf(k -> ((String) k).startsWith(name + "/"))) {
                write(secrets);
            }
        }
    }

    @Override
    public Map<String, Object> loadSingleton(String pid) {
        return inner.loadSingleton(pid);
    }

    @Override
    public void saveSingleton(String pid, Map<String, Object> properties) {
        inner.saveSingleton(pid, properties);
    }

    private static String key(String resource, String parameter) {
        return resource + "/" + parameter;
    }

    private Properties read() {
        Properties p = new Properties();
        try (InputStream in = Files.newInputStream(file)) {
            p.load(in);
        } catch (NoSuchFileException e) {
            // no secret kept yet
        } catch (IOException e) {
            throw new StorageException(ErrorCode.IO_ERROR, "cannot read the secrets file " + file + ": "
                    + e.getMessage(), e);
        }
        return p;
    }

    private void write(Properties secrets) {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        try {
            Files.createDirectories(file.toAbsolutePath().getParent());
            Files.deleteIfExists(tmp);
            Files.createFile(tmp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE);
                    OutputStream out = java.nio.channels.Channels.newOutputStream(ch)) {
                secrets.store(out, "Secret parameters of Strata's storage resources; mode 0600, never shown");
                out.flush();
                ch.force(true);
            }
            try {
                Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
            }
        } catch (IOException | UnsupportedOperationException e) {
            try {
                Files.deleteIfExists(tmp);
            } catch (IOException ignored) {
                // the write failed already
            }
            throw new StorageException(ErrorCode.IO_ERROR, "cannot write the secrets file " + file + ": "
                    + e.getMessage(), e);
        }
    }
}

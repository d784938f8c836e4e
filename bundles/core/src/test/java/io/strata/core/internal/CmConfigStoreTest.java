package io.strata.core.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.api.format.Provisioning;
import io.strata.api.service.Availability;
import io.strata.api.service.VolumeRef;
import java.lang.reflect.Proxy;
import java.nio.file.Path;
import java.util.Dictionary;
import java.util.Hashtable;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.osgi.framework.Filter;
import org.osgi.framework.FrameworkUtil;
import org.osgi.service.cm.Configuration;
import org.osgi.service.cm.ConfigurationAdmin;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The Configuration Admin store against a small in-memory ConfigurationAdmin. */
class CmConfigStoreTest {
    @TempDir
    Path tmp;

    /** Just enough of Configuration Admin: named factory configurations, filters, update, delete. */
    static final class FakeCm {
        final Map<String, Hashtable<String, Object>> configs = new TreeMap<>();

        ConfigurationAdmin admin() {
            return (ConfigurationAdmin) Proxy.newProxyInstance(getClass().getClassLoader(),
                    new Class<?>[] {ConfigurationAdmin.class}, (p, m, args) -> switch (m.getName()) {
                        case "getFactoryConfiguration" -> config((String) args[0] + "~" + args[1], (String) args[0]);
                        case "listConfigurations" -> list((String) args[0]);
                        default -> throw new UnsupportedOperationException(m.getName());
                    });
        }

        private Configuration[] list(String filter) throws Exception {
            Filter f = FrameworkUtil.createFilter(filter);
            Configuration[] found = configs.entrySet().stream().filter(e -> f.match(e.getValue()))
                    .map(e -> config(e.getKey(), (String) e.getValue().get("service.factoryPid")))
                    .toArray(Configuration[]::new);
            return found.length == 0 ? null : found;
        }

        private Configuration config(String pid, String factoryPid) {
            return (Configuration) Proxy.newProxyInstance(getClass().getClassLoader(),
                    new Class<?>[] {Configuration.class}, (p, m, args) -> switch (m.getName()) {
                        case "getPid" -> pid;
                        case "getFactoryPid" -> factoryPid;
                        case "getProperties" -> configs.containsKey(pid) ? new Hashtable<>(configs.get(pid)) : null;
                        case "update" -> {
                            @SuppressWarnings("unchecked")
                            Dictionary<String, Object> d = (Dictionary<String, Object>) args[0];
                            Hashtable<String, Object> h = new Hashtable<>();
                            for (var k = d.keys(); k.hasMoreElements();) {
                                String key = k.nextElement();
                                h.put(key, d.get(key));
                            }
                            h.put("service.pid", pid);
                            h.put("service.factoryPid", factoryPid);
                            configs.put(pid, h);
                            yield null;
                        }
                        case "delete" -> {
                            configs.remove(pid);
                            yield null;
                        }
                        case "hashCode" -> pid.hashCode();
                        case "equals" -> p == args[0];
                        case "toString" -> "Configuration[" + pid + "]";
                        default -> throw new UnsupportedOperationException(m.getName());
                    });
        }
    }

    @Test
    void namedFactoryConfigurationsRoundTrip() {
        FakeCm cm = new FakeCm();
        CmConfigStore store = new CmConfigStore(cm.admin());
        store.save("io.strata.resource", "r1", new HostConfig.Resource("r1", "local",
                Map.of("path", "/x", "kind", "directory")).toProperties());
        store.save("io.strata.datastore", "ds1", new HostConfig.Datastore("ds1", "dir", "r1", "dir",
                Map.of()).toProperties());
        Hashtable<String, Object> raw = cm.configs.get("io.strata.resource~r1");
        assertArrayEquals(new String[] {"kind=directory", "path=/x"}, (String[]) raw.get("parameters"));
        List<Map<String, Object>> loaded = store.load("io.strata.resource");
        assertEquals(1, loaded.size());
        assertEquals(new HostConfig.Resource("r1", "local", Map.of("path", "/x", "kind", "directory")),
                HostConfig.Resource.fromProperties(loaded.get(0)));
        store.delete("io.strata.resource", "r1");
        store.delete("io.strata.resource", "never");
        assertTrue(store.load("io.strata.resource").isEmpty());
        assertEquals(1, store.load("io.strata.datastore").size());
    }

    @Test
    void theCoreSurvivesARestartThroughConfigurationAdmin() {
        FakeCm cm = new FakeCm();
        CoreSettings settings = new CoreSettings(true, "local", tmp.resolve("default"), tmp.resolve("state"));
        StrataCore core = new StrataCore(new CmConfigStore(cm.admin()), settings);
        assertEquals(List.of("io.strata.datastore~local", "io.strata.resource~local"), List.copyOf(cm.configs.keySet()));
        core.close();

        core = new StrataCore(new CmConfigStore(cm.admin()), settings);
        try {
            core.addFilesystem(new TestFs(new Faults(), Fixture.CAPACITY, false), "dir", "fs");
            core.addDriver(new TestDriver(), "local", "drv");
            core.addFormat(TestFormat.raw(), "raw", "raw");
            assertEquals(Availability.ONLINE, core.info("local").state());
            core.create(VolumeRef.parse("local/v"), 4096, "raw", Provisioning.THIN);
            assertEquals(2, cm.configs.size(), "volumes live in the catalog, not in Configuration Admin");
        } finally {
            core.close();
        }
    }
}

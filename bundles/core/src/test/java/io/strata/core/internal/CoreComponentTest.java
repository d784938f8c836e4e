package io.strata.core.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.api.device.StorageDriver;
import io.strata.api.fs.DatastoreFilesystem;
import io.strata.api.service.PluginInfo;
import io.strata.api.service.PluginKind;
import java.lang.reflect.Proxy;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.osgi.framework.Bundle;
import org.osgi.framework.ServiceReference;
import org.osgi.util.converter.Converters;

/** The DS side: configuration conversion, placeholder resolution, bind methods reading service properties. */
class CoreComponentTest {
    @TempDir
    Path tmp;

    @Test
    void defaultsOfTheConfiguration() {
        CoreConfig c = Converters.standardConverter().convert(Map.of()).to(CoreConfig.class);
        assertTrue(c.default_datastore_enabled());
        assertEquals("local", c.default_datastore_name());
        assertEquals("${karaf.data}/datastores/local", c.default_datastore_path());
    }

    @Test
    void karafDataIsResolvedWithAFallback() {
        CoreConfig c = Converters.standardConverter()
                .convert(Map.of("default.datastore.enabled", "false", "default.datastore.name", "main",
                        "default.datastore.path", "${karaf.data}/ds/${user.name}"))
                .to(CoreConfig.class);
        String old = System.getProperty("karaf.data");
        try {
            System.setProperty("karaf.data", tmp.toString());
            CoreSettings s = CoreSettings.from(c);
            assertEquals(false, s.defaultEnabled());
            assertEquals("main", s.defaultName());
            assertEquals(tmp.resolve("ds").resolve(System.getProperty("user.name")), s.defaultPath());
            assertEquals(tmp.resolve("strata"), s.stateDir());
            System.clearProperty("karaf.data");
            assertEquals(Path.of(System.getProperty("java.io.tmpdir"), "strata", "ds",
                    System.getProperty("user.name")).toAbsolutePath(), CoreSettings.from(c).defaultPath());
        } finally {
            if (old != null) {
                System.setProperty("karaf.data", old);
            } else {
                System.clearProperty("karaf.data");
            }
        }
    }

    @SuppressWarnings("unchecked")
    private static <T> ServiceReference<T> reference(String property, String type, String bsn) {
        Bundle bundle = (Bundle) Proxy.newProxyInstance(CoreComponentTest.class.getClassLoader(),
                new Class<?>[] {Bundle.class}, (p, m, a) -> m.getName().equals("getSymbolicName") ? bsn : null);
        return (ServiceReference<T>) Proxy.newProxyInstance(CoreComponentTest.class.getClassLoader(),
                new Class<?>[] {ServiceReference.class}, (p, m, a) -> switch (m.getName()) {
                    case "getProperty" -> property.equals(a[0]) ? type : null;
                    case "getBundle" -> bundle;
                    default -> null;
                });
    }

    @Test
    void bindMethodsLearnTypeAndBundleFromTheReference() {
        StrataCore core = new StrataCore(new MemoryConfigStore(),
                new CoreSettings(false, "local", tmp, tmp.resolve("state")));
        try {
            TestDriver driver = new TestDriver();
            ServiceReference<StorageDriver> dref = reference(StorageDriver.TYPE_PROPERTY, "local", "io.strata.driver-local");
            core.bindDriver(dref, driver);
            TestFs fs = new TestFs(new Faults(), 1, false);
            ServiceReference<DatastoreFilesystem> fref = reference("other", "x", "io.strata.fs-dir");
            core.bindFilesystem(fref, fs);
            List<PluginInfo> plugins = new ResourceServiceImpl(core).plugins().stream()
                    .filter(p -> !p.bundle().endsWith("(built in)")).toList();
            assertEquals(List.of(
                    new PluginInfo(PluginKind.DRIVER, "local", "test driver", driver.capabilities(),
                            "io.strata.driver-local"),
                    new PluginInfo(PluginKind.FILESYSTEM, "dir", "test filesystem", fs.capabilities(),
                            "io.strata.fs-dir")), plugins, "type from the property, else from type()");
            core.unbindDriver(dref, driver);
            core.unbindDriver(dref, driver);
            core.unbindFilesystem(fref, fs);
            assertEquals(List.of("rdm"), core.plugins().stream().map(PluginInfo::type).toList(),
                    "only the built-in format is left");
        } finally {
            core.deactivate();
            core.deactivate();
        }
    }
}

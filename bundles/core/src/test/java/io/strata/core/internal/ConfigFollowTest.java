package io.strata.core.internal;

import static io.strata.core.internal.Assertions2.fails;
import static io.strata.core.internal.Fixture.ref;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.api.ErrorCode;
import io.strata.api.format.Provisioning;
import io.strata.api.format.VirtualDisk;
import io.strata.api.service.Availability;
import io.strata.api.service.DatastoreInfo;
import java.lang.reflect.Proxy;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.osgi.framework.ServiceReference;
import org.osgi.service.cm.ConfigurationAdmin;
import org.osgi.service.cm.ConfigurationEvent;

/** Configuration changed outside the services (config:edit, .cfg files, config:delete) is followed. */
class ConfigFollowTest {
    @TempDir
    Path tmp;
    Fixture f;
    HostConfigListener listener;

    @BeforeEach
    void setUp() {
        f = Fixture.withDatastore(tmp);
        listener = new HostConfigListener(f.core);
    }

    @AfterEach
    void tearDown() {
        f.close();
    }

    @SuppressWarnings("unchecked")
    private void event(int type, String factoryPid, String name) {
        ServiceReference<ConfigurationAdmin> ref = (ServiceReference<ConfigurationAdmin>) Proxy.newProxyInstance(
                getClass().getClassLoader(), new Class<?>[] {ServiceReference.class}, (p, m, a) -> null);
        listener.configurationEvent(new ConfigurationEvent(ref, type, factoryPid, factoryPid + "~" + name));
    }

    @Test
    void ownChangesChangeNothing() {
        f.core.create(ref("ds1/v"), 4096, "tst", Provisioning.THIN);
        VirtualDisk open = f.core.open(ref("ds1/v"), false);
        event(ConfigurationEvent.CM_UPDATED, ConfigStore.DATASTORE_FACTORY_PID, "ds1");
        event(ConfigurationEvent.CM_UPDATED, ConfigStore.RESOURCE_FACTORY_PID, "r1");
        event(ConfigurationEvent.CM_UPDATED, "some.other.factory", "x");
        open.write(ByteBuffer.allocate(512), 0); // still valid: nothing was remounted
        open.close();
        assertEquals(1, f.driver.attaches.get());
    }

    @Test
    void aDatastoreConfiguredByHandComesOnline() throws Exception {
        Path dir = tmp.resolve("r2");
        f.store.save(ConfigStore.RESOURCE_FACTORY_PID, "r2", Map.of("name", "r2", "driver", "local",
                "parameters", new String[] {"kind=directory", "path=" + dir}));
        event(ConfigurationEvent.CM_UPDATED, ConfigStore.RESOURCE_FACTORY_PID, "r2");
        assertEquals(Availability.ONLINE, f.resources.resource("r2").state());
        f.store.save(ConfigStore.DATASTORE_FACTORY_PID, "ds2", Map.of("name", "ds2", "filesystem", "dir",
                "device", "r2/dir"));
        event(ConfigurationEvent.CM_UPDATED, ConfigStore.DATASTORE_FACTORY_PID, "ds2");
        DatastoreInfo info = f.core.info("ds2");
        assertEquals(Availability.ONLINE, info.state(), info.message());
        assertTrue(Files.exists(dir.resolve(Catalog.FILE)));
    }

    @Test
    void deletedConfigurationReleasesTheDatastoreAndKeepsItsFiles() {
        f.core.create(ref("ds1/v"), 4096, "tst", Provisioning.THIN);
        VirtualDisk open = f.core.open(ref("ds1/v"), true);
        f.store.delete(ConfigStore.DATASTORE_FACTORY_PID, "ds1");
        event(ConfigurationEvent.CM_DELETED, ConfigStore.DATASTORE_FACTORY_PID, "ds1");
        fails(ErrorCode.DATASTORE_NOT_FOUND, () -> f.core.info("ds1"));
        fails(ErrorCode.DEVICE_UNAVAILABLE, () -> open.read(ByteBuffer.allocate(1), 0));
        open.close();
        assertTrue(Files.exists(f.dsDir().resolve("v.tst")));
        assertEquals(List.of(), f.core.list());
        f.resources.remove("r1"); // no longer carries a datastore
    }

    @Test
    void aChangedResourceIsAttachedAgainWithItsDatastores() {
        f.core.create(ref("ds1/v"), 4096, "tst", Provisioning.THIN);
        f.store.save(ConfigStore.RESOURCE_FACTORY_PID, "r1", Map.of("name", "r1", "driver", "local",
                "parameters", new String[] {"kind=directory", "path=" + f.dsDir(), "create=true"}));
        event(ConfigurationEvent.CM_UPDATED, ConfigStore.RESOURCE_FACTORY_PID, "r1");
        assertEquals(Map.of("kind", "directory", "path", f.dsDir().toString(), "create", "true"),
                f.resources.resource("r1").parameters());
        assertEquals(2, f.driver.attaches.get());
        assertTrue(f.driver.open.get(0).closed, "the old attachment is released");
        assertEquals(Availability.ONLINE, f.core.info("ds1").state());
        assertEquals(1, f.core.list("ds1").size());
    }
}

package io.strata.core.internal;

import static io.strata.core.internal.Assertions2.fails;
import static io.strata.core.internal.Fixture.ref;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.api.ErrorCode;
import io.strata.api.device.DeviceInfo;
import io.strata.api.format.Provisioning;
import io.strata.api.format.VirtualDisk;
import io.strata.api.service.Availability;
import io.strata.api.service.DatastoreInfo;
import io.strata.api.service.ResourceInfo;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Resources and datastores as host configuration: creation rules, persistence, the embedded default. */
class HostConfigTest {
    @TempDir
    Path tmp;

    @Test
    void resourcesAreAddedListedAndRemoved() {
        try (Fixture f = new Fixture(tmp)) {
            ResourceInfo r = f.resources.add("r1", "local", Map.of("kind", "directory", "path", tmp + "/r1"));
            assertEquals(Availability.ONLINE, r.state());
            assertEquals("local", r.driver());
            assertEquals(Map.of("kind", "directory", "path", tmp + "/r1"), r.parameters());
            assertEquals(List.of(r), f.resources.resources());
            fails(ErrorCode.ALREADY_EXISTS, () -> f.resources.add("r1", "local", Map.of()));
            fails(ErrorCode.DRIVER_NOT_FOUND, () -> f.resources.add("r2", "iscsi", Map.of()));
            fails(ErrorCode.INVALID_ARGUMENT, () -> f.resources.add("r2", "local", Map.of("kind", "directory")));
            assertEquals(1, f.resources.resources().size());
            List<DeviceInfo> devices = f.resources.devices("r1");
            assertEquals("r1/dir", devices.get(0).ref());
            assertEquals(devices, f.resources.devices(null));
            fails(ErrorCode.RESOURCE_NOT_FOUND, () -> f.resources.devices("r9"));
            f.resources.remove("r1");
            fails(ErrorCode.RESOURCE_NOT_FOUND, () -> f.resources.resource("r1"));
            fails(ErrorCode.RESOURCE_NOT_FOUND, () -> f.resources.remove("r1"));
            assertTrue(f.store.load(ConfigStore.RESOURCE_FACTORY_PID).isEmpty());
        }
    }

    @Test
    void datastoreDeviceResolution() {
        try (Fixture f = new Fixture(tmp)) {
            f.resources.add("multi", "local", Map.of("kind", "multi", "path", tmp + "/m"));
            f.resources.add("lun", "local", Map.of("kind", "file-lun", "path", tmp + "/lun.img"));
            f.resources.add("d", "local", Map.of("kind", "directory", "path", tmp + "/d"));
            fails(ErrorCode.INVALID_ARGUMENT, () -> f.core.create("x", "dir", "multi", Map.of(), false));
            fails(ErrorCode.DEVICE_NOT_FOUND, () -> f.core.create("x", "dir", "multi/c", Map.of(), false));
            fails(ErrorCode.RESOURCE_NOT_FOUND, () -> f.core.create("x", "dir", "nores", Map.of(), false));
            fails(ErrorCode.FILESYSTEM_NOT_FOUND, () -> f.core.create("x", "vims", "d", Map.of(), false));
            fails(ErrorCode.INVALID_ARGUMENT, () -> f.core.create("x", "dir", "lun", Map.of(), false));
            DatastoreInfo a = f.core.create("a", "dir", "multi/a", Map.of(), false);
            assertEquals("multi/a", a.device());
            assertEquals(Availability.ONLINE, a.state());
            DatastoreInfo d = f.core.create("dd", "dir", "d", Map.of("opt", "1"), false);
            assertEquals("d/dir", d.device(), "the only device of d");
            assertEquals(Map.of("opt", "1"), d.options());
            fails(ErrorCode.RESOURCE_IN_USE, () -> f.core.create("other", "dir", "d/dir", Map.of(), false));
            fails(ErrorCode.RESOURCE_IN_USE, () -> f.core.create("other", "dir", "multi/a", Map.of(), false));
            fails(ErrorCode.ALREADY_EXISTS, () -> f.core.create("a", "dir", "multi/b", Map.of(), false));
            fails(ErrorCode.RESOURCE_IN_USE, () -> f.resources.remove("d"));
            assertEquals(List.of("a", "dd"), f.core.list().stream().map(DatastoreInfo::name).toList());
            assertEquals(0, f.fs.formatted.get(), "dir does not format");
        }
    }

    @Test
    void aFilesystemThatFormatsIsAskedTo() {
        try (Fixture f = new Fixture(tmp)) {
            f.core.removeFilesystem(f.fs);
            TestFs formatting = new TestFs(f.faults, Fixture.CAPACITY, true);
            f.core.addFilesystem(formatting, "dir", "io.strata.test.fs2");
            f.resources.add("d", "local", Map.of("kind", "directory", "path", tmp + "/d"));
            f.core.create("a", "dir", "d", Map.of(), true);
            assertEquals(1, formatting.formatted.get());
        }
    }

    @Test
    void configurationSurvivesARestart() throws Exception {
        try (Fixture f = Fixture.withDatastore(tmp)) {
            f.core.create(ref("ds1/v"), 1 << 20, "tst", Provisioning.THIN);
            try (VirtualDisk d = f.core.open(ref("ds1/v"), false)) {
                d.write(ByteBuffer.wrap(new byte[] {4, 2}), 0);
            }
            Map<String, Object> props = f.store.get(ConfigStore.DATASTORE_FACTORY_PID, "ds1");
            assertEquals("ds1", props.get("name"));
            assertEquals("dir", props.get("filesystem"));
            assertEquals("r1/dir", props.get("device"));
            assertArrayEquals(new String[0], (String[]) props.get("options"));
            Map<String, Object> res = f.store.get(ConfigStore.RESOURCE_FACTORY_PID, "r1");
            assertEquals("local", res.get("driver"));
            assertArrayEquals(new String[] {"kind=directory", "path=" + f.dsDir()}, (String[]) res.get("parameters"));

            f.restart();

            assertEquals(Availability.ONLINE, f.resources.resource("r1").state());
            assertEquals(Availability.ONLINE, f.core.info("ds1").state());
            try (VirtualDisk d = f.core.open(ref("ds1/v"), true)) {
                ByteBuffer b = ByteBuffer.allocate(2);
                d.read(b, 0);
                assertArrayEquals(new byte[] {4, 2}, b.array());
            }
        }
    }

    @Test
    void beforeItsPluginsArriveADatastoreIsUnavailableWithAReason() {
        MemoryConfigStore store = new MemoryConfigStore();
        store.save(ConfigStore.RESOURCE_FACTORY_PID, "r", new HostConfig.Resource("r", "local",
                Map.of("kind", "directory", "path", tmp + "/r")).toProperties());
        store.save(ConfigStore.DATASTORE_FACTORY_PID, "ds", new HostConfig.Datastore("ds", "dir", "r", "dir",
                Map.of()).toProperties());
        store.save(ConfigStore.DATASTORE_FACTORY_PID, "broken", Map.of("name", "broken"));
        StrataCore core = new StrataCore(store, new CoreSettings(false, "local", tmp, tmp.resolve("state")));
        ResourceServiceImpl resources = new ResourceServiceImpl(core);
        try {
            assertEquals(List.of("ds"), core.list().stream().map(DatastoreInfo::name).toList(), "malformed skipped");
            assertEquals("driver 'local' is not installed", resources.resource("r").message());
            core.addFilesystem(new TestFs(new Faults(), Fixture.CAPACITY, false), "dir", "fs");
            assertTrue(core.info("ds").message().contains("resource 'r' is unavailable"), core.info("ds").message());
            core.addDriver(new TestDriver(), "local", "drv");
            assertEquals(Availability.ONLINE, core.info("ds").state());
        } finally {
            core.close();
        }
    }

    @Test
    void theEmbeddedDefaultIsCreatedOnceAndComesOnlineWithItsPlugins() throws Exception {
        try (Fixture f = new Fixture(tmp, true)) {
            ResourceInfo r = f.resources.resource("local");
            assertEquals("local", r.driver());
            assertEquals(Map.of("kind", "directory", "path", tmp.resolve("default").toString()), r.parameters());
            DatastoreInfo d = f.core.info("local");
            assertEquals("dir", d.filesystem());
            assertEquals("local/dir", d.device());
            assertEquals(Availability.ONLINE, d.state());
            assertEquals(tmp.resolve("default").toString(), d.path());
            assertTrue(Files.exists(tmp.resolve("state").resolve(StrataCore.DEFAULT_MARKER)));
            f.core.create(ref("local/v"), 4096, "tst", Provisioning.THIN);

            f.restart();
            assertEquals(1, f.core.list().size());
            assertEquals(1, f.core.list("local").size());

            f.core.delete(ref("local/v"));
            f.core.remove("local");
            f.resources.remove("local");
            f.restart();
            assertTrue(f.core.list().isEmpty(), "removed by the user: not brought back");
            assertTrue(f.resources.resources().isEmpty());
        }
    }

    @Test
    void theEmbeddedDefaultCanBeTurnedOff() {
        try (Fixture f = new Fixture(tmp, false)) {
            assertTrue(f.core.list().isEmpty());
            assertFalse(Files.exists(tmp.resolve("state").resolve(StrataCore.DEFAULT_MARKER)));
        }
    }
}

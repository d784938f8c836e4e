package io.strata.core.internal;

import io.strata.api.format.DiskFormat;
import io.strata.api.service.VolumeRef;
import java.nio.file.Path;
import java.util.Map;

/**
 * A core over a config store, with the test driver ("local"), filesystem
 * ("dir") and formats ("tst", "raw") bound, and a datastore "ds1" on a
 * directory resource "r1". {@link #restart} builds a new core over the same
 * configuration and directories, as a container restart does.
 */
final class Fixture implements AutoCloseable {
    static final long CAPACITY = 64L << 20;

    final Path root;
    final MemoryConfigStore store = new MemoryConfigStore();
    final Faults faults = new Faults();
    final CoreSettings settings;
    StrataCore core;
    ResourceServiceImpl resources;
    TestDriver driver;
    TestFs fs;
    TestFormat tst;
    TestFormat raw;

    Fixture(Path root) {
        this(root, false);
    }

    Fixture(Path root, boolean embeddedDefault) {
        this(root, new CoreSettings(embeddedDefault, "local", root.resolve("default"), root.resolve("state")));
    }

    /** A fixture whose core has these settings (timed retries, for one). */
    Fixture(Path root, CoreSettings settings) {
        this.root = root;
        this.settings = settings;
        start();
    }

    /** A fresh fixture with resource r1 and datastore ds1 created through the services. */
    static Fixture withDatastore(Path root) {
        Fixture f = new Fixture(root);
        f.resources.add("r1", "local", Map.of("kind", "directory", "path", f.dsDir().toString()));
        f.core.create("ds1", "dir", "r1", Map.of(), false);
        return f;
    }

    Path dsDir() {
        return root.resolve("ds1");
    }

    void start() {
        core = new StrataCore(store, settings);
        resources = new ResourceServiceImpl(core);
        driver = new TestDriver();
        fs = new TestFs(faults, CAPACITY, false);
        tst = TestFormat.tst();
        raw = TestFormat.raw();
        core.addFormat(tst, "tst", "io.strata.test.tst");
        core.addFormat(raw, "raw", "io.strata.test.raw");
        core.addFilesystem(fs, "dir", "io.strata.test.fs");
        core.addDriver(driver, "local", "io.strata.test.driver");
    }

    void restart() {
        core.close();
        faults.disarm();
        start();
    }

    DiskFormat format(String type) {
        return type.equals("raw") ? raw : tst;
    }

    static VolumeRef ref(String text) {
        return VolumeRef.parse(text);
    }

    @Override
    public void close() {
        core.close();
    }
}

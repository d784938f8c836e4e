package io.strata.shell.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.TreeSet;
import java.util.jar.Manifest;
import java.util.stream.Stream;
import org.apache.karaf.shell.api.action.Command;
import org.apache.karaf.shell.api.action.lifecycle.Service;
import org.junit.jupiter.api.Test;

/** The bundle as Karaf's shell extender sees it. */
class BundleTest {
    private static final Path CLASSES = Path.of("target/classes");

    @Test
    void manifestNamesTheCommandPackagesAndImportsOnlyKarafApiAndSupport() throws IOException {
        // bnd-process writes the manifest into target/classes before the tests run.
        Manifest mf;
        try (InputStream in = Files.newInputStream(CLASSES.resolve("META-INF/MANIFEST.MF"))) {
            mf = new Manifest(in);
        }
        var main = mf.getMainAttributes();
        assertEquals("io.strata.shell.internal*", main.getValue("Karaf-Commands"));
        assertEquals("io.strata.shell", main.getValue("Bundle-SymbolicName"));
        String imports = main.getValue("Import-Package");
        assertTrue(imports.contains("org.apache.karaf.shell.api.action;"), imports);
        assertTrue(imports.contains("org.apache.karaf.shell.api.action.lifecycle;"), imports);
        assertTrue(imports.contains("org.apache.karaf.shell.api.console;"), imports);
        assertTrue(imports.contains("io.strata.api.service;"), imports);
        assertFalse(imports.contains(".impl"), imports);
        assertEquals(null, main.getValue("Export-Package"));
    }

    @Test
    void everyCommandIsAKarafServiceInTheStorageScope() throws Exception {
        Set<String> names = new TreeSet<>();
        for (Class<?> c : classes("io/strata/shell/internal", "Command")) {
            Command cmd = c.getAnnotation(Command.class);
            assertNotNull(cmd, c.getName());
            assertNotNull(c.getAnnotation(Service.class), c.getName());
            assertEquals("storage", cmd.scope(), c.getName());
            assertFalse(cmd.description().isBlank(), c.getName());
            names.add(cmd.name());
        }
        assertEquals(new TreeSet<>(Set.of("driver-list", "resource-add", "resource-list", "resource-remove",
                "device-list", "datastore-create", "datastore-list", "datastore-info", "datastore-remove",
                "volume-create", "volume-list", "volume-info", "volume-resize", "volume-delete", "volume-import",
                "snapshot-create", "snapshot-list", "snapshot-revert", "snapshot-delete", "task-list", "task-cancel",
                "volume-clone", "volume-reclaim", "volume-check", "volume-usage", "export-add", "export-list",
                "export-remove", "volume-stats", "volume-qos", "host-info", "path-list", "path-set", "resource-set",
                "volume-map", "datastore-check", "datastore-grow", "token-create", "token-list", "token-revoke",
                "audit-list")),
                names);
        assertEquals(41, names.size());
    }

    @Test
    void everyCompleterIsAKarafService() throws Exception {
        Set<String> found = new TreeSet<>();
        for (Class<?> c : classes("io/strata/shell/internal/completers", "Completer")) {
            assertNotNull(c.getAnnotation(Service.class), c.getName());
            found.add(c.getSimpleName());
        }
        assertEquals(new TreeSet<>(Set.of("DatastoreNameCompleter", "VolumeRefCompleter", "ResourceNameCompleter",
                "PathIdCompleter",
                "DeviceRefCompleter", "DriverTypeCompleter", "FilesystemTypeCompleter", "FormatTypeCompleter",
                "ProvisioningCompleter", "FreeTextCompleter", "SnapshotNameCompleter", "VolumeOrSnapshotCompleter",
                "TaskIdCompleter", "ExportNameCompleter", "NewVolumeRefCompleter", "TokenIdCompleter")), found);
    }

    @Test
    void everyArgumentHasACompleterSoCompletionReachesTheLaterOnes() throws Exception {
        // Karaf completes argument n only when arguments 0..n-1 each pass their own completer;
        // an argument without one stops completion of everything after it.
        for (Class<?> c : classes("io/strata/shell/internal", "Command")) {
            for (Class<?> t = c; t != Object.class; t = t.getSuperclass()) {
                for (java.lang.reflect.Field f : t.getDeclaredFields()) {
                    if (f.isAnnotationPresent(org.apache.karaf.shell.api.action.Argument.class)) {
                        assertNotNull(f.getAnnotation(org.apache.karaf.shell.api.action.Completion.class),
                                c.getSimpleName() + "." + f.getName());
                    }
                }
            }
        }
    }

    /** @return the concrete classes of a package whose simple names end with the suffix */
    private static Set<Class<?>> classes(String dir, String suffix) throws Exception {
        Set<Class<?>> result = new java.util.HashSet<>();
        try (Stream<Path> files = Files.list(CLASSES.resolve(dir))) {
            for (Path p : (Iterable<Path>) files::iterator) {
                String f = p.getFileName().toString();
                if (f.endsWith(suffix + ".class")) {
                    Class<?> c = Class.forName(dir.replace('/', '.') + "." + f.substring(0, f.length() - 6));
                    if (!java.lang.reflect.Modifier.isAbstract(c.getModifiers())) {
                        result.add(c);
                    }
                }
            }
        }
        return result;
    }
}

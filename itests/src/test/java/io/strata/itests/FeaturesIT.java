package io.strata.itests;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import javax.inject.Inject;

import org.apache.karaf.features.FeaturesService;
import org.junit.Test;
import org.osgi.framework.Bundle;

/** The distribution boots Strata: every feature installed, every bundle active, commands there. */
public class FeaturesIT extends StrataTestSupport {

    static final List<String> FEATURES = List.of(
            "strata", "strata-api", "strata-core",
            "strata-format-raw", "strata-format-vhd", "strata-format-qcow2",
            "strata-driver-local", "strata-driver-iscsi", "strata-driver-fc", "strata-driver-nas", "strata-fs-dir", "strata-fs-ext4", "strata-fs-vims", "strata-fs-nfs", "strata-shell", "strata-nbd",
            "strata-rest");

    static final Set<String> BUNDLES = Set.of(
            "io.strata.api", "io.strata.core",
            "io.strata.format-raw", "io.strata.format-vhd", "io.strata.format-qcow2",
            "io.strata.driver-local", "io.strata.fs-dir", "io.strata.fs-ext4", "io.strata.fs-vims", "io.strata.fs-nfs", "io.strata.shell", "io.strata.nbd",
            "io.strata.lease", "io.strata.multipath", "io.strata.driver-iscsi", "io.strata.driver-fc", "io.strata.driver-nas",
            "io.strata.rest");

    @Inject
    protected FeaturesService featuresService;

    @Test
    public void everyStrataFeatureIsInstalled() throws Exception {
        for (String name : FEATURES) {
            assertTrue("feature " + name + " not installed",
                    featuresService.isInstalled(featuresService.getFeature(name)));
        }
        // and as a user sees it (feature:* commands are ACL-guarded: run as admin)
        String listed = ok("feature:list -i");
        for (String name : FEATURES) {
            assertTrue(name + " missing from feature:list -i:\n" + listed, listed.contains(name + " "));
        }
    }

    @Test
    public void everyStrataBundleIsActive() {
        Set<String> present = new TreeSet<>();
        await(() -> "strata bundles not all ACTIVE: " + states(), () -> {
            present.clear();
            boolean allActive = true;
            for (Bundle bundle : bundleContext.getBundles()) {
                String name = bundle.getSymbolicName();
                if (name != null && name.startsWith("io.strata.")) {
                    present.add(name);
                    allActive &= bundle.getState() == Bundle.ACTIVE;
                }
            }
            return allActive && present.containsAll(BUNDLES);
        });
        // The posix helper library is embedded, never deployed on its own.
        assertEquals(new TreeSet<>(BUNDLES), present);
    }

    @Test
    public void storageCommandsAreRegistered() {
        String help = awaitOutput("help storage", out -> out.contains("volume-create") && out.contains("export-add"));
        for (String command : List.of("driver-list", "resource-add", "resource-list", "resource-remove",
                "device-list", "datastore-create", "datastore-list", "datastore-info", "datastore-remove",
                "volume-create", "volume-list", "volume-info", "volume-resize", "volume-delete",
                "volume-import", "volume-clone", "volume-check", "volume-reclaim", "volume-usage",
                "snapshot-create", "snapshot-list", "snapshot-revert", "snapshot-delete", "task-list", "task-cancel",
                "export-add", "export-list", "export-remove", "host-info", "token-create", "token-list", "token-revoke",
                "audit-list")) {
            assertTrue("storage:" + command + " missing from:\n" + help, help.contains(command));
        }
    }

    private String states() {
        return Stream.of(bundleContext.getBundles())
                .filter(b -> b.getSymbolicName() != null && b.getSymbolicName().startsWith("io.strata."))
                .map(b -> b.getSymbolicName() + "=" + b.getState())
                .collect(Collectors.joining(", "));
    }
}

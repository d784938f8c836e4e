package io.strata.itests;

import static org.junit.Assert.assertTrue;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;

/** Where a Strata bundle jar can be taken from inside the test container, for hot deploy. */
final class BundleJars {
    private BundleJars() {
    }

    /**
     * The jar as Maven installed it (~/.m2), else the copy the distribution carries in its
     * system/ repository (the same artifact).
     *
     * @param artifactId e.g. {@code strata-driver-local}
     */
    static Path jar(String artifactId) {
        String version = System.getProperty("strata.version", "0.1.0-SNAPSHOT");
        Path m2 = Paths.get(System.getProperty("user.home"), ".m2/repository/io/strata", artifactId, version,
                artifactId + "-" + version + ".jar");
        if (Files.isRegularFile(m2)) {
            return m2;
        }
        File dir = new File(System.getProperty("karaf.home"), "system/io/strata/" + artifactId + "/" + version);
        File[] jars = dir.listFiles((d, n) -> n.endsWith(".jar"));
        assertTrue("no " + artifactId + " jar in " + m2 + " or " + dir, jars != null && jars.length == 1);
        return jars[0].toPath();
    }

    /** Karaf's deploy/ folder, watched by Felix FileInstall. */
    static Path deployFolder() {
        return Paths.get(System.getProperty("karaf.base"), "deploy");
    }
}

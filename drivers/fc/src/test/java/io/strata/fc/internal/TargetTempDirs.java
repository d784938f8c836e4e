package io.strata.fc.internal;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.extension.AnnotatedElementContext;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.io.TempDirFactory;

/**
 * Makes test directories under the module's {@code target} directory rather than in
 * {@code /tmp}: {@code O_DIRECT} fails on tmpfs before Linux 6.6, and the fake disks of
 * these tests are opened with it.
 */
public final class TargetTempDirs implements TempDirFactory {
    @Override
    public Path createTempDirectory(AnnotatedElementContext element, ExtensionContext context) throws Exception {
        Path base = Path.of(System.getProperty("basedir", "."), "target", "test-tmp").toAbsolutePath();
        Files.createDirectories(base);
        return Files.createTempDirectory(base, "fc-");
    }
}

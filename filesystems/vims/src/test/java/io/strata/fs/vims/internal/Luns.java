package io.strata.fs.vims.internal;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/**
 * Where tests that run many journal commits keep their LUN file: in memory (/dev/shm) when the
 * machine has it, where a flush costs nothing, else in the test's temporary directory. These
 * tests look at what hosts see of each other, not at durability (the Crash tests do that).
 */
final class Luns {
    private static final List<Path> MADE = new ArrayList<>();

    private Luns() {
    }

    static synchronized Path dir(Path fallback) {
        Path shm = Path.of("/dev/shm");
        if (Files.isDirectory(shm) && Files.isWritable(shm)) {
            try {
                Path d = Files.createTempDirectory(shm, "strata-vims-test-");
                MADE.add(d);
                return d;
            } catch (IOException e) {
                // the fallback
            }
        }
        return fallback;
    }

    static synchronized void cleanUp() {
        for (Path d : MADE) {
            try (Stream<Path> s = Files.walk(d)) {
                s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        MADE.clear();
    }
}

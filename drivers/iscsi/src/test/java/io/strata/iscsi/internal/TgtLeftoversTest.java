package io.strata.iscsi.internal;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.strata.testing.Tgt;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A tgtd that was killed leaves its control socket and lock file in /var/run/tgtd. Over many
 * runs they took up most of the control ports the tests pick from, and a private tgtd could
 * not be started. Here every free control port looks taken by such leftovers: the tests' tgtd
 * still starts (it reclaims files no live tgtd holds), and stopping it removes its own files.
 */
class TgtLeftoversTest {
    private static final Path RUN = Path.of("/var/run/tgtd");

    @TempDir
    Path dir;

    @Test
    void leftoversOfKilledDaemonsDoNotStopANewOne() throws IOException {
        Optional<String> why = Tgt.unavailableReason();
        assumeTrue(why.isEmpty(), () -> why.orElse(""));
        Files.createDirectories(RUN);
        List<Path> made = new ArrayList<>();
        try {
            for (int control = 100; control < 900; control++) {
                Path socket = RUN.resolve("socket." + control);
                Path lock = RUN.resolve("socket." + control + ".lock");
                if (!Files.exists(socket) && !Files.exists(lock)) {
                    made.add(Files.createFile(socket));
                    made.add(Files.createFile(lock));
                }
            }
            int control;
            try (Tgt tgt = Tgt.start(dir)) {
                control = tgt.controlPort();
                assertTrue(Files.exists(RUN.resolve("socket." + control + ".lock")), "the daemon's own lock file");
            }
            assertFalse(Files.exists(RUN.resolve("socket." + control)), "its socket is removed once it stopped");
            assertFalse(Files.exists(RUN.resolve("socket." + control + ".lock")));
        } finally {
            for (Path p : made) {
                Files.deleteIfExists(p);
            }
        }
    }
}

package io.strata.posix;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;

/** Whatever the name, a datastore file is either refused or created directly inside the directory. */
class NameConfinementTest {
    static Path root;
    static Path dir;
    static LocalDirectoryDatastore ds;

    @BeforeContainer
    static void setUp() throws IOException {
        root = Files.createTempDirectory("names");
        dir = Files.createDirectory(root.resolve("ds"));
        ds = new LocalDirectoryDatastore("ds", "dir", dir, null);
    }

    @AfterContainer
    static void tearDown() throws IOException {
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }

    @Provide
    Arbitrary<String> names() {
        Arbitrary<String> pieces = Arbitraries.of("/", "..", ".", "\\", "\u0000", "\n", "\u007f", ".strata", "-", "a",
                "Z9", "é", " ", "+", "_", "lost+found", ".strata-tmp-");
        return Arbitraries.oneOf(pieces.list().ofMaxSize(8).map(l -> String.join("", l)),
                Arbitraries.strings().all().ofMaxLength(20));
    }

    @Property(tries = 500)
    void namesNeverEscape(@ForAll("names") String name) throws IOException {
        try {
            ds.writeAtomically(name, new byte[] {1});
        } catch (StorageException e) {
            assertEquals(ErrorCode.INVALID_NAME, e.code(), e.getMessage());
        }
        try (Stream<Path> s = Files.list(root)) {
            assertEquals(List.of(dir), s.toList(), "nothing outside the datastore directory");
        }
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.filter(p -> !p.equals(dir)).toList()) {
                assertEquals(dir, p.getParent(), "only direct children: " + p);
                assertTrue(Files.isRegularFile(p), "only regular files: " + p);
                Files.delete(p);
            }
        }
    }
}

package io.strata.core.internal;

import static io.strata.core.internal.Assertions2.fails;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.strata.api.ErrorCode;
import io.strata.api.format.Provisioning;
import io.strata.api.service.VolumeRef;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** Names with '/', '..' or control characters are refused with INVALID_NAME before anything happens. */
class NameRulesTest {
    @TempDir
    Path tmp;
    Fixture f;

    static Stream<String> badNames() {
        return Stream.of("a/b", "../etc", "..", "x..y", "/abs", "tab\tname", "nl\nname", "nul\u0000", "del\u007f",
                "", ".hidden", "sp ace");
    }

    @BeforeEach
    void setUp() {
        f = Fixture.withDatastore(tmp);
        f.core.create(VolumeRef.parse("ds1/good"), 4096, "tst", Provisioning.THIN);
    }

    @AfterEach
    void tearDown() {
        f.close();
    }

    @ParameterizedTest
    @MethodSource("badNames")
    void refusedEverywhere(String bad) throws IOException {
        List<String> filesBefore = listing();
        MountedDatastore m = f.core.mounted("ds1");
        fails(ErrorCode.INVALID_NAME, () -> m.create(bad, 4096, "tst", Provisioning.THIN));
        fails(ErrorCode.INVALID_NAME, () -> m.resize(bad, 8192));
        fails(ErrorCode.INVALID_NAME, () -> m.delete(bad));
        fails(ErrorCode.INVALID_NAME, () -> m.open(bad, true));
        fails(ErrorCode.INVALID_NAME, () -> m.importImage(bad, f.dsDir().resolve("good.tst"), null));
        fails(ErrorCode.INVALID_NAME, () -> new VolumeRef("ds1", bad));
        fails(ErrorCode.INVALID_NAME, () -> new VolumeRef(bad, "v"));
        fails(ErrorCode.INVALID_NAME, () -> f.core.info(bad));
        fails(ErrorCode.INVALID_NAME, () -> f.core.remove(bad));
        fails(ErrorCode.INVALID_NAME, () -> f.core.list(bad));
        fails(ErrorCode.INVALID_NAME, () -> f.core.create(bad, "dir", "r1", Map.of(), false));
        fails(ErrorCode.INVALID_NAME, () -> f.resources.add(bad, "local",
                Map.of("kind", "directory", "path", tmp.resolve("x").toString())));
        fails(ErrorCode.INVALID_NAME, () -> f.resources.resource(bad));
        fails(ErrorCode.INVALID_NAME, () -> f.resources.remove(bad));
        assertEquals(filesBefore, listing(), "nothing was written");
        assertEquals(List.of("r1"), f.resources.resources().stream().map(r -> r.name()).toList());
        assertEquals(1, f.core.list().size());
    }

    @ParameterizedTest
    @MethodSource("badNames")
    void refusedInDeviceReferences(String bad) {
        if (bad.isEmpty()) {
            return;
        }
        fails(ErrorCode.INVALID_NAME, () -> f.core.create("ds9", "dir", bad + "/dir", Map.of(), false));
    }

    private List<String> listing() throws IOException {
        try (Stream<Path> s = Files.walk(tmp)) {
            return s.map(Path::toString).sorted().toList();
        }
    }
}

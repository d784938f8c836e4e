package io.strata.core.internal;

import static io.strata.core.internal.Assertions2.fails;
import static io.strata.core.internal.Fixture.ref;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.api.ErrorCode;
import io.strata.api.format.Provisioning;
import io.strata.api.format.VirtualDisk;
import io.strata.api.service.Availability;
import io.strata.api.service.VolumeInfo;
import io.strata.api.service.VolumeState;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Mount-time recovery of interrupted operations, and kill -9 simulated at
 * every step of every catalog-changing operation.
 */
class CatalogRecoveryTest {
    @TempDir
    Path tmp;

    private static CatalogEntry entry(String name, String file, CatalogEntry.State state, String adoptedFrom,
            String tempFile) {
        return new CatalogEntry(name, file, "tst", Provisioning.THIN, 4096, Instant.parse("2026-01-01T00:00:00Z"),
                state, adoptedFrom, tempFile, 0);
    }

    @Test
    void mountRollsBackCreatingAndFinishesDeleting() throws IOException {
        try (Fixture f = Fixture.withDatastore(tmp)) {
            f.core.create(ref("ds1/keep"), 4096, "tst", Provisioning.THIN);
            Path dir = f.dsDir();
            Catalog c = CatalogCodec.decode("ds1", Files.readAllBytes(dir.resolve(Catalog.FILE)));
            Files.writeString(dir.resolve("half.tst"), "partial");
            Files.writeString(dir.resolve("gone.tst"), "old");
            Files.writeString(dir.resolve("user-image.raw"), "x".repeat(512));
            Files.writeString(dir.resolve(".strata-import-copy.tst"), "partial copy");
            c = c.put(entry("half", "half.tst", CatalogEntry.State.CREATING, null, null))
                    .put(entry("gone", "gone.tst", CatalogEntry.State.DELETING, null, null))
                    .put(entry("nofile", "nofile.tst", CatalogEntry.State.CREATING, null, null))
                    .put(entry("adopted", "adopted.raw", CatalogEntry.State.CREATING, "user-image.raw", null))
                    .put(entry("copy", "copy.tst", CatalogEntry.State.CREATING, null, ".strata-import-copy.tst"));
            Files.write(dir.resolve(Catalog.FILE), CatalogCodec.encode(c));
            // adopted in place, renamed, then crashed before READY
            Files.move(dir.resolve("user-image.raw"), dir.resolve("adopted.raw"));

            f.restart();

            assertEquals(List.of("keep"), f.core.list("ds1").stream().map(VolumeInfo::name).toList());
            assertFalse(Files.exists(dir.resolve("half.tst")));
            assertFalse(Files.exists(dir.resolve("gone.tst")));
            assertFalse(Files.exists(dir.resolve(".strata-import-copy.tst")));
            assertFalse(Files.exists(dir.resolve("adopted.raw")));
            assertEquals("x".repeat(512), Files.readString(dir.resolve("user-image.raw")), "user image put back");
            Catalog after = CatalogCodec.decode("ds1", Files.readAllBytes(dir.resolve(Catalog.FILE)));
            assertEquals(List.of("keep"), after.volumes().stream().map(CatalogEntry::name).toList());
            assertTrue(after.generation() > c.generation());
        }
    }

    @Test
    void aDamagedCatalogMakesTheDatastoreUnavailableAndIsLeftAlone() throws IOException {
        try (Fixture f = Fixture.withDatastore(tmp)) {
            byte[] junk = "{\"version\": 1, \"volumes\": [ {\"name\": 3".getBytes();
            Files.write(f.dsDir().resolve(Catalog.FILE), junk);
            f.restart();
            assertEquals(Availability.UNAVAILABLE, f.core.info("ds1").state());
            assertTrue(f.core.info("ds1").message().contains("CORRUPT_IMAGE"), f.core.info("ds1").message());
            fails(ErrorCode.DEVICE_UNAVAILABLE, () -> f.core.create(ref("ds1/v"), 4096, "tst", Provisioning.THIN));
            assertArrayEquals(junk, Files.readAllBytes(f.dsDir().resolve(Catalog.FILE)));
        }
    }

    /** One scenario step list; each is re-run with a crash injected at every mutating step. */
    private static final List<Scenario> SCENARIOS = List.of(
            new Scenario("create thin", f -> f.core.create(ref("ds1/new"), 1 << 20, "tst", Provisioning.THIN)),
            new Scenario("create thick", f -> f.core.create(ref("ds1/new"), 3 << 20, "tst", Provisioning.THICK)),
            new Scenario("delete", f -> f.core.delete(ref("ds1/base"))),
            new Scenario("resize", f -> f.core.resize(ref("ds1/base"), 2 << 20)),
            new Scenario("import copy", f -> f.core.importImage(ref("ds1/new"), f.root.resolve("outside.tst"), null)),
            new Scenario("import adopt", f -> f.core.importImage(ref("ds1/new"), f.dsDir().resolve("inside.raw"),
                    null)));

    private record Scenario(String name, Consumer<Fixture> op) {
    }

    @Test
    void killAtAnyStepLeavesAReadableConsistentCatalog() throws Exception {
        int runs = 0;
        for (Scenario s : SCENARIOS) {
            for (int crashAt = 1; ; crashAt++) {
                Path root = Files.createDirectories(tmp.resolve(s.name().replace(' ', '-') + "-" + crashAt));
                try (Fixture f = Fixture.withDatastore(root)) {
                    f.core.create(ref("ds1/base"), 1 << 20, "tst", Provisioning.THIN);
                    try (VirtualDisk d = f.core.open(ref("ds1/base"), false)) {
                        d.write(ByteBuffer.wrap(new byte[] {1, 2, 3}), 4096);
                    }
                    byte[] outside = TestImages.tst(1 << 20);
                    Files.write(root.resolve("outside.tst"), outside);
                    Files.write(f.dsDir().resolve("inside.raw"), new byte[8192]);

                    f.faults.crashAt(crashAt);
                    boolean crashed;
                    try {
                        s.op().accept(f);
                        crashed = false;
                    } catch (RuntimeException e) {
                        crashed = f.faults.dead();
                        if (!crashed) {
                            throw e;
                        }
                    }
                    f.restart();
                    runs++;
                    checkConsistent(f, s.name() + " crash at " + crashAt);
                    assertArrayEquals(outside, Files.readAllBytes(root.resolve("outside.tst")), "source intact");
                    if (!crashed) {
                        break; // the operation completed: every step has been tried
                    }
                }
            }
        }
        assertTrue(runs > 20, "runs: " + runs);
    }

    /** After the restart: catalog readable, nothing half-made, every READY volume opens. */
    private static void checkConsistent(Fixture f, String what) throws IOException {
        Path dir = f.dsDir();
        Catalog c = CatalogCodec.decode("ds1", Files.readAllBytes(dir.resolve(Catalog.FILE)));
        for (CatalogEntry e : c.volumes()) {
            assertEquals(CatalogEntry.State.READY, e.state(), what + ": " + e);
            assertTrue(Files.exists(dir.resolve(e.file())), what + ": file of " + e.name());
            try (VirtualDisk d = f.core.open(ref("ds1/" + e.name()), true)) {
                assertEquals(e.virtualSize(), d.virtualSize(), what + ": size of " + e.name());
            }
        }
        for (VolumeInfo v : f.core.list("ds1")) {
            assertEquals(VolumeState.READY, v.state(), what);
        }
        List<String> files = new ArrayList<>();
        try (Stream<Path> s = Files.list(dir)) {
            s.map(p -> p.getFileName().toString()).forEach(files::add);
        }
        for (String file : files) {
            boolean known = file.equals(Catalog.FILE) || file.equals(MountedDatastore.RESERVE) || file.equals("inside.raw")
                    || c.findByFile(file).isPresent() || file.startsWith(".tmp-");
            assertTrue(known, what + ": stray file " + file + " in " + files);
        }
        boolean base = c.find("base").isPresent();
        if (base) {
            try (VirtualDisk d = f.core.open(ref("ds1/base"), true)) {
                ByteBuffer b = ByteBuffer.allocate(3);
                d.read(b, 4096);
                assertArrayEquals(new byte[] {1, 2, 3}, b.array(), what + ": data of base");
            }
        }
        boolean adopted = c.find("new").filter(e -> e.format().equals("raw")).isPresent();
        assertTrue(adopted ^ Files.exists(dir.resolve("inside.raw")), what + ": adopted image is in one place");
        assertThrows(Exception.class, () -> CatalogCodec.decode("ds1", "{".getBytes()));
    }
}

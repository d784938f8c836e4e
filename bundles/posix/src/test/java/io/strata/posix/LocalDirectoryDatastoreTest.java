package io.strata.posix;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.api.Capability;
import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.fs.DatastoreFile;
import io.strata.api.fs.SpaceInfo;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class LocalDirectoryDatastoreTest {
    @TempDir
    Path root;
    Path dir;
    LocalDirectoryDatastore ds;

    @BeforeEach
    void open() throws IOException {
        dir = Files.createDirectory(root.resolve("ds"));
        ds = new LocalDirectoryDatastore("ds1", "dir", dir, null);
    }

    static void assertCode(ErrorCode code, Executable e) {
        StorageException ex = assertThrows(StorageException.class, e);
        assertEquals(code, ex.code(), ex.getMessage());
    }

    @ParameterizedTest
    @ValueSource(strings = {"a/b", "../escape", "..", ".", "x/../../y", "ctl\u0001", "tab\tname", "",
        ".strata/../x", ".strata..x", ".strata\u0000", "/abs", "back\\slash", ".hidden", "-dash",
        ".strata-tmp-foo"})
    void dangerousNamesAreRefusedEverywhere(String bad) {
        List<Consumer<String>> ops = List.of(ds::create, n -> ds.open(n, false), ds::delete, ds::exists,
                ds::stat, ds::readAll, n -> ds.writeAtomically(n, new byte[1]), n -> ds.rename(n, "ok"),
                n -> ds.rename("ok", n));
        for (Consumer<String> op : ops) {
            assertCode(ErrorCode.INVALID_NAME, () -> op.accept(bad));
        }
        try (Stream<Path> s = Files.list(root)) {
            assertEquals(List.of(dir), s.toList(), "nothing may appear outside the datastore directory");
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void internalNamesAreAllowed() {
        ds.writeAtomically(".strata-catalog", "x".getBytes(StandardCharsets.UTF_8));
        assertTrue(ds.exists(".strata-catalog"));
        assertEquals(List.of(".strata-catalog"), ds.list());
    }

    @Test
    void createIsExclusive() {
        ds.create("v1.vhd").close();
        assertCode(ErrorCode.ALREADY_EXISTS, () -> ds.create("v1.vhd"));
    }

    @Test
    void missingFiles() {
        assertCode(ErrorCode.FILE_NOT_FOUND, () -> ds.open("nope", false));
        assertCode(ErrorCode.FILE_NOT_FOUND, () -> ds.delete("nope"));
        assertCode(ErrorCode.FILE_NOT_FOUND, () -> ds.rename("nope", "other"));
        assertCode(ErrorCode.FILE_NOT_FOUND, () -> ds.readAll("nope"));
        assertCode(ErrorCode.FILE_NOT_FOUND, () -> ds.stat("nope"));
        assertFalse(ds.exists("nope"));
    }

    @Test
    void writeAtomicallyReplacesAndLeavesNoTemporaries() throws IOException {
        ds.writeAtomically("meta", "one".getBytes(StandardCharsets.UTF_8));
        ds.writeAtomically("meta", "two, longer".getBytes(StandardCharsets.UTF_8));
        assertArrayEquals("two, longer".getBytes(StandardCharsets.UTF_8), ds.readAll("meta"));
        try (Stream<Path> s = Files.list(dir)) {
            assertEquals(List.of("meta"), s.map(p -> p.getFileName().toString()).toList());
        }
    }

    @Test
    void listHidesTemporariesAndDirectoriesAndIsSorted() throws IOException {
        Files.writeString(dir.resolve(LocalDirectoryDatastore.TEMP_PREFIX + "meta-123"), "half");
        Files.createDirectory(dir.resolve("lost+found"));
        ds.create("b").close();
        ds.create("a").close();
        assertEquals(List.of("a", "b"), ds.list());
        assertFalse(ds.exists("lost+found"));
        assertCode(ErrorCode.INVALID_ARGUMENT, () -> ds.open("lost+found", false));
    }

    @Test
    void staleTemporariesAreRemovedAtOpen() throws IOException {
        Path stale = dir.resolve(LocalDirectoryDatastore.TEMP_PREFIX + "x-1");
        Path fresh = dir.resolve(LocalDirectoryDatastore.TEMP_PREFIX + "x-2");
        Files.writeString(stale, "old");
        Files.writeString(fresh, "new");
        Files.setLastModifiedTime(stale, java.nio.file.attribute.FileTime.fromMillis(0));
        new LocalDirectoryDatastore("again", "dir", dir, null).close();
        assertFalse(Files.exists(stale));
        assertTrue(Files.exists(fresh));
    }

    @Test
    void renameReplacesAndDeleteRemoves() {
        ds.writeAtomically("a", new byte[] {1});
        ds.writeAtomically("b", new byte[] {2});
        ds.rename("a", "b");
        assertEquals(List.of("b"), ds.list());
        assertArrayEquals(new byte[] {1}, ds.readAll("b"));
        ds.delete("b");
        assertEquals(List.of(), ds.list());
    }

    @Test
    void statReportsSizeAndAllocation() {
        try (DatastoreFile f = ds.create("sparse")) {
            f.setSize(10L << 20);
            f.write(ByteBuffer.wrap(new byte[4096]), 0);
            f.flush();
        }
        var st = ds.stat("sparse");
        assertEquals(10L << 20, st.size());
        assertTrue(st.allocated() >= 4096 && st.allocated() < (1L << 20), "allocated " + st.allocated());
    }

    @Test
    void capabilitiesAreProbed() {
        // the temp dir lives on ext4, xfs or tmpfs here: all support these
        assertTrue(ds.capabilities().containsAll(List.of(Capability.SPARSE_FILES, Capability.PREALLOCATE,
                Capability.PUNCH_HOLE, Capability.FILE_LOCKS, Capability.LOCAL_PATHS)), ds.capabilities().toString());
        assertFalse(ds.capabilities().contains(Capability.SHARED));
        assertEquals(List.of(), ds.list(), "the probe leaves nothing behind");
    }

    @Test
    void spaceComesFromTheFilesystem() {
        SpaceInfo s = ds.space();
        assertTrue(s.capacity() > 0 && s.free() <= s.capacity(), s.toString());
        assertEquals(dir.toAbsolutePath(), ds.localPath().orElseThrow());
    }

    @Test
    void closeClosesFilesRunsHookOnceAndRefusesFurtherUse() {
        AtomicInteger hooks = new AtomicInteger();
        LocalDirectoryDatastore d = new LocalDirectoryDatastore("d", "dir", dir, hooks::incrementAndGet);
        DatastoreFile f = d.create("f");
        assertEquals(1, d.openFileCount());
        d.close();
        d.close();
        assertEquals(1, hooks.get());
        assertEquals(0, d.openFileCount());
        assertCode(ErrorCode.DEVICE_UNAVAILABLE, () -> f.write(ByteBuffer.allocate(1), 0));
        assertCode(ErrorCode.DEVICE_UNAVAILABLE, d::list);
        assertCode(ErrorCode.DEVICE_UNAVAILABLE, () -> d.open("f", false));
    }

    @Test
    void missingDirectoryIsUnavailable() {
        assertCode(ErrorCode.DEVICE_UNAVAILABLE, () -> new LocalDirectoryDatastore("x", "dir", root.resolve("gone"), null));
    }
}

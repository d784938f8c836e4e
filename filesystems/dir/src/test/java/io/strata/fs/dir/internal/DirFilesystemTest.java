package io.strata.fs.dir.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.api.Capability;
import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.device.DeviceInfo;
import io.strata.api.device.DeviceKind;
import io.strata.api.device.FileShare;
import io.strata.api.fs.Datastore;
import io.strata.api.fs.DatastoreFile;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

class DirFilesystemTest {
    @TempDir
    Path tmp;
    final DirFilesystem fs = new DirFilesystem();

    static FileShare share(Path dir) {
        return new FileShare() {
            @Override
            public DeviceInfo info() {
                return new DeviceInfo("home", "dir", DeviceKind.FILE_SHARE, -1, 0, "directory " + dir);
            }

            @Override
            public Optional<Path> localPath() {
                return Optional.ofNullable(dir);
            }

            @Override
            public String uri() {
                return dir == null ? "nfs://server/export" : dir.toUri().toString();
            }

            @Override
            public void close() {
            }
        };
    }

    static void assertCode(ErrorCode code, Executable e) {
        StorageException ex = assertThrows(StorageException.class, e);
        assertEquals(code, ex.code(), ex.getMessage());
    }

    @Test
    void describesItself() {
        assertEquals("dir", fs.type());
        assertEquals(DeviceKind.FILE_SHARE, fs.deviceKind());
        assertTrue(fs.capabilities().contains(Capability.LOCAL_PATHS));
        assertTrue(!fs.capabilities().contains(Capability.FORMAT));
    }

    @Test
    void formatIsUnsupported() {
        StorageException e = assertThrows(StorageException.class, () -> fs.format(share(tmp), Map.of(), true));
        assertEquals(ErrorCode.UNSUPPORTED, e.code());
        assertTrue(e.getMessage().contains("a dir datastore uses an existing directory"), e.getMessage());
    }

    @Test
    void mountGivesADatastoreOnTheDirectoryAndMountsAgainIdempotently() {
        try (Datastore ds = fs.mount("local", share(tmp), Map.of())) {
            assertEquals("local", ds.name());
            assertEquals("dir", ds.filesystemType());
            assertEquals(tmp, ds.localPath().orElseThrow());
            try (DatastoreFile f = ds.create("disk.vhd")) {
                f.write(ByteBuffer.wrap(new byte[] {1, 2, 3}), 0);
            }
            assertTrue(ds.capabilities().contains(Capability.PUNCH_HOLE));
        }
        assertTrue(Files.exists(tmp.resolve("disk.vhd")), "closing never deletes data");
        try (Datastore again = fs.mount("local", share(tmp), Map.of())) {
            assertEquals(List.of("disk.vhd"), again.list());
            assertArrayEquals(new byte[] {1, 2, 3}, again.readAll("disk.vhd"));
        }
    }

    @Test
    void refusesWhatIsNotALocalDirectory() {
        assertCode(ErrorCode.INVALID_ARGUMENT, () -> fs.mount("x", share(null), Map.of()));
        assertCode(ErrorCode.DEVICE_UNAVAILABLE, () -> fs.mount("x", share(tmp.resolve("gone")), Map.of()));
        assertCode(ErrorCode.INVALID_ARGUMENT, () -> fs.mount("x", share(tmp), Map.of("subdir", "a")));
    }

    @Test
    void sharedTrueMountsTheDirectoryAsASharedDatastore() throws Exception {
        // A temporary file old enough to look stale may be a stalled host's atomic write: a shared
        // mount leaves it alone, a plain one cleans up.
        Path inProgress = tmp.resolve(io.strata.posix.LocalDirectoryDatastore.TEMP_PREFIX + "catalog-1234");
        Files.write(inProgress, new byte[] {7});
        Files.setLastModifiedTime(inProgress, java.nio.file.attribute.FileTime.from(
                java.time.Instant.now().minus(java.time.Duration.ofDays(1))));
        fs.mount("d", share(tmp), Map.of("shared", "true")).close();
        assertTrue(Files.exists(inProgress), "a shared mount removes no temporary file");
        try (Datastore plain = fs.mount("d", share(tmp), Map.of());
                Datastore shared = fs.mount("d", share(tmp), Map.of("shared", "true"))) {
            assertFalse(plain.capabilities().contains(Capability.SHARED));
            assertTrue(shared.capabilities().contains(Capability.SHARED));
            assertFalse(shared.capabilities().contains(Capability.FILE_LOCKS),
                    "byte-range locks do not reach other hosts on every shared filesystem");
            shared.writeAtomically("f", new byte[] {1, 2});
            assertArrayEquals(new byte[] {1, 2}, plain.readAll("f"), "the same directory");
        }
        try (Datastore off = fs.mount("d", share(tmp), Map.of("shared", "FALSE"))) {
            assertFalse(off.capabilities().contains(Capability.SHARED));
        }
        assertFalse(Files.exists(inProgress), "a plain mount cleans up after a crash");
        assertCode(ErrorCode.INVALID_ARGUMENT, () -> fs.mount("d", share(tmp), Map.of("shared", "yes")));
        assertCode(ErrorCode.INVALID_ARGUMENT, () -> fs.mount("d", share(tmp), Map.of("size", "1")));
    }
}

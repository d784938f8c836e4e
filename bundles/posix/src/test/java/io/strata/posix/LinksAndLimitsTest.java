package io.strata.posix;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.fs.DatastoreFile;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Datastore files never follow a link out of the directory; sizes the filesystem cannot hold are size errors. */
class LinksAndLimitsTest {
    @TempDir
    Path tmp;

    @Test
    void aSymbolicLinkInTheDirectoryIsNeverOpenedThrough() throws Exception {
        Path dir = Files.createDirectory(tmp.resolve("ds"));
        Path outside = tmp.resolve("secret");
        byte[] content = {1, 2, 3, 4};
        Files.write(outside, content);
        Files.createSymbolicLink(dir.resolve("vol.raw"), outside);
        LocalDirectoryDatastore ds = new LocalDirectoryDatastore("ds", "dir", dir, null);
        try {
            for (boolean writable : new boolean[] {false, true}) {
                StorageException e = assertThrows(StorageException.class, () -> ds.open("vol.raw", writable));
                assertEquals(ErrorCode.INVALID_ARGUMENT, e.code(), e.getMessage());
            }
            assertTrue(!ds.exists("vol.raw"), "a link is not a datastore file");
            assertArrayEquals(content, Files.readAllBytes(outside));
        } finally {
            ds.close();
        }
    }

    @Test
    void aFileLargerThanTheFilesystemAllowsIsASizeError() throws Exception {
        Path dir = Files.createDirectory(tmp.resolve("big"));
        assumeTrue("ext4".equals(Files.getFileStore(dir).type()), "needs ext4 (files up to 16 TiB)");
        LocalDirectoryDatastore ds = new LocalDirectoryDatastore("big", "dir", dir, null);
        try (DatastoreFile f = ds.create("huge.raw")) {
            StorageException e = assertThrows(StorageException.class, () -> f.setSize(1L << 50));
            assertEquals(ErrorCode.SIZE_TOO_LARGE, e.code(), e.getMessage());
        } finally {
            ds.close();
        }
    }
}

package io.strata.core.internal;

import static io.strata.core.internal.Assertions2.fails;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.format.Provisioning;
import io.strata.api.format.VirtualDisk;
import io.strata.api.service.VolumeRef;
import io.strata.fs.dir.internal.DirFilesystem;
import io.strata.local.internal.LocalDriver;
import io.strata.posix.Posix;
import io.strata.raw.internal.RawFormat;
import io.strata.vhd.internal.VhdFormat;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A datastore filled to the last block by its volumes' writes, on a real (tmpfs) filesystem of
 * 8 MiB: deleting a volume must still work, because a catalog update needs room that is kept
 * for it. Needs root for the mount; skipped otherwise.
 */
class FullDatastoreTest {
    @TempDir
    Path tmp;
    Path mnt;
    StrataCore core;

    @BeforeEach
    void mount() throws Exception {
        assumeTrue(Posix.isRoot(), "mounting a tmpfs needs root");
        mnt = Files.createDirectories(tmp.resolve("small"));
        Tools.run("mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", mnt.toString());
        core = new StrataCore(new MemoryConfigStore(), new CoreSettings(true, "local", mnt.resolve("ds"),
                tmp.resolve("strata")));
        core.addFormat(new VhdFormat(), "vhd", "io.strata.format-vhd");
        core.addFormat(new RawFormat(), "raw", "io.strata.format-raw");
        core.addDriver(new LocalDriver(), "local", "io.strata.driver-local");
        core.addFilesystem(new DirFilesystem(), "dir", "io.strata.fs-dir");
    }

    @AfterEach
    void unmount() throws Exception {
        if (core != null) {
            core.close();
        }
        if (mnt != null) {
            Tools.run("umount", "-l", mnt.toString());
        }
    }

    @Test
    void aFullDatastoreCanAlwaysBeFreedThroughStrata() {
        VolumeRef a = new VolumeRef("local", "a");
        VolumeRef b = new VolumeRef("local", "b");
        core.create(a, 64 << 20, "vhd", Provisioning.THIN);
        core.create(b, 64 << 20, "raw", Provisioning.THIN);
        fill(a);
        fill(b);
        // Nothing can be added now, not even a catalog entry.
        fails(ErrorCode.DATASTORE_FULL, () -> core.create(new VolumeRef("local", "c"), 1 << 20, "raw",
                Provisioning.THICK));
        assertTrue(core.list("local").stream().noneMatch(v -> v.name().equals("c")));

        core.delete(b);
        assertEquals(1, core.list("local").size());
        // The room given up for the delete is taken again, so the next full datastore can be freed too.
        fill(a);
        core.delete(a);
        assertTrue(core.list("local").isEmpty());
        core.create(new VolumeRef("local", "d"), 1 << 20, "raw", Provisioning.THIN);
    }

    /** Writes 1 MiB blocks until the filesystem refuses; the datastore is then full to the last block. */
    private void fill(VolumeRef ref) {
        try (VirtualDisk d = core.open(ref, false)) {
            ByteBuffer block = ByteBuffer.allocate(1 << 20);
            for (int i = 0; i < 64; i++) {
                block.clear();
                while (block.hasRemaining()) {
                    block.put((byte) (i + 1));
                }
                long at = (long) i << 20;
                StorageException e = null;
                try {
                    d.write(block.flip(), at);
                    d.flush();
                } catch (StorageException x) {
                    e = x;
                }
                if (e != null) {
                    assertEquals(ErrorCode.DATASTORE_FULL, e.code(), e.toUserString());
                    // A 4 KiB write into the last free pages, so that not one block stays free.
                    for (int k = 0; k < 256; k++) {
                        try {
                            d.write(ByteBuffer.allocate(4096), at + (long) k * 4096);
                        } catch (StorageException x) {
                            break;
                        }
                    }
                    return;
                }
            }
        }
        throw new AssertionError("an 8 MiB filesystem took 64 MiB");
    }
}

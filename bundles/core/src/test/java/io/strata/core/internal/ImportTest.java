package io.strata.core.internal;

import static io.strata.core.internal.Assertions2.fails;
import static io.strata.core.internal.Fixture.ref;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.api.ErrorCode;
import io.strata.api.format.Provisioning;
import io.strata.api.format.VirtualDisk;
import io.strata.api.service.VolumeInfo;
import io.strata.api.service.VolumeState;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ImportTest {
    @TempDir
    Path tmp;
    Fixture f;

    @BeforeEach
    void setUp() {
        f = Fixture.withDatastore(tmp);
    }

    @AfterEach
    void tearDown() {
        f.close();
    }

    @Test
    void adoptsAnImageInsideTheDatastoreByRenaming() throws Exception {
        byte[] image = TestImages.tst(1 << 20);
        Path src = f.dsDir().resolve("disk-from-elsewhere.img");
        Files.write(src, image);
        VolumeInfo v = f.core.importImage(ref("ds1/vm1"), src, null);
        assertEquals("tst", v.format(), "detected");
        assertEquals(1 << 20, v.virtualSize());
        assertEquals("vm1.tst", v.file());
        assertEquals(VolumeState.READY, v.state());
        assertFalse(Files.exists(src), "renamed, not copied");
        assertArrayEquals(image, Files.readAllBytes(f.dsDir().resolve("vm1.tst")));
        try (VirtualDisk d = f.core.open(ref("ds1/vm1"), true)) {
            ByteBuffer b = ByteBuffer.allocate(1);
            d.read(b, 100);
            assertEquals(42, b.get(0));
        }
    }

    @Test
    void adoptsAnImageThatAlreadyHasTheRightName() throws Exception {
        Files.write(f.dsDir().resolve("vm2.tst"), TestImages.tst(4096));
        f.core.importImage(ref("ds1/vm2"), f.dsDir().resolve("vm2.tst"), "tst");
        assertEquals(List.of("vm2"), f.core.list("ds1").stream().map(VolumeInfo::name).toList());
        fails(ErrorCode.ALREADY_EXISTS, () -> f.core.importImage(ref("ds1/vm3"), f.dsDir().resolve("vm2.tst"), null));
    }

    @Test
    void copiesAnImageFromOutsideAndLeavesTheSourceAlone() throws Exception {
        byte[] image = TestImages.tst(3 << 20);
        Path src = tmp.resolve("outside.tst");
        Files.write(src, image);
        FileTime mtime = Files.getLastModifiedTime(src);
        VolumeInfo v = f.core.importImage(ref("ds1/copy"), src, null);
        assertEquals("copy.tst", v.file());
        assertArrayEquals(image, Files.readAllBytes(src), "source untouched");
        assertEquals(mtime, Files.getLastModifiedTime(src));
        assertArrayEquals(image, Files.readAllBytes(f.dsDir().resolve("copy.tst")), "identical copy");
        assertFalse(f.core.datastore("ds1").list().stream().anyMatch(n -> n.startsWith(".strata-import")));
    }

    @Test
    void unrecognizedImagesAreImportedAsRaw() throws Exception {
        Path src = tmp.resolve("plain.bin");
        Files.write(src, new byte[8192]);
        VolumeInfo v = f.core.importImage(ref("ds1/plain"), src, null);
        assertEquals("raw", v.format());
        assertEquals(8192, v.virtualSize());
        assertEquals("plain.raw", v.file());
    }

    @Test
    void aCorruptImageIsRefusedAndLeftExactlyAsItWas() throws Exception {
        byte[] image = TestImages.tst(1 << 20);
        byte[] truncated = java.util.Arrays.copyOf(image, 4096);
        Path inside = f.dsDir().resolve("broken.img");
        Path outside = tmp.resolve("broken.tst");
        Files.write(inside, truncated);
        Files.write(outside, truncated);
        List<String> before = f.core.datastore("ds1").list();
        byte[] catalogBefore = Files.readAllBytes(f.dsDir().resolve(Catalog.FILE));

        fails(ErrorCode.CORRUPT_IMAGE, () -> f.core.importImage(ref("ds1/a"), inside, null));
        fails(ErrorCode.CORRUPT_IMAGE, () -> f.core.importImage(ref("ds1/b"), outside, null));
        fails(ErrorCode.CORRUPT_IMAGE, () -> f.core.importImage(ref("ds1/c"), outside, "tst"));
        Path odd = tmp.resolve("odd.raw");
        Files.write(odd, new byte[1000]);
        fails(ErrorCode.CORRUPT_IMAGE, () -> f.core.importImage(ref("ds1/d"), odd, "raw"));

        assertArrayEquals(truncated, Files.readAllBytes(inside));
        assertArrayEquals(truncated, Files.readAllBytes(outside));
        assertEquals(before, f.core.datastore("ds1").list(), "nothing left behind");
        assertArrayEquals(catalogBefore, Files.readAllBytes(f.dsDir().resolve(Catalog.FILE)));
        assertTrue(f.core.list("ds1").isEmpty());
    }

    @Test
    void refusals() throws Exception {
        fails(ErrorCode.FILE_NOT_FOUND, () -> f.core.importImage(ref("ds1/x"), tmp.resolve("nope"), null));
        Path src = tmp.resolve("ok.tst");
        Files.write(src, TestImages.tst(4096));
        fails(ErrorCode.FORMAT_NOT_FOUND, () -> f.core.importImage(ref("ds1/x"), src, "qcow9"));
        f.core.create(ref("ds1/x"), 4096, "raw", Provisioning.THIN);
        fails(ErrorCode.ALREADY_EXISTS, () -> f.core.importImage(ref("ds1/x"), src, null));
        fails(ErrorCode.INVALID_NAME,
                () -> f.core.importImage(ref("ds1/y"), f.dsDir().resolve(Catalog.FILE), null));
        assertTrue(Files.exists(src));
    }
}

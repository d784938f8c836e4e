package io.strata.qcow2.internal;

import static io.strata.qcow2.internal.Fixtures.assertQemuCheckClean;
import static io.strata.qcow2.internal.Fixtures.run;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.strata.api.format.BackingResolver;
import io.strata.api.format.CheckReport;
import io.strata.api.format.DiskSpec;
import io.strata.api.format.Provisioning;
import io.strata.api.format.VirtualDisk;
import io.strata.testing.LocalFile;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Interop with the real qemu-img and qemu-io: images Strata writes pass qemu-img check
 * with no errors and no leaks, qemu agrees on size, backing file and content of every
 * layer of a chain, and images qemu makes are read and written by Strata. Skipped only
 * when qemu-utils is absent ({@code ./strata test} installs it).
 */
class Qcow2InteropTest {
    private static final long MIB = 1L << 20;

    private final Qcow2Format format = new Qcow2Format();

    @TempDir
    Path dir;

    @BeforeAll
    static void needQemu() {
        assumeTrue(Fixtures.haveQemu(), "qemu-img/qemu-io not installed (apt-get install qemu-utils)");
    }

    private static String jsonField(String json, String field) {
        Matcher m = Pattern.compile("\"" + Pattern.quote(field) + "\":\\s*\"?([^,\"\\n}]+)").matcher(json);
        assertTrue(m.find(), field + " not in " + json);
        return m.group(1).trim();
    }

    private static void randomWrites(VirtualDisk d, byte[] model, Random rnd, int count, int maxLen) {
        for (int i = 0; i < count; i++) {
            int len = 1 + rnd.nextInt(maxLen);
            long off = (long) (rnd.nextDouble() * (model.length - len));
            byte[] b = new byte[len];
            rnd.nextBytes(b);
            d.write(ByteBuffer.wrap(b), off);
            System.arraycopy(b, 0, model, (int) off, len);
        }
    }

    private Path raw(String name, byte[] content) throws IOException {
        Path p = dir.resolve(name);
        Files.write(p, content);
        return p;
    }

    private void assertQemuReads(Path image, byte[] expected) throws IOException {
        Path out = dir.resolve("qemu-view.raw");
        Files.deleteIfExists(out);
        run("qemu-img", "convert", "-f", "qcow2", "-O", "raw", image.toString(), out.toString());
        assertArrayEquals(expected, Files.readAllBytes(out), "qemu's view of " + image);
    }

    @ParameterizedTest(name = "{0} bytes {1}")
    @CsvSource({
        "1048576, thin", "1048576, thick", "1048576, thick-lazy",
        "104857600, thin", "104857600, thick-lazy",
        "1073741824, thin", "1073741824, thick-lazy",
        "1048579584, thin",                               // 1000 MiB + 7 sectors
        "2199023255552, thin",                            // 2 TiB: beyond VHD
        "1125899906842624, thin",                         // 1 PiB, the limit
    })
    void qemuReportsTheSizeAndNoErrors(long size, String provisioning) {
        Path p = dir.resolve("s.qcow2");
        format.create(LocalFile.open(p, true), new DiskSpec(size, Provisioning.parse(provisioning))).close();
        String json = run("qemu-img", "info", "-f", "qcow2", "--output=json", p.toString());
        assertEquals(size, Long.parseLong(jsonField(json, "virtual-size")), json);
        assertEquals("1.1", jsonField(json, "compat"), json);
        assertQemuCheckClean(p);
        assertEquals(size, format.probe(LocalFile.open(p, false)).virtualSize());
    }

    @ParameterizedTest
    @ValueSource(strings = {"thin", "thick", "thick-lazy"})
    void dataStrataWritesReadsBackThroughQemu(String provisioning) throws IOException {
        long size = 37 * MIB + 3 * 512;
        Path img = dir.resolve("w.qcow2");
        byte[] model = new byte[(int) size];
        Random rnd = new Random(42);
        try (VirtualDisk d = format.create(LocalFile.open(img, true), new DiskSpec(size, Provisioning.parse(provisioning)))) {
            randomWrites(d, model, rnd, 60, 200_000);
            d.writeZeroes(3 * MIB, 2 * MIB + 4096);
            java.util.Arrays.fill(model, (int) (3 * MIB), (int) (5 * MIB + 4096), (byte) 0);
            d.trim(9 * MIB + 100, 3 * MIB);
            java.util.Arrays.fill(model, (int) (9 * MIB + 100), (int) (12 * MIB + 100), (byte) 0);
        }
        assertQemuCheckClean(img);
        assertQemuReads(img, model);
        String cmp = run("qemu-img", "compare", "-f", "qcow2", "-F", "raw", img.toString(),
                raw("model.raw", model).toString());
        assertTrue(cmp.contains("Images are identical"), cmp);
        assertTrue(format.check(LocalFile.open(img, false), null, false).clean());
    }

    /** A 3-deep chain written by Strata: each layer passes qemu-img check, qemu agrees on every layer's content. */
    @Test
    void chainLayersAgreeWithQemu() throws IOException {
        long size = 20 * MIB + 512;
        BackingResolver resolver = Fixtures.dir(dir);
        String[] names = {"base.qcow2", "mid.qcow2", "top.qcow2"};
        byte[][] views = new byte[3][];
        byte[] model = new byte[(int) size];
        Random rnd = new Random(7);
        for (int layer = 0; layer < 3; layer++) {
            LocalFile f = LocalFile.open(dir.resolve(names[layer]), true);
            try (VirtualDisk d = layer == 0 ? format.create(f, new DiskSpec(size, Provisioning.THIN))
                    : format.createChild(f, names[layer - 1], resolver)) {
                assertEquals(layer + 1, d.chainLength());
                randomWrites(d, model, rnd, 25, 150_000);
                if (layer == 1) {
                    d.writeZeroes(1 * MIB, 3 * MIB);
                    java.util.Arrays.fill(model, (int) MIB, (int) (4 * MIB), (byte) 0);
                    d.trim(6 * MIB, 2 * MIB);
                    java.util.Arrays.fill(model, (int) (6 * MIB), (int) (8 * MIB), (byte) 0);
                }
                assertArrayEquals(model, Fixtures.readAll(d));
            }
            views[layer] = model.clone();
        }
        for (int layer = 0; layer < 3; layer++) {
            Path p = dir.resolve(names[layer]);
            assertQemuCheckClean(p);
            String json = run("qemu-img", "info", "--output=json", p.toString());
            assertEquals(size, Long.parseLong(jsonField(json, "virtual-size")), json);
            if (layer > 0) {
                assertEquals(names[layer - 1], jsonField(json, "backing-filename"), json);
                assertEquals("qcow2", jsonField(json, "backing-filename-format"), json);
            }
            try (VirtualDisk d = format.open(LocalFile.open(p, false), true, resolver)) {
                byte[] strata = Fixtures.readAll(d);
                assertArrayEquals(views[layer], strata, "layer " + layer);
                Path rawView = raw("layer" + layer + ".raw", strata);
                String cmp = run("qemu-img", "compare", "-f", "qcow2", "-F", "raw", p.toString(), rawView.toString());
                assertTrue(cmp.contains("Images are identical"), cmp);
            }
            CheckReport r = format.check(LocalFile.open(p, false), resolver, false);
            assertTrue(r.clean(), r.toString());
        }
    }

    /** Images made by qemu-img create and filled by qemu-io: Strata reads them, writes them, qemu stays happy. */
    @Test
    void qemuMadeChainIsReadAndWrittenByStrata() throws IOException {
        Path base = dir.resolve("qbase.qcow2");
        Path child = dir.resolve("qchild.qcow2");
        run("qemu-img", "create", "-f", "qcow2", base.toString(), "24M");
        run("qemu-io", "-f", "qcow2", "-c", "write -P 0x11 0 3M", "-c", "write -P 0x22 5M 1M",
                "-c", "write -P 0x33 10000k 64k", "-c", "write -z 20M 1M", base.toString());
        run("qemu-img", "create", "-f", "qcow2", "-b", "qbase.qcow2", "-F", "qcow2", child.toString());
        run("qemu-io", "-f", "qcow2", "-c", "write -P 0x44 1M 512", "-c", "write -P 0x55 5500k 1000k",
                "-c", "write -z 2M 64k", "-c", "discard 10000k 64k", base.toString().replace("qbase", "qchild"));
        BackingResolver resolver = Fixtures.dir(dir);
        Path qemuView = dir.resolve("qemu.raw");
        run("qemu-img", "convert", "-O", "raw", child.toString(), qemuView.toString());
        byte[] expected = Files.readAllBytes(qemuView);
        try (VirtualDisk d = format.open(LocalFile.open(child, true), false, resolver)) {
            assertEquals(24 * MIB, d.virtualSize());
            assertEquals(2, d.chainLength());
            assertArrayEquals(expected, Fixtures.readAll(d));
            Random rnd = new Random(3);
            randomWrites(d, expected, rnd, 40, 100_000);
            assertArrayEquals(expected, Fixtures.readAll(d));
        }
        assertQemuCheckClean(child);
        assertQemuCheckClean(base);
        assertQemuReads(child, expected);
        try (VirtualDisk d = format.open(LocalFile.open(base, false), true)) {
            Path bv = dir.resolve("base.raw");
            run("qemu-img", "convert", "-O", "raw", base.toString(), bv.toString());
            assertArrayEquals(Files.readAllBytes(bv), Fixtures.readAll(d));
        }
    }

    @Test
    void growthAndRebaseAreSeenByQemu() throws IOException {
        Path base = dir.resolve("b.qcow2");
        Path top = dir.resolve("t.qcow2");
        BackingResolver resolver = Fixtures.dir(dir);
        byte[] model = new byte[(int) (8 * MIB)];
        byte[] more = new byte[70_000];
        new Random(9).nextBytes(more);
        try (VirtualDisk d = format.create(LocalFile.open(base, true), new DiskSpec(8 * MIB, Provisioning.THIN))) {
            randomWrites(d, model, new Random(1), 10, 100_000);
        }
        try (VirtualDisk d = format.createChild(LocalFile.open(top, true), "b.qcow2", resolver)) {
            randomWrites(d, model, new Random(2), 10, 100_000);
            d.populate(0, 8 * MIB);
            d.rebase(null, resolver);
            assertTrue(d.backingFile().isEmpty());
            // 600 GiB needs a second L1 cluster: the table moves
            d.resize(600L << 30);
            d.write(ByteBuffer.wrap(more), (550L << 30) + 12345);
        }
        assertQemuCheckClean(top);
        String json = run("qemu-img", "info", "--output=json", top.toString());
        assertEquals(600L << 30, Long.parseLong(jsonField(json, "virtual-size")), json);
        assertTrue(!json.contains("backing-filename"), json);
        Path head = dir.resolve("head.raw");
        run("qemu-img", "dd", "-f", "qcow2", "-O", "raw", "if=" + top, "of=" + head, "bs=1M", "count=8");
        assertArrayEquals(model, Files.readAllBytes(head));
        String rd = run("qemu-io", "-f", "qcow2", "-c", "read -v " + ((550L << 30) + 12345) + " 16", top.toString());
        String hex = String.format("%02x %02x", more[0], more[1]);
        assertTrue(rd.contains(hex), rd + " expected " + hex);
    }

    /** A repaired image is clean for qemu too. */
    @Test
    void repairLeavesQemuCheckClean() throws IOException {
        Path img = dir.resolve("leaky.qcow2");
        try (VirtualDisk d = format.create(LocalFile.open(img, true), new DiskSpec(4 * MIB, Provisioning.THIN))) {
            d.write(ByteBuffer.wrap(new byte[] {1, 2, 3}), 0);
        }
        // leak: take a cluster by refcount only, as a crash between refcount and L2 entry would
        try (LocalFile f = LocalFile.open(img, true)) {
            Inspector.Image in = Inspector.inspect(f);
            Refcounts rc = new Refcounts(f, in.header().clusterBits(), in.header().refcountTableOffset(),
                    in.refcountTable(), f.size(), (o, c) -> { });
            rc.allocate(3);
            rc.writeDirty();
            f.setSize(rc.nextFree());
            f.flush();
        }
        Fixtures.Result r = Fixtures.exec("qemu-img", "check", img.toString());
        assertEquals(3, r.status(), r.output()); // 3 = leaks only
        CheckReport before = format.check(LocalFile.open(img, false), null, false);
        assertTrue(before.errors().isEmpty(), before.toString());
        assertEquals(3, before.leaks().size(), before.toString());
        CheckReport after = format.check(LocalFile.open(img, true), null, true);
        assertTrue(after.clean(), after.toString());
        assertQemuCheckClean(img);
    }

    /**
     * Images qemu makes with other options: small clusters (Strata's writes grow the
     * refcount table past its first cluster), 2 MiB clusters, preallocation, lazy refcounts.
     */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"cluster_size=512", "cluster_size=4096", "cluster_size=2M", "preallocation=metadata",
        "preallocation=falloc", "lazy_refcounts=on", "refcount_bits=16"})
    void strataWritesImagesQemuMadeWithOptions(String options) throws IOException {
        Path img = dir.resolve("opt.qcow2");
        long size = 20 * MIB;
        run("qemu-img", "create", "-f", "qcow2", "-o", options, img.toString(), Long.toString(size));
        run("qemu-io", "-f", "qcow2", "-c", "write -P 0x61 1M 300k", img.toString());
        Path before = dir.resolve("before.raw");
        run("qemu-img", "convert", "-O", "raw", img.toString(), before.toString());
        byte[] model = Files.readAllBytes(before);
        try (VirtualDisk d = format.open(LocalFile.open(img, true), false)) {
            assertArrayEquals(model, Fixtures.readAll(d));
            randomWrites(d, model, new Random(options.hashCode()), 80, 120_000);
            d.writeZeroes(MIB, 200_000);
            java.util.Arrays.fill(model, (int) MIB, (int) MIB + 200_000, (byte) 0);
            d.trim(10 * MIB + 3, 2 * MIB);
            java.util.Arrays.fill(model, (int) (10 * MIB + 3), (int) (12 * MIB + 3), (byte) 0);
            assertArrayEquals(model, Fixtures.readAll(d));
        }
        assertQemuCheckClean(img);
        assertQemuReads(img, model);
        CheckReport r = format.check(LocalFile.open(img, false), null, false);
        assertTrue(r.clean(), r.toString());
    }

    /** Internal snapshots: readable, never writable. */
    @Test
    void imagesWithInternalSnapshotsAreReadOnly() throws IOException {
        Path img = dir.resolve("snap.qcow2");
        run("qemu-img", "create", "-f", "qcow2", img.toString(), "4M");
        run("qemu-io", "-f", "qcow2", "-c", "write -P 0x21 0 1M", img.toString());
        run("qemu-img", "snapshot", "-c", "s1", img.toString());
        run("qemu-io", "-f", "qcow2", "-c", "write -P 0x22 512k 1M", img.toString());
        Path view = dir.resolve("snap.raw");
        run("qemu-img", "convert", "-O", "raw", img.toString(), view.toString());
        try (VirtualDisk d = format.open(LocalFile.open(img, false), true)) {
            assertArrayEquals(Files.readAllBytes(view), Fixtures.readAll(d));
        }
        io.strata.api.StorageException e = org.junit.jupiter.api.Assertions.assertThrows(
                io.strata.api.StorageException.class, () -> format.open(LocalFile.open(img, true), false));
        assertEquals(io.strata.api.ErrorCode.UNSUPPORTED, e.code());
    }
}

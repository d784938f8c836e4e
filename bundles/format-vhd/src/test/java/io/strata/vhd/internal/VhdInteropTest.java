package io.strata.vhd.internal;

import io.strata.testing.LocalFile;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.strata.api.format.DiskSpec;
import io.strata.api.format.ImageInfo;
import io.strata.api.format.Provisioning;
import io.strata.api.format.VirtualDisk;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Interop with the real qemu-img and qemu-io: sizes, data written by each side,
 * growth of each other's images. Skipped only when qemu-utils is absent
 * ({@code ./strata test} installs it).
 */
class VhdInteropTest {
    private static final long MIB = 1L << 20;
    private static final long GIB = 1L << 30;

    private final VhdFormat format = new VhdFormat();

    @TempDir
    Path dir;

    @BeforeAll
    static void needQemu() {
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/qemu-img")) && Files.isExecutable(Path.of("/usr/bin/qemu-io")),
                "qemu-img/qemu-io not installed (apt-get install qemu-utils)");
    }

    static String run(String... cmd) {
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(p.waitFor(300, TimeUnit.SECONDS), "timeout: " + String.join(" ", cmd));
            assertEquals(0, p.exitValue(), String.join(" ", cmd) + " failed:\n" + out);
            return out;
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    private static String jsonField(String json, String field) {
        Matcher m = Pattern.compile("\"" + Pattern.quote(field) + "\":\\s*\"?([^,\"\\n}]+)").matcher(json);
        assertTrue(m.find(), field + " not in " + json);
        return m.group(1).trim();
    }

    private static void assertQemuSees(Path image, long size) {
        // A fixed VHD has no magic at offset 0, so qemu's probe says raw: name the format, as users must.
        String json = run("qemu-img", "info", "-f", "vpc", "--output=json", image.toString());
        assertEquals("vpc", jsonField(json, "format"), json);
        assertEquals(size, Long.parseLong(jsonField(json, "virtual-size")), json);
    }

    private VirtualDisk create(Path p, long size, Provisioning prov) {
        return format.create(LocalFile.open(p, true), new DiskSpec(size, prov));
    }

    @ParameterizedTest(name = "{0} bytes {1}")
    @CsvSource({
        "1048576, thin", "1048576, thick-lazy", "1048576, thick",
        "104857600, thin", "104857600, thick-lazy",
        "1073741824, thin", "1073741824, thick-lazy",
        "136365211648, thin", "136365211648, thick-lazy",    // 127 GiB
        "1048579584, thin", "1048579584, thick-lazy",        // 1000 MiB + 7 sectors
        "2190433320960, thin", "2190433320960, thick-lazy",  // 2040 GiB, the limit
    })
    void qemuReportsTheSizeStrataCreated(long size, String provisioning) {
        Path p = dir.resolve("s.vhd");
        create(p, size, Provisioning.parse(provisioning)).close();
        assertQemuSees(p, size);
        assertEquals(size, format.probe(LocalFile.open(p, false)).virtualSize());
    }

    /** Random patterns at scattered, unaligned offsets, mirrored into a raw model file. */
    @ParameterizedTest
    @ValueSource(strings = {"thin", "thick", "thick-lazy"})
    void dataStrataWritesReadsBackThroughQemu(String provisioning) throws IOException {
        long size = 37 * MIB + 3 * 512;
        Path img = dir.resolve("w.vhd");
        Path model = dir.resolve("model.raw");
        Random rnd = new Random(42);
        try (VirtualDisk d = create(img, size, Provisioning.parse(provisioning));
                RandomAccessFile raw = new RandomAccessFile(model.toFile(), "rw")) {
            raw.setLength(size);
            for (int i = 0; i < 60; i++) {
                int len = 1 + rnd.nextInt(i % 10 == 0 ? 3 << 20 : 70_000);
                long off = (long) (rnd.nextDouble() * (size - len));
                byte[] b = new byte[len];
                rnd.nextBytes(b);
                d.write(ByteBuffer.wrap(b), off);
                raw.seek(off);
                raw.write(b);
            }
            byte[] end = new byte[512];
            rnd.nextBytes(end);
            d.write(ByteBuffer.wrap(end), size - 512);
            raw.seek(size - 512);
            raw.write(end);
        }
        assertQemuSees(img, size);
        Path out = dir.resolve("out.raw");
        run("qemu-img", "convert", "-f", "vpc", "-O", "raw", img.toString(), out.toString());
        assertEquals(Files.size(model), Files.size(out));
        assertArrayEquals(Files.readAllBytes(model), Files.readAllBytes(out));
        run("qemu-img", "compare", "-f", "vpc", "-F", "raw", img.toString(), model.toString());
        String check = run("qemu-io", "-f", "vpc", "-r", "-c", "read -P 0 0 512", img.toString());
        assertTrue(check.contains("read 512/512") || check.contains("Pattern verification failed"), check);
    }

    private static List<String> qemuWrites() {
        List<String> cmds = new ArrayList<>();
        cmds.add("write -P 0x5a 1M 3M");
        cmds.add("write -P 0xa5 12345k 7k");
        cmds.add("write -P 0x33 0 512");
        return cmds;
    }

    private static void qemuFill(Path img) {
        List<String> cmd = new ArrayList<>(List.of("qemu-io", "-f", "vpc"));
        for (String c : qemuWrites()) {
            cmd.add("-c");
            cmd.add(c);
        }
        cmd.add(img.toString());
        run(cmd.toArray(String[]::new));
    }

    private static long qemuSize(Path img) {
        return Long.parseLong(jsonField(run("qemu-img", "info", "-f", "vpc", "--output=json", img.toString()),
                "virtual-size"));
    }

    private static byte[] strataRead(VirtualDisk d, long off, int len) {
        ByteBuffer b = ByteBuffer.allocate(len);
        d.read(b, off);
        return b.array();
    }

    private static byte[] filled(int len, int value) {
        byte[] b = new byte[len];
        java.util.Arrays.fill(b, (byte) value);
        return b;
    }

    private void assertQemuPatterns(VirtualDisk d) {
        assertArrayEquals(filled(512, 0x33), strataRead(d, 0, 512));
        assertArrayEquals(filled(512, 0), strataRead(d, 512, 512));
        assertArrayEquals(filled(3 << 20, 0x5a), strataRead(d, MIB, 3 << 20));
        assertArrayEquals(filled(7 << 10, 0xa5), strataRead(d, 12345L << 10, 7 << 10));
        assertArrayEquals(filled(4096, 0), strataRead(d, 4 * MIB, 4096));
    }

    @ParameterizedTest(name = "{0} {1}")
    @CsvSource({
        "dynamic, 64M, off", "fixed, 64M, off",
        "dynamic, 100000k, off", "fixed, 100000k, off",    // qemu rounds these to a CHS size ("qemu" creator)
        "dynamic, 100000k, on", "fixed, 100000k, on",      // force_size: "qem2" creator, exact size
    })
    void strataReadsImagesQemuMade(String subformat, String size, String forceSize) {
        Path img = dir.resolve("q.vhd");
        run("qemu-img", "create", "-q", "-f", "vpc", "-o", "subformat=" + subformat + ",force_size=" + forceSize,
                img.toString(), size);
        qemuFill(img);
        long qemuSize = qemuSize(img);
        ImageInfo info = format.probe(LocalFile.open(img, false));
        assertEquals(qemuSize, info.virtualSize());
        assertEquals(subformat, info.details().get("subformat"));
        try (VirtualDisk d = format.open(LocalFile.open(img, false), true)) {
            assertEquals(qemuSize, d.virtualSize());
            assertQemuPatterns(d);
        }
        // the whole disk, byte for byte, against qemu's own conversion
        Path out = dir.resolve("q.raw");
        run("qemu-img", "convert", "-f", "vpc", "-O", "raw", img.toString(), out.toString());
        try (VirtualDisk d = format.open(LocalFile.open(img, false), true)) {
            assertArrayEquals(readAll(out), strataRead(d, 0, (int) d.virtualSize()));
        }
    }

    private static byte[] readAll(Path p) {
        try {
            return Files.readAllBytes(p);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** Growing a qemu image whose BAT has no room: Strata moves the BAT, never the data. */
    @ParameterizedTest
    @ValueSource(strings = {"dynamic", "fixed"})
    void strataGrowsAndWritesQemuImages(String subformat) throws IOException {
        Path img = dir.resolve("q.vhd");
        run("qemu-img", "create", "-q", "-f", "vpc", "-o", "subformat=" + subformat, img.toString(), "20M");
        qemuFill(img);
        long oldSize = qemuSize(img);
        long newSize = 300 * MIB + 512;
        byte[] tail = new byte[5000];
        new Random(5).nextBytes(tail);
        try (VirtualDisk d = format.open(LocalFile.open(img, true), false)) {
            d.resize(newSize);
            d.write(ByteBuffer.wrap(tail), newSize - tail.length);
            d.write(ByteBuffer.wrap(tail), oldSize - 100);
        }
        assertQemuSees(img, newSize);
        Path model = dir.resolve("m.raw");
        run("qemu-img", "convert", "-f", "vpc", "-O", "raw", img.toString(), model.toString());
        try (RandomAccessFile raw = new RandomAccessFile(model.toFile(), "r");
                VirtualDisk d = format.open(LocalFile.open(img, false), true)) {
            assertEquals(newSize, raw.length());
            byte[] got = new byte[tail.length];
            raw.seek(newSize - tail.length);
            raw.readFully(got);
            assertArrayEquals(tail, got);
            raw.seek(oldSize - 100);
            raw.readFully(got);
            assertArrayEquals(tail, got);
            assertQemuPatterns(d);
        }
        run("qemu-img", "compare", "-f", "vpc", "-F", "raw", img.toString(), model.toString());
    }

    /** qemu allocates blocks inside Strata's reserved BAT room; Strata must cope, also when growing. */
    @Test
    void qemuWritesIntoStrataImagesThenStrataGrowsThem() {
        Path img = dir.resolve("s.vhd");
        long size = 20 * MIB;
        create(img, size, Provisioning.THIN).close();
        qemuFill(img);
        assertQemuSees(img, size);
        try (VirtualDisk d = format.open(LocalFile.open(img, true), false)) {
            assertQemuPatterns(d);
            d.resize(2 * GIB);
            d.write(ByteBuffer.wrap(filled(4096, 0x77)), GIB);
            assertQemuPatterns(d);
        }
        assertQemuSees(img, 2 * GIB);
        // qemu-io exits non-zero when a pattern does not match
        String out = run("qemu-io", "-f", "vpc", "-r", "-c", "read -P 0x77 1G 4k", "-c", "read -P 0x5a 1M 3M",
                "-c", "read -P 0 5M 4k", "-c", "read -P 0 1500M 4k", img.toString());
        assertTrue(!out.contains("Pattern verification failed"), out);
    }

    /** Other tools use other block sizes (Virtual PC: 512 KiB); Strata reads and writes them, qemu agrees. */
    @Test
    void smallerBlockSizesFromOtherTools() throws IOException {
        Path img = dir.resolve("b.vhd");
        long size = 8 * MIB;
        create(img, size, Provisioning.THIN).close();
        try (LocalFile f = LocalFile.open(img, true)) {
            DynamicHeader h = DynamicHeader.decode(f.readAt(512, 1024), "h");
            DynamicHeader small = new DynamicHeader(h.dataOffset(), h.tableOffset(), h.headerVersion(), 16, 512 << 10,
                    h.parentUniqueId(), h.parentTimestamp(), h.parentName(), h.parentLocators());
            f.write(ByteBuffer.wrap(small.encode()), 512);
        }
        byte[] data = new byte[(int) (3 * MIB)];
        new Random(3).nextBytes(data);
        try (VirtualDisk d = format.open(LocalFile.open(img, true), false)) {
            d.write(ByteBuffer.wrap(data), 300_000);
        }
        assertQemuSees(img, size);
        Path out = dir.resolve("b.raw");
        run("qemu-img", "convert", "-f", "vpc", "-O", "raw", img.toString(), out.toString());
        byte[] raw = readAll(out);
        assertArrayEquals(data, java.util.Arrays.copyOfRange(raw, 300_000, 300_000 + data.length));
        assertEquals("524288", format.probe(LocalFile.open(img, false)).details().get("block-size"));
    }

    /**
     * qemu does not read differencing VHDs, so the chain's interop point is this: a
     * child fully populated and rebased to no parent is a dynamic VHD that qemu-img
     * reads with exactly the chain's data, and qemu-img check finds nothing wrong.
     */
    @Test
    void aPopulatedChildRebasedToNoneIsADynamicVhdForQemu() throws IOException {
        long size = 40 * MIB + 512;
        Path base = dir.resolve("base.vhd");
        Path child = dir.resolve("child.vhd");
        Path model = dir.resolve("model.raw");
        Random rnd = new Random(8);
        io.strata.api.format.BackingResolver resolver = name -> LocalFile.open(dir.resolve(name), false);
        try (RandomAccessFile raw = new RandomAccessFile(model.toFile(), "rw")) {
            raw.setLength(size);
            try (VirtualDisk b = create(base, size, Provisioning.THIN)) {
                for (int i = 0; i < 20; i++) {
                    int len = 1 + rnd.nextInt(i % 5 == 0 ? 3 << 20 : 20_000);
                    long off = (long) (rnd.nextDouble() * (size - len));
                    byte[] d = new byte[len];
                    rnd.nextBytes(d);
                    b.write(ByteBuffer.wrap(d), off);
                    raw.seek(off);
                    raw.write(d);
                }
            }
            try (VirtualDisk c = format.createChild(LocalFile.open(child, true), "base.vhd", resolver)) {
                for (int i = 0; i < 30; i++) {
                    int len = 1 + rnd.nextInt(5000);
                    long off = (long) (rnd.nextDouble() * (size - len));
                    byte[] d = new byte[len];
                    rnd.nextBytes(d);
                    c.write(ByteBuffer.wrap(d), off);
                    raw.seek(off);
                    raw.write(d);
                }
                c.trim(20 * MIB, 4 * MIB);
                raw.seek(20 * MIB);
                raw.write(new byte[(int) (4 * MIB)]);
                c.populate(0, size);
                c.rebase(null, resolver);
            }
        }
        assertQemuSees(child, size);
        run("qemu-img", "compare", "-f", "vpc", "-F", "raw", child.toString(), model.toString());
        Path out = dir.resolve("out.raw");
        run("qemu-img", "convert", "-f", "vpc", "-O", "raw", child.toString(), out.toString());
        assertArrayEquals(Files.readAllBytes(model), Files.readAllBytes(out));
        assertTrue(format.check(LocalFile.open(child, false), resolver, false).clean());
    }
}

package io.strata.raw.internal;

import io.strata.testing.LocalFile;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.strata.api.format.DiskSpec;
import io.strata.api.format.Provisioning;
import io.strata.api.format.VirtualDisk;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Raw images against the real qemu-img and qemu-io. */
class RawInteropTest {
    private final RawFormat format = new RawFormat();

    @TempDir
    Path dir;

    @BeforeAll
    static void needQemu() {
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/qemu-img")) && Files.isExecutable(Path.of("/usr/bin/qemu-io")),
                "qemu-img/qemu-io not installed (apt-get install qemu-utils)");
    }

    static String run(String... cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), String.join(" ", cmd) + " failed:\n" + out);
        return out;
    }

    private static long qemuSize(Path p) throws IOException, InterruptedException {
        String json = run("qemu-img", "info", "-f", "raw", "--output=json", p.toString());
        Matcher m = Pattern.compile("\"virtual-size\":\\s*(\\d+)").matcher(json);
        assertTrue(m.find(), json);
        return Long.parseLong(m.group(1));
    }

    @ParameterizedTest
    @ValueSource(strings = {"thin", "thick", "thick-lazy"})
    void strataWritesQemuReads(String provisioning) throws Exception {
        Path img = dir.resolve("s.raw");
        Path model = dir.resolve("m.raw");
        long size = (21L << 20) + 512;
        Random rnd = new Random(9);
        try (VirtualDisk d = format.create(LocalFile.open(img, true), new DiskSpec(size, Provisioning.parse(provisioning)));
                RandomAccessFile raw = new RandomAccessFile(model.toFile(), "rw")) {
            raw.setLength(size);
            for (int i = 0; i < 30; i++) {
                byte[] b = new byte[1 + rnd.nextInt(200_000)];
                rnd.nextBytes(b);
                long off = (long) (rnd.nextDouble() * (size - b.length));
                d.write(ByteBuffer.wrap(b), off);
                raw.seek(off);
                raw.write(b);
            }
            d.resize(size + (5L << 20));
            raw.setLength(size + (5L << 20));
        }
        assertEquals(size + (5L << 20), qemuSize(img));
        run("qemu-img", "compare", "-f", "raw", "-F", "raw", img.toString(), model.toString());
    }

    @Test
    void qemuWritesStrataReads() throws Exception {
        Path img = dir.resolve("q.raw");
        run("qemu-img", "create", "-q", "-f", "raw", img.toString(), "10M");
        run("qemu-io", "-f", "raw", "-c", "write -P 0x5a 1M 3M", "-c", "write -P 0xa5 9M 512", img.toString());
        assertEquals(10L << 20, format.probe(LocalFile.open(img, false)).virtualSize());
        try (VirtualDisk d = format.open(LocalFile.open(img, false), true)) {
            ByteBuffer b = ByteBuffer.allocate(3 << 20);
            d.read(b, 1L << 20);
            byte[] expect = new byte[3 << 20];
            Arrays.fill(expect, (byte) 0x5a);
            assertArrayEquals(expect, b.array());
            ByteBuffer c = ByteBuffer.allocate(512);
            d.read(c, 9L << 20);
            byte[] e2 = new byte[512];
            Arrays.fill(e2, (byte) 0xa5);
            assertArrayEquals(e2, c.array());
        }
    }
}

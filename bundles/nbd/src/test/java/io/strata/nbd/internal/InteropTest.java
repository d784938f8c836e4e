package io.strata.nbd.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.api.format.VirtualDisk;
import io.strata.api.service.VolumeRef;
import java.io.File;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Real NBD clients against the server serving real images: qemu-io and qemu-img (QEMU's
 * NBD client), nbdinfo and nbdcopy (libnbd), and fio's nbd engine on several connections at
 * once with verification. `./strata test` installs them (qemu-utils, libnbd-bin, fio).
 */
class InteropTest {
    static final long SIZE = 64L << 20;

    @TempDir
    Path tmp;
    Fixture fx;
    NbdService nbd;

    static boolean has(String tool) {
        return Stream.of(System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(File.pathSeparator))
                .anyMatch(d -> Files.isExecutable(Path.of(d, tool)));
    }

    @BeforeEach
    void start() throws Exception {
        fx = new Fixture(tmp);
        fx.volume("vhd", "vhd", SIZE);
        fx.volume("qcow", "qcow2", SIZE);
        fx.volume("raw", "raw", SIZE);
        nbd = fx.start();
        nbd.add(new VolumeRef("local", "vhd"), null, false);
        nbd.add(new VolumeRef("local", "qcow"), null, false);
        nbd.add(new VolumeRef("local", "raw"), "rawro", true);
    }

    @AfterEach
    void stop() {
        fx.close();
    }

    record Result(int exit, String output) {
    }

    static Result run(List<String> cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(300, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("timed out: " + cmd);
        }
        return new Result(p.exitValue(), new String(out, StandardCharsets.UTF_8));
    }

    static String ok(String... cmd) throws IOException, InterruptedException {
        Result r = run(List.of(cmd));
        assertEquals(0, r.exit(), String.join(" ", cmd) + ":\n" + r.output());
        return r.output();
    }


    @Test
    void qemuIoPatternsDiscardAndWriteZeroesAtOddOffsetsAndTheEnd() throws Exception {
        Assumptions.assumeTrue(has("qemu-io"), "qemu-io (qemu-utils) is needed");
        for (String vol : List.of("vhd", "qcow")) {
            String end = Long.toString(SIZE - 4096);
            String out = ok("qemu-io", "-f", "raw",
                    "-c", "write -P 0xab 1000 5000",
                    "-c", "read -P 0xab 1000 5000",
                    "-c", "write -P 0x5c 3145727 1048577",
                    "-c", "read -P 0x5c 3145727 1048577",
                    "-c", "write -P 0xcd " + end + " 4096",
                    "-c", "read -P 0xcd " + end + " 4096",
                    "-c", "write -z 3145728 100000",
                    "-c", "read -P 0 3145728 100000",
                    "-c", "read -P 0x5c 3245728 947999",
                    "-c", "discard 16777216 4194304",
                    "-c", "flush",
                    fx.uri(vol));
            assertFalse(out.contains("failed") || out.contains("error"), vol + ":\n" + out);
            assertTrue(out.contains("wrote 5000/5000 bytes at offset 1000"), out);
            byte[] img = fx.image(vol);
            for (int i = 1000; i < 6000; i++) {
                assertEquals((byte) 0xab, img[i], "byte " + i);
            }
            assertEquals((byte) 0xcd, img[(int) SIZE - 1]);
            assertEquals(0, img[3145728 + 50_000]);
            // past the end: refused by the server, reported by qemu-io
            Result past = run(List.of("qemu-io", "-f", "raw", "-c", "read " + (SIZE - 512) + " 1024", fx.uri(vol)));
            assertTrue(past.output().contains("nput/output error") || past.output().contains("nvalid argument")
                    || past.output().contains("out of range") || past.exit() != 0, past.output());
        }
        // a read-only export refuses writes
        Result ro = run(List.of("qemu-io", "-f", "raw", "-c", "write 0 512", fx.uri("rawro")));
        assertTrue(ro.output().toLowerCase().contains("read-only") || ro.output().contains("ermission")
                || ro.output().contains("not permitted"), ro.output());
    }

    @Test
    void qemuImgConvertAndCompareAgreeWithTheImage() throws Exception {
        Assumptions.assumeTrue(has("qemu-img"), "qemu-img (qemu-utils) is needed");
        byte[] expected = new byte[(int) SIZE];
        Random r = new Random(7);
        try (VirtualDisk d = fx.volumes.open(new VolumeRef("local", "vhd"), false)) {
            for (long off : new long[] {0, 5L << 20, (33L << 20) + 512, SIZE - (1 << 20)}) {
                byte[] b = new byte[(int) Math.min(1 << 20, SIZE - off)];
                r.nextBytes(b);
                d.write(ByteBuffer.wrap(b), off);
                System.arraycopy(b, 0, expected, (int) off, b.length);
            }
            d.flush();
        }
        // the export opened its handle before these writes went to the file: reopen to be sure it sees them
        nbd.remove("vhd", true);
        nbd.add(new VolumeRef("local", "vhd"), null, false);
        Path want = tmp.resolve("want.raw");
        Files.write(want, expected);
        Path got = tmp.resolve("got.raw");
        ok("qemu-img", "convert", "-f", "raw", "-O", "raw", fx.uri("vhd"), got.toString());
        assertArrayEquals(expected, Files.readAllBytes(got));
        String cmp = ok("qemu-img", "compare", "-f", "raw", "-F", "raw", fx.uri("vhd"), want.toString());
        assertTrue(cmp.contains("Images are identical"), cmp);
        // qemu-img map over NBD shows the allocation the VHD has (from BLOCK_STATUS)
        String map = ok("qemu-img", "map", "-f", "raw", "--output=json", fx.uri("vhd"));
        assertTrue(map.contains("\"data\": true") && map.contains("\"data\": false"), map);
    }

    @Test
    void nbdinfoSeesTheFlagsAndTheMapAndNbdcopyCopiesBothWays() throws Exception {
        Assumptions.assumeTrue(has("nbdinfo") && has("nbdcopy"), "nbdinfo and nbdcopy (libnbd-bin) are needed");
        for (String can : List.of("flush", "trim", "multi-conn", "zero", "fua", "fast-zero")) {
            assertEquals(0, run(List.of("nbdinfo", "--can", can, fx.uri("vhd"))).exit(), "--can " + can);
        }
        assertEquals(2, run(List.of("nbdinfo", "--can", "trim", fx.uri("rawro"))).exit(), "a read-only export");
        assertEquals(0, run(List.of("nbdinfo", "--is", "read-only", fx.uri("rawro"))).exit());
        String list = ok("nbdinfo", "--list", "nbd://127.0.0.1:" + nbd.port());
        assertTrue(list.contains("export=\"vhd\"") || list.contains("vhd"), list);

        byte[] src = new byte[(int) SIZE];
        Random r = new Random(11);
        byte[] chunk = new byte[3 << 20];
        r.nextBytes(chunk);
        System.arraycopy(chunk, 0, src, 10 << 20, chunk.length); // data only in MiB 10..13: the rest stays sparse
        Path in = tmp.resolve("in.raw");
        Files.write(in, src);
        ok("nbdcopy", "--flush", in.toString(), fx.uri("vhd")); // --flush: the VHD writes its new BAT entries
        String map = ok("nbdinfo", "--map", fx.uri("vhd"));
        assertTrue(map.contains("hole,zero") && map.contains("data"), map);
        Path out = tmp.resolve("out.raw");
        ok("nbdcopy", fx.uri("vhd"), out.toString());
        assertArrayEquals(src, Files.readAllBytes(out));
        assertArrayEquals(src, fx.image("vhd"));
    }

    @Test
    void fioVerifiesOnSeveralConnectionsAtOnce() throws Exception {
        Assumptions.assumeTrue(has("fio"), "fio is needed");
        for (String vol : List.of("vhd", "qcow")) {
            List<String> cmd = new ArrayList<>(Arrays.asList("fio", "--name=verify", "--ioengine=nbd",
                    "--uri=" + fx.uri(vol), "--rw=randwrite", "--bs=4k", "--iodepth=16", "--numjobs=4",
                    "--size=8m", "--offset_increment=16m", "--verify=crc32c", "--do_verify=1",
                    "--verify_fatal=1", "--verify_state_save=0", "--group_reporting"));
            Result r = run(cmd);
            assertEquals(0, r.exit(), vol + ":\n" + r.output());
            assertFalse(r.output().contains("verify: bad"), r.output());
            assertTrue(r.output().contains("write:"), r.output());
        }
    }
}

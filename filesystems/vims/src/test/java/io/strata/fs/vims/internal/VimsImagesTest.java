package io.strata.fs.vims.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.strata.api.format.DiskFormat;
import io.strata.api.format.DiskSpec;
import io.strata.api.format.Provisioning;
import io.strata.api.format.VirtualDisk;
import io.strata.api.fs.DatastoreFile;
import io.strata.qcow2.internal.Qcow2Format;
import io.strata.vhd.internal.VhdFormat;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.io.TempDir;

/**
 * VHD and qcow2 images made by Strata's formats in a VIMS file: copied off the LUN byte for
 * byte, the real qemu-img checks them clean and reads exactly what was written.
 */
class VimsImagesTest {
    static final int MIB = 1024 * 1024;
    @TempDir
    Path dir;
    TestDevice dev;
    Vims fs;

    @BeforeAll
    static void needQemu() {
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/qemu-img")), "qemu-img not installed (apt-get install qemu-utils)");
    }

    @BeforeEach
    void setUp() {
        dev = new TestDevice(dir.resolve("lun"), 512L * MIB, "uuid:images");
        new VimsFilesystem().format(dev, Map.of("max-files", "64", "max-hosts", "4"), false);
        fs = Vims.mount("ds", dev, Hosts.host("a"));
    }

    @AfterEach
    void tearDown() {
        fs.close();
        dev.close();
    }

    static String run(String... cmd) throws IOException, InterruptedException {
        return run(0, cmd);
    }

    static String run(int alsoOk, String... cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "timeout: " + String.join(" ", cmd));
        assertTrue(p.exitValue() == 0 || p.exitValue() == alsoOk, String.join(" ", cmd) + " failed (exit "
                + p.exitValue() + "):\n" + out);
        return out;
    }

    @ParameterizedTest
    @CsvSource({"vhd, thin", "vhd, thick-lazy", "vhd, thick", "qcow2, thin"})
    void imagesOnVimsPassQemuImgCheckAndReadTheSame(String type, String provisioning) throws Exception {
        DiskFormat format = type.equals("vhd") ? new VhdFormat() : new Qcow2Format();
        long size = 48L * MIB;
        byte[] expected = new byte[(int) size];
        Random r = new Random(type.hashCode() + provisioning.hashCode());
        String name = "img." + format.fileExtension();
        try (DatastoreFile f = fs.create(name);
                VirtualDisk d = format.create(f, new DiskSpec(size, Provisioning.parse(provisioning)))) {
            for (int i = 0; i < 40; i++) {
                int len = (1 + r.nextInt(64)) * 512;
                long off = (long) r.nextInt((int) ((size - len) / 512)) * 512;
                byte[] data = new byte[len];
                r.nextBytes(data);
                d.write(ByteBuffer.wrap(data), off);
                System.arraycopy(data, 0, expected, (int) off, len);
            }
            d.flush();
        }
        assertTrue(fs.check(false).clean());
        // the image file, copied off the VIMS byte for byte
        Path image = dir.resolve(name);
        try (DatastoreFile f = fs.open(name, false);
                FileChannel out = FileChannel.open(image, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
            ByteBuffer buf = ByteBuffer.allocate(MIB);
            for (long pos = 0; pos < f.size(); ) {
                buf.clear();
                int n = f.read(buf, pos);
                buf.flip();
                out.write(buf, pos);
                pos += n;
            }
        }
        String qfmt = type.equals("vhd") ? "vpc" : "qcow2";
        // qemu-img has no checker for VHD (vpc): it says so with exit status 63; qcow2's must find no errors
        String check = run(type.equals("vhd") ? 63 : 0, "qemu-img", "check", "-f", qfmt, image.toString());
        assertTrue(type.equals("vhd") ? check.contains("does not support checks") : check.contains("No errors"), check);
        if (type.equals("vhd")) {
            // what qemu-img can say of a VHD: it opens and describes it
            String info = run("qemu-img", "info", "-f", qfmt, image.toString());
            assertTrue(info.contains("virtual size: 48 MiB"), info);
        }
        Path raw = dir.resolve("out.raw");
        run("qemu-img", "convert", "-f", qfmt, "-O", "raw", image.toString(), raw.toString());
        byte[] got = Files.readAllBytes(raw);
        assertEquals(size, got.length);
        assertArrayEquals(expected, got);
    }
}

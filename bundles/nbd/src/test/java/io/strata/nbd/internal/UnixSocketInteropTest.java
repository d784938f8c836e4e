package io.strata.nbd.internal;

import static io.strata.nbd.internal.InteropTest.has;
import static io.strata.nbd.internal.InteropTest.ok;
import static io.strata.nbd.internal.InteropTest.run;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.api.service.VolumeRef;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Real NBD clients through the server's Unix domain socket, the way a hypervisor on the same
 * host attaches: qemu-io, nbdinfo (its list and its map), nbdcopy both ways (sparse), fio's nbd
 * engine on four connections with verification, and on one (also over TCP) answered by a
 * thread that polls for its requests; and the socket's mode deciding who may connect, checked
 * with a client run as {@code nobody}.
 */
class UnixSocketInteropTest {
    static final long SIZE = 64L << 20;

    @TempDir
    Path tmp;
    Fixture fx;
    NbdService nbd;
    Path sock;

    @BeforeEach
    void start() throws Exception {
        // Traversable by other users, so that only the socket's own mode decides.
        Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwxr-xr-x"));
        sock = tmp.resolve("run/nbd.sock");
        Files.createDirectories(sock.getParent());
        fx = new Fixture(tmp);
        fx.volume("qcow", "qcow2", SIZE);
        fx.volume("vhd", "vhd", SIZE);
        nbd = fx.start(new LocalSocket(sock, LocalSocket.mode("0660"), ""));
        nbd.add(new VolumeRef("local", "qcow"), null, false);
        nbd.add(new VolumeRef("local", "vhd"), null, false);
    }

    @AfterEach
    void stop() {
        fx.close();
    }


    @Test
    void qemuIoWritesAndReadsThroughTheSocket() throws Exception {
        Assumptions.assumeTrue(has("qemu-io"), "qemu-io (qemu-utils) is needed");
        // The reads past the written run are holes of the qcow2 image: answered as hole chunks.
        long holesBefore = nbd.holeReplies();
        String out = ok("qemu-io", "-f", "raw", "-c", "write -P 0x3c 65536 1048576", "-c", "flush",
                "-c", "read -P 0x3c 65536 1048576", "-c", "read -P 0 0 65536",
                "-c", "read -P 0 8388608 4194304", "-c", "read -P 0 1114112 983040", fx.unixUri("qcow"));
        assertFalse(out.contains("failed"), out);
        assertTrue(out.contains("wrote 1048576/1048576 bytes at offset 65536"), out);
        assertTrue(nbd.holeReplies() >= holesBefore + 2, "qemu-io's reads of holes were sent as zeros");
        byte[] img = fx.image("qcow");
        assertEquals((byte) 0x3c, img[65536]);
        assertEquals((byte) 0x3c, img[65536 + 1048575]);
        assertEquals(0, img[65536 + 1048576]);
    }

    @Test
    void nbdinfoListsAndMapsAndNbdcopyCopiesBothWaysSparsely() throws Exception {
        Assumptions.assumeTrue(has("nbdinfo") && has("nbdcopy"), "nbdinfo and nbdcopy (libnbd-bin) are needed");
        String list = ok("nbdinfo", "--list", "nbd+unix://?socket=" + sock);
        assertTrue(list.contains("qcow") && list.contains("vhd"), list);

        byte[] src = new byte[(int) SIZE];
        byte[] data = new byte[2 << 20];
        new Random(5).nextBytes(data);
        System.arraycopy(data, 0, src, 20 << 20, data.length); // MiB 20..22 only: the rest is a hole
        Path in = tmp.resolve("in.raw");
        Files.write(in, src);
        ok("nbdcopy", "--flush", in.toString(), fx.unixUri("vhd"));
        String map = ok("nbdinfo", "--map", fx.unixUri("vhd"));
        assertTrue(map.contains("hole,zero") && map.contains("data"), map);

        Path out = tmp.resolve("out.raw");
        ok("nbdcopy", fx.unixUri("vhd"), out.toString());
        assertArrayEquals(src, Files.readAllBytes(out));
        // Sparse: the holes were not written out as zeros.
        long allocated = Long.parseLong(ok("stat", "-c", "%b", out.toString()).strip()) * 512;
        assertTrue(allocated < 8L << 20, "nbdcopy wrote " + allocated + " bytes of a 2 MiB volume's data");
        assertArrayEquals(src, fx.image("vhd"));

        // Without block status nbdcopy reads every byte: the server answers the holes of its
        // large reads with hole chunks (structured replies), the data run as data.
        Path all = tmp.resolve("all.raw");
        long holesBefore = nbd.holeReplies();
        ok("nbdcopy", "--no-extents", fx.unixUri("vhd"), all.toString());
        assertArrayEquals(src, Files.readAllBytes(all));
        assertTrue(nbd.holeReplies() > holesBefore, "no read was answered with hole chunks");
    }

    @Test
    void fioVerifiesOnFourConnectionsThroughTheSocket() throws Exception {
        Assumptions.assumeTrue(has("fio"), "fio is needed");
        List<String> cmd = new ArrayList<>(Arrays.asList("fio", "--name=verify", "--ioengine=nbd",
                "--uri=" + fx.unixUri("qcow"), "--rw=randwrite", "--bs=4k", "--iodepth=16", "--numjobs=4",
                "--size=8m", "--offset_increment=16m", "--verify=crc32c", "--do_verify=1", "--verify_fatal=1",
                "--verify_state_save=0", "--group_reporting"));
        InteropTest.Result r = run(cmd);
        assertEquals(0, r.exit(), r.output());
        assertFalse(r.output().contains("verify: bad"), r.output());
        assertTrue(r.output().contains("write:"), r.output());
    }

    /**
     * fio on one connection through the socket, 1 MiB sequential writes at QD8 then their
     * verifying reads: the writes are written by workers while the connection reads the next
     * payload, and every block reads back.
     */
    @Test
    void fioLargeWritesOnOneConnectionGoToWorkersAndReadBack() throws Exception {
        Assumptions.assumeTrue(has("fio"), "fio is needed");
        long before = nbd.workerWrites();
        InteropTest.Result r = run(Arrays.asList("fio", "--name=large", "--ioengine=nbd", "--uri=" + fx.unixUri("vhd"),
                "--rw=write", "--bs=1m", "--iodepth=8", "--size=32m", "--verify=crc32c", "--do_verify=1",
                "--verify_fatal=1", "--verify_state_save=0"));
        assertEquals(0, r.exit(), r.output());
        assertFalse(r.output().contains("verify: bad"), r.output());
        assertTrue(r.output().contains("write:"), r.output());
        assertTrue(nbd.workerWrites() > before, "no large write went to a worker");
    }

    /**
     * fio on one connection, 4k random writes then their verifying reads at QD32, over the Unix
     * socket and over TCP: the connection is the server's one busy one, so its thread polls for
     * the next request before it sleeps ({@code poll.us}), and every block reads back.
     */
    @ParameterizedTest
    @ValueSource(strings = {"unix", "tcp"})
    void fioOnOneConnectionIsAnsweredByAPollingThread(String transport) throws Exception {
        Assumptions.assumeTrue(has("fio"), "fio is needed");
        nbd.pollMicros(10_000); // a poll ends when the request is there; 10 ms covers a loaded machine
        String uri = "unix".equals(transport) ? fx.unixUri("vhd") : "nbd://127.0.0.1:" + nbd.port() + "/vhd";
        InteropTest.Result r = run(Arrays.asList("fio", "--name=poll", "--ioengine=nbd", "--uri=" + uri,
                "--rw=randwrite", "--bs=4k", "--iodepth=32", "--size=16m", "--verify=crc32c", "--do_verify=1",
                "--verify_fatal=1", "--verify_state_save=0"));
        assertEquals(0, r.exit(), r.output());
        assertFalse(r.output().contains("verify: bad"), r.output());
        assertTrue(r.output().contains("write:"), r.output());
        assertTrue(nbd.polls()[0] > 0, "no poll found fio's next request: " + Arrays.toString(nbd.polls()));
    }

    @Test
    void theSocketsModeDecidesWhoMayConnect() throws Exception {
        Assumptions.assumeTrue(has("nbdinfo") && has("setpriv"), "nbdinfo and setpriv are needed");
        List<String> asNobody = List.of("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "nbdinfo",
                "--size", fx.unixUri("qcow"));
        // 0660, owned by this user and group: nobody is refused, and nothing was served.
        InteropTest.Result refused = run(asNobody);
        assertNotEquals(0, refused.exit(), refused.output());
        assertTrue(refused.output().contains("ermission denied"), refused.output());

        // The same server with the socket opened to everyone (0666): nobody reads the size.
        fx.close();
        nbd = fx.start(new LocalSocket(sock, LocalSocket.mode("0666"), "")); // the exports are saved
        InteropTest.Result allowed = run(asNobody);
        assertEquals(0, allowed.exit(), allowed.output());
        assertEquals(Long.toString(SIZE), allowed.output().strip());
    }
}

package io.strata.nbd.internal;

import static io.strata.nbd.internal.InteropTest.has;
import static io.strata.nbd.internal.InteropTest.ok;
import static io.strata.nbd.internal.InteropTest.run;
import static io.strata.nbd.internal.Protocol.*;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.api.format.VirtualDisk;
import io.strata.api.service.VolumeRef;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * NBD over TLS with real clients: qemu-io (QEMU's tls-creds-x509), nbdinfo and nbdcopy
 * (libnbd's {@code nbds://} with {@code tls-certificates}). Certificates are made here with
 * openssl: a CA, the server's (for 127.0.0.1), a client's, and a second CA nobody trusts.
 * A TLS-only server serves the right certificate, refuses the wrong one and clients without
 * TLS, and serves nothing to them; client certificates are checked when configured.
 */
class TlsInteropTest {
    static final long SIZE = 16L << 20;
    static final VolumeRef VOL = new VolumeRef("local", "vol");

    @TempDir
    static Path certs;
    /** The server's directory, a client's with the CA only, one with a client certificate, one with a stranger CA. */
    static Path server;
    static Path client;
    static Path clientWithCert;
    static Path stranger;

    @TempDir
    Path tmp;
    Fixture fx;
    NbdService nbd;

    @BeforeAll
    static void makeCertificates() throws Exception {
        Assumptions.assumeTrue(has("openssl"), "openssl is needed");
        io.strata.testing.TestCertificates t = io.strata.testing.TestCertificates.make(certs);
        server = t.server;
        client = t.client;
        clientWithCert = t.clientWithCert;
        stranger = t.stranger;
    }

    void start(Tls.Mode mode, boolean verifyPeer) throws Exception {
        fx = new Fixture(tmp);
        fx.volume("vol", "qcow2", SIZE);
        nbd = new NbdService(fx.volumes, fx.store, "127.0.0.1", 0, 30, true, NbdService.Limits.DEFAULT,
                new LocalSocket(tmp.resolve("nbd.sock"), LocalSocket.mode("0600"), ""),
                Tls.load(mode, server, verifyPeer));
        fx.server = nbd;
        nbd.add(VOL, null, false);
    }

    @AfterEach
    void stop() {
        if (fx != null) {
            fx.close();
        }
    }

    String nbds(Path certificates) {
        return "nbds://127.0.0.1:" + nbd.port() + "/vol?tls-certificates=" + certificates;
    }

    List<String> qemuIo(Path certificates, String... commands) {
        List<String> cmd = new java.util.ArrayList<>(List.of("qemu-io"));
        if (certificates != null) {
            cmd.addAll(List.of("--object", "tls-creds-x509,id=tls0,endpoint=client,dir=" + certificates));
        }
        cmd.addAll(List.of("--image-opts", "driver=nbd,server.type=inet,server.host=127.0.0.1,server.port="
                + nbd.port() + ",export=vol" + (certificates != null ? ",tls-creds=tls0" : "")));
        for (String c : commands) {
            cmd.addAll(List.of("-c", c));
        }
        return cmd;
    }


    @Test
    void aTlsOnlyServerServesTheRightCertificateAndNothingToOthers() throws Exception {
        Assumptions.assumeTrue(has("qemu-io") && has("nbdinfo") && has("nbdcopy"), "qemu-io and libnbd-bin");
        start(Tls.Mode.REQUIRE, false);
        assertTrue(nbd.info("vol").uri().startsWith("nbds://127.0.0.1:"), nbd.info("vol").uri());

        // The right CA: qemu-io writes and reads, nbdinfo sees the size, nbdcopy copies.
        String out = ok(qemuIo(client, "write -P 0x5a 1048576 131072", "flush", "read -P 0x5a 1048576 131072")
                .toArray(new String[0]));
        assertTrue(out.contains("wrote 131072/131072") && !out.contains("failed"), out);
        assertEquals(Long.toString(SIZE), ok("nbdinfo", "--size", nbds(client)).strip());
        Path copy = tmp.resolve("copy.raw");
        ok("nbdcopy", nbds(client), copy.toString());
        byte[] before = fx.image("vol");
        assertArrayEquals(before, Files.readAllBytes(copy));
        assertEquals((byte) 0x5a, before[1048576]);

        // A certificate nobody here signed: refused by every client, nothing served or written.
        InteropTest.Result q = run(qemuIo(stranger, "write -P 0x11 0 65536"));
        assertNotEquals(0, q.exit(), q.output());
        assertTrue(q.output().contains("certificate"), q.output());
        InteropTest.Result i = run(List.of("nbdinfo", "--size", nbds(stranger)));
        assertNotEquals(0, i.exit(), i.output());
        assertTrue(i.output().contains("certificate"), i.output());
        Path refused = tmp.resolve("refused.raw");
        assertNotEquals(0, run(List.of("nbdcopy", nbds(stranger), refused.toString())).exit());

        // No TLS at all: refused with the reason; nothing written.
        InteropTest.Result plainInfo = run(List.of("nbdinfo", "--size", "nbd://127.0.0.1:" + nbd.port() + "/vol"));
        assertNotEquals(0, plainInfo.exit(), plainInfo.output());
        assertTrue(plainInfo.output().toLowerCase().contains("tls"), plainInfo.output());
        InteropTest.Result plainQemu = run(qemuIo(null, "write -P 0x22 0 65536"));
        assertNotEquals(0, plainQemu.exit(), plainQemu.output());
        assertTrue(plainQemu.output().contains("requires TLS"), plainQemu.output()); // the server's message
        assertArrayEquals(before, fx.image("vol"), "a refused client changed the volume");

        // The protocol itself: before STARTTLS every option but ABORT is refused as TLS_REQD,
        // and NBD_OPT_EXPORT_NAME (which has no error reply) ends the connection.
        try (RawClient c = new RawClient(nbd.port()).hello()) {
            c.option(OPT_GO, RawClient.goData("vol"));
            assertEquals(REP_ERR_TLS_REQD, c.reply().type());
            c.option(OPT_LIST, new byte[0]);
            assertEquals(REP_ERR_TLS_REQD, c.reply().type());
            c.option(OPT_EXPORT_NAME, "vol".getBytes());
            assertTrue(c.closedByServer());
        }
        // Through the Unix domain socket, its mode guards it: no TLS asked.
        assertEquals(Long.toString(SIZE),
                ok("nbdinfo", "--size", "nbd+unix:///vol?socket=" + nbd.socketPath()).strip());
    }

    @Test
    void clientCertificatesAreCheckedWhenConfigured() throws Exception {
        Assumptions.assumeTrue(has("qemu-io") && has("nbdinfo"), "qemu-io and nbdinfo are needed");
        start(Tls.Mode.REQUIRE, true);
        assertNotEquals(0, run(List.of("nbdinfo", "--size", nbds(client))).exit(), "no client certificate");
        assertEquals(Long.toString(SIZE), ok("nbdinfo", "--size", nbds(clientWithCert)).strip());
        String out = ok(qemuIo(clientWithCert, "write -P 0x6b 0 65536", "flush").toArray(new String[0]));
        assertTrue(out.contains("wrote 65536/65536"), out);
        InteropTest.Result without = run(qemuIo(client, "write -P 0x6c 0 65536"));
        assertNotEquals(0, without.exit(), without.output());
        assertEquals((byte) 0x6b, fx.image("vol")[0]);
    }

    @Test
    void tlsOnLetsClientsChooseAndOffRefusesStartTls() throws Exception {
        Assumptions.assumeTrue(has("nbdinfo"), "nbdinfo is needed");
        start(Tls.Mode.ON, false);
        assertTrue(nbd.info("vol").uri().startsWith("nbd://"));
        assertEquals(Long.toString(SIZE), ok("nbdinfo", "--size", nbds(client)).strip());
        assertEquals(Long.toString(SIZE),
                ok("nbdinfo", "--size", "nbd://127.0.0.1:" + nbd.port() + "/vol").strip());
        fx.close();
        fx = null;

        try (Fixture off = new Fixture(tmp.resolve("off"))) {
            Files.createDirectories(tmp.resolve("off"));
            off.volume("v", "raw", 1 << 20);
            NbdService s = new NbdService(off.volumes, off.store, "0.0.0.0", 0, 30, true,
                    NbdService.Limits.DEFAULT, null, Tls.OFF);
            off.server = s;
            s.add(new VolumeRef("local", "v"), null, false);
            // Without TLS the server stays on loopback whatever the address says.
            assertTrue(s.info("v").uri().startsWith("nbd://127.0.0.1:"), s.info("v").uri());
            try (RawClient c = new RawClient(s.port()).hello()) {
                c.option(OPT_STARTTLS, new byte[0]);
                assertEquals(REP_ERR_POLICY, c.reply().type());
            }
        }
    }

    /**
     * With {@code tls = on} one export can require TLS: TCP clients without it are refused that
     * export (TLS_REQD, or the connection closed for EXPORT_NAME) and served the others; with
     * TLS, or through the Unix domain socket, it is served. The requirement is saved with the
     * export, and a server without TLS refuses to make such an export.
     */
    @Test
    void oneExportCanRequireTls() throws Exception {
        Assumptions.assumeTrue(has("nbdinfo") && has("qemu-io"), "nbdinfo and qemu-io are needed");
        start(Tls.Mode.ON, false);
        fx.volume("secret", "raw", SIZE);
        io.strata.api.service.ExportInfo info = nbd.add(new VolumeRef("local", "secret"), null, false, true);
        assertTrue(info.tlsRequired());
        assertTrue(info.uri().startsWith("nbds://"), info.uri());
        assertTrue(!nbd.info("vol").tlsRequired() && nbd.info("vol").uri().startsWith("nbd://"));
        String plain = "nbd://127.0.0.1:" + nbd.port() + "/";

        InteropTest.Result refused = run(List.of("nbdinfo", "--size", plain + "secret"));
        assertNotEquals(0, refused.exit(), refused.output());
        assertTrue(refused.output().toLowerCase().contains("tls"), refused.output());
        InteropTest.Result q = run(List.of("qemu-io", "-f", "raw", "-c", "write -P 0x41 0 4096", plain + "secret"));
        assertNotEquals(0, q.exit(), q.output());
        assertTrue(q.output().contains("requires TLS"), q.output());
        assertEquals(Long.toString(SIZE), ok("nbdinfo", "--size", plain + "vol").strip());
        assertEquals(Long.toString(SIZE), ok("nbdinfo", "--size",
                "nbds://127.0.0.1:" + nbd.port() + "/secret?tls-certificates=" + client).strip());
        assertEquals(Long.toString(SIZE),
                ok("nbdinfo", "--size", "nbd+unix:///secret?socket=" + nbd.socketPath()).strip());
        try (RawClient c = new RawClient(nbd.port()).hello()) {
            c.option(OPT_GO, RawClient.goData("secret"));
            assertEquals(REP_ERR_TLS_REQD, c.reply().type());
            c.option(OPT_EXPORT_NAME, "secret".getBytes());
            assertTrue(c.closedByServer());
        }
        try (VirtualDisk d = fx.volumes.open(new VolumeRef("local", "secret"), true)) {
            ByteBuffer b = ByteBuffer.allocate(4096);
            d.read(b, 0);
            assertArrayEquals(new byte[4096], b.array(), "a refused client wrote");
        }
        // Saved with the export: a restarted server still requires it.
        nbd.close();
        nbd = new NbdService(fx.volumes, fx.store, "127.0.0.1", 0, 30, true, NbdService.Limits.DEFAULT, null,
                Tls.load(Tls.Mode.ON, server, false));
        fx.server = nbd;
        assertTrue(nbd.info("secret").tlsRequired());
        assertTrue(!nbd.info("vol").tlsRequired());
        // A server without TLS cannot promise it.
        try (Fixture off = new Fixture(Files.createDirectories(tmp.resolve("off")))) {
            off.volume("v", "raw", 1 << 20);
            NbdService s = off.start();
            io.strata.api.StorageException e = assertThrows(io.strata.api.StorageException.class,
                    () -> s.add(new VolumeRef("local", "v"), null, false, true));
            assertEquals(io.strata.api.ErrorCode.UNSUPPORTED, e.code());
            assertTrue(s.list().isEmpty());
        }
    }

    @Test
    void badCertificatesFailTheStartWithTheReason() throws Exception {
        Path empty = Files.createDirectories(tmp.resolve("empty"));
        IOException missing = assertThrows(IOException.class, () -> Tls.load(Tls.Mode.REQUIRE, empty, false));
        assertTrue(missing.getMessage().contains("server-cert.pem does not exist"), missing.getMessage());

        Path pkcs1 = Files.createDirectories(tmp.resolve("pkcs1"));
        Files.copy(server.resolve("server-cert.pem"), pkcs1.resolve("server-cert.pem"));
        Files.writeString(pkcs1.resolve("server-key.pem"), "-----BEGIN EC PRIVATE KEY-----\nAAAA\n"
                + "-----END EC PRIVATE KEY-----\n");
        IOException format = assertThrows(IOException.class, () -> Tls.load(Tls.Mode.ON, pkcs1, false));
        assertTrue(format.getMessage().contains("openssl pkcs8 -topk8"), format.getMessage());

        Path noCa = Files.createDirectories(tmp.resolve("noca"));
        Files.copy(server.resolve("server-cert.pem"), noCa.resolve("server-cert.pem"));
        Files.copy(server.resolve("server-key.pem"), noCa.resolve("server-key.pem"));
        Tls.load(Tls.Mode.ON, noCa, false); // no CA needed without client certificates
        IOException ca = assertThrows(IOException.class, () -> Tls.load(Tls.Mode.ON, noCa, true));
        assertTrue(ca.getMessage().contains("ca-cert.pem does not exist"), ca.getMessage());
        assertEquals(Tls.Mode.REQUIRE, Tls.Mode.parse(" Require "));
        assertThrows(IllegalArgumentException.class, () -> Tls.Mode.parse("maybe"));
    }
}

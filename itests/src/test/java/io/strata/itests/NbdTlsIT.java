package io.strata.itests;

import static io.strata.itests.KarafProcess.keyValues;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNotEquals;
import static org.junit.Assert.assertTrue;

import io.strata.testing.TestCertificates;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.junit.After;
import org.junit.Assume;
import org.junit.Test;

/**
 * The distribution's NBD server configured for TLS in {@code etc/io.strata.nbd.cfg}: with
 * {@code tls = require} exports are {@code nbds://}, qemu-io and nbdinfo with the CA are
 * served, a client without TLS is refused, the Unix domain socket stays clear; certificates
 * that cannot be loaded keep the server from starting, and the shell and the log say why.
 */
public class NbdTlsIT {
    private KarafProcess karaf;

    @After
    public void tearDown() {
        if (karaf != null) {
            karaf.close();
        }
    }

    @Test
    public void aTlsOnlyServerFromTheConfigurationFile() throws Exception {
        Assume.assumeTrue("openssl, qemu-io and nbdinfo are needed",
                HostTools.has("openssl") && HostTools.has("qemu-io") && HostTools.has("nbdinfo"));
        karaf = new KarafProcess("nbd-tls");
        TestCertificates certs = TestCertificates.make(karaf.home().resolve("certs"));
        karaf.configure("etc/io.strata.nbd.cfg", "tls", "require");
        karaf.configure("etc/io.strata.nbd.cfg", "tls.dir", certs.server.toString());
        karaf.start();
        karaf.ok("storage:volume-create --format qcow2 local tv 16M");
        Map<String, String> export = keyValues(karaf.ok("storage:export-add local/tv"));
        String uri = "nbds://127.0.0.1:" + karaf.nbdPort + "/tv";
        assertEquals(uri, export.get("uri"));

        String wrote = HostTools.run(List.of("qemu-io", "--object",
                "tls-creds-x509,id=tls0,endpoint=client,dir=" + certs.client, "--image-opts",
                "driver=nbd,server.type=inet,server.host=127.0.0.1,server.port=" + karaf.nbdPort
                        + ",export=tv,tls-creds=tls0", "-c", "write -P 0x77 0 65536", "-c", "flush",
                "-c", "read -P 0x77 0 65536"));
        assertTrue(wrote, wrote.contains("wrote 65536/65536") && !wrote.contains("failed"));
        assertEquals(Long.toString(16L << 20),
                HostTools.run(List.of("nbdinfo", "--size", uri + "?tls-certificates=" + certs.client)).strip());
        HostTools.Result plain = HostTools.result(List.of("nbdinfo", "--size",
                "nbd://127.0.0.1:" + karaf.nbdPort + "/tv"), java.time.Duration.ofMinutes(1));
        assertNotEquals(plain.out(), 0, plain.exit());
        assertTrue(plain.out(), plain.out().contains("TLS"));
        HostTools.Result stranger = HostTools.result(List.of("nbdinfo", "--size",
                uri + "?tls-certificates=" + certs.stranger), java.time.Duration.ofMinutes(1));
        assertNotEquals(stranger.out(), 0, stranger.exit());
        // Local clients: the socket's mode guards them, no TLS asked; they read what was written.
        String local = HostTools.run(List.of("qemu-io", "-f", "raw", "-r", "-c", "read -P 0x77 0 65536",
                export.get("local-uri")));
        assertTrue(local, local.contains("read 65536/65536") && !local.contains("failed"));
        karaf.ok("storage:export-remove tv");
        // One export that requires TLS, through the shell: saved and shown so.
        karaf.ok("storage:volume-create local tv2 1M");
        Map<String, String> secure = keyValues(karaf.ok("storage:export-add --tls local/tv2"));
        assertEquals("required", secure.get("tls"));
        assertEquals("nbds://127.0.0.1:" + karaf.nbdPort + "/tv2", secure.get("uri"));
        karaf.ok("storage:export-remove tv2");

        // Certificates that cannot be loaded: no NBD server (not one in clear), and why.
        Files.delete(certs.server.resolve("server-key.pem"));
        karaf.stop();
        karaf.start();
        String refused = karaf.error("storage:export-list");
        assertTrue(refused, refused.startsWith("UNSUPPORTED: the NBD server is not running"));
        String log = Files.readString(karaf.data().resolve("log/karaf.log"));
        assertTrue("the log does not say why", log.contains("server-key.pem does not exist"));
        HostTools.Result none = HostTools.result(List.of("nbdinfo", "--size",
                "nbd://127.0.0.1:" + karaf.nbdPort + "/tv"), java.time.Duration.ofMinutes(1));
        assertNotEquals(none.out(), 0, none.exit());
    }
}

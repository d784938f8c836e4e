package io.strata.itests;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotEquals;
import static org.junit.Assert.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.AfterClass;
import org.junit.BeforeClass;
import org.junit.Test;

/**
 * HTTPS as an administrator configures it: their own keystore (no certificate is made),
 * TLS 1.3 only, and plain HTTP turned on beside it on another port.
 */
public class RestTlsIT {
    private static KarafProcess karaf;
    private static Path pem;
    private static int httpPort;

    @BeforeClass
    public static void setUp() throws Exception {
        karaf = new KarafProcess("rest-tls");
        Path dir = karaf.home().resolve("own-tls");
        Files.createDirectories(dir);
        Path keystore = dir.resolve("own.p12");
        pem = dir.resolve("own.pem");
        HostTools.run(List.of("keytool", "-genkeypair", "-noprompt", "-alias", "own", "-keyalg", "RSA", "-keysize",
                "2048", "-validity", "30", "-dname", "CN=own-test", "-ext", "SAN=ip:127.0.0.1", "-storetype",
                "PKCS12", "-keystore", keystore.toString(), "-storepass", "own-pass", "-keypass", "own-pass"));
        HostTools.run(List.of("keytool", "-exportcert", "-rfc", "-alias", "own", "-keystore", keystore.toString(),
                "-storepass", "own-pass", "-file", pem.toString()));
        String cfg = "etc/org.ops4j.pax.web.cfg";
        karaf.configure(cfg, "org.ops4j.pax.web.ssl.keystore", keystore.toString());
        karaf.configure(cfg, "org.ops4j.pax.web.ssl.keystore.password", "own-pass");
        karaf.configure(cfg, "org.ops4j.pax.web.ssl.key.password", "own-pass");
        karaf.configure(cfg, "org.ops4j.pax.web.ssl.key.alias", "own");
        karaf.configure(cfg, "org.osgi.service.http.secure.enabled", "true");
        karaf.configure(cfg, "org.ops4j.pax.web.ssl.protocols.included", "TLSv1.3");
        httpPort = KarafProcess.freePort();
        karaf.configure(cfg, "org.osgi.service.http.enabled", "true");
        karaf.configure(cfg, "org.osgi.service.http.port", Integer.toString(httpPort));
        karaf.start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
        while (System.nanoTime() < deadline && curl("-o", "/dev/null", "-w", "%{http_code}", "--cacert",
                pem.toString(), karaf.apiBase() + "/openapi.json").exit() != 0) {
            KarafProcess.sleep(500);
        }
    }

    @AfterClass
    public static void tearDown() {
        if (karaf != null) {
            karaf.close();
        }
    }

    @Test
    public void theConfiguredKeystoreAndProtocolsAreServedAndNoCertificateIsMade() throws Exception {
        HostTools.Result ok = curl("-o", "/dev/null", "-w", "%{http_code}", "--cacert", pem.toString(), "--tlsv1.3",
                karaf.apiBase() + "/openapi.json");
        assertEquals(ok.out(), "200", ok.out().strip());
        HostTools.Result tls12 = curl("-o", "/dev/null", "--cacert", pem.toString(), "--tlsv1.2", "--tls-max", "1.2",
                karaf.apiBase() + "/openapi.json");
        assertNotEquals("TLS 1.2 was accepted where only 1.3 is configured", 0, tls12.exit());
        assertFalse("a certificate was made beside a configured keystore",
                Files.exists(karaf.data().resolve("strata/tls/https.p12")));
        // Java's client trusting only this certificate, host name checked.
        RestClient client = RestClient.trusting(karaf.apiBase(), pem).basic("karaf", "karaf");
        assertEquals(200, client.get("/host").status());
    }

    @Test
    public void plainHttpAnswersOnlyBecauseItIsConfigured() throws Exception {
        HostTools.Result plain = curl("-w", "\n%{http_code}", "-u", "karaf:karaf",
                "http://127.0.0.1:" + httpPort + "/api/v1/host");
        assertEquals(plain.out(), 0, plain.exit());
        assertTrue(plain.out(), plain.out().strip().endsWith("200"));
        assertTrue(plain.out(), plain.out().contains("\"id\""));
    }

    private static HostTools.Result curl(String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("curl", "-s", "--max-time", "20"));
        cmd.addAll(List.of(args));
        return HostTools.result(cmd, Duration.ofSeconds(40));
    }
}

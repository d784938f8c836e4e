package io.strata.itests;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.AfterClass;
import org.junit.BeforeClass;
import org.junit.Test;

/**
 * What the REST API keeps across a restart and a kill -9: the certificate made at first
 * start (clients keep trusting it), the HTTPS connector, the tokens and the audit log.
 */
public class RestRestartIT {
    private static KarafProcess karaf;

    @BeforeClass
    public static void setUp() throws Exception {
        karaf = new KarafProcess("rest-restart");
        karaf.start();
    }

    @AfterClass
    public static void tearDown() {
        if (karaf != null) {
            karaf.close();
        }
    }

    private static RestClient awaitApi(Path cert) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
        while (System.nanoTime() < deadline) {
            if (Files.exists(cert)) {
                try {
                    RestClient c = RestClient.trusting(karaf.apiBase(), cert);
                    if (c.get("/openapi.json").status() == 200) {
                        return c;
                    }
                } catch (RuntimeException e) {
                    // not listening yet
                }
            }
            KarafProcess.sleep(500);
        }
        throw new AssertionError("no HTTPS at " + karaf.apiBase());
    }

    @Test
    public void theCertificateTokensAndAuditSurviveARestartAndAKill() throws Exception {
        Path cert = karaf.data().resolve("strata/tls/https-cert.pem");
        RestClient admin = awaitApi(cert).basic("karaf", "karaf");
        String pem = Files.readString(cert);
        String made = admin.post("/tokens", Map.of("user", "vrm", "role", "operator")).json().get("secret").asText();
        assertEquals(201, admin.anonymous().bearer(made).post("/datastores/local/volumes",
                Map.of("name", "before", "size", 1 << 20)).status());

        karaf.stop();
        karaf.start();
        // The same certificate: a client that trusted it at first start still connects.
        RestClient again = awaitApi(cert);
        assertEquals(pem, Files.readString(cert));
        assertEquals(200, again.bearer(made).get("/datastores/local/volumes/before").status());

        karaf.kill9();
        karaf.start();
        RestClient afterKill = awaitApi(cert);
        assertEquals(pem, Files.readString(cert));
        RestClient robot = afterKill.bearer(made);
        assertEquals(204, robot.delete("/datastores/local/volumes/before").status());
        String audit = afterKill.basic("karaf", "karaf").get("/audit?limit=100").body();
        assertTrue(audit, audit.contains("\"target\":\"/datastores/local/volumes\"")
                && audit.contains("\"target\":\"/datastores/local/volumes/before\""));
    }
}

package io.strata.itests;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotEquals;
import static org.junit.Assert.assertTrue;

import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;

import org.junit.After;
import org.junit.Test;

/**
 * The HTTPS keystore is made by {@code bin/strata-https-init} before the JVM starts, so
 * Karaf's HTTP service opens HTTPS with its first configuration and is never reconfigured
 * during boot (a container stopped during such a reconfiguration hung in Pax Web). The
 * script is run here as {@code bin/setenv} runs it, on an unpacked distribution, and then a
 * real container is started and stopped at once.
 */
public class HttpsInitIT {
    private KarafProcess karaf;

    @After
    public void tearDown() {
        if (karaf != null) {
            karaf.close();
        }
    }

    /** Runs the script; returns its error stream. */
    private String init(boolean withKeytool) throws Exception {
        Path home = karaf.home();
        ProcessBuilder pb = new ProcessBuilder("/bin/sh", home.resolve("bin/strata-https-init").toString(),
                home.resolve("etc").toString(), home.resolve("data").toString(), home.toString());
        if (withKeytool) {
            pb.environment().put("JAVA_HOME", System.getProperty("java.home"));
        } else {
            // A PATH with every tool the script uses but keytool.
            Path bin = Files.createDirectories(home.resolve("bin-without-keytool"));
            for (String tool : List.of("sed", "tail", "awk", "od", "tr", "uname", "grep", "mkdir", "dirname",
                    "date", "chmod", "sync", "mv", "rm", "cat", "printf")) {
                Path real = Path.of(HostTools.run(List.of("sh", "-c", "command -v " + tool)).trim());
                if (real.isAbsolute() && !Files.exists(bin.resolve(tool))) {
                    Files.createSymbolicLink(bin.resolve(tool), real);
                }
            }
            pb.environment().remove("JAVA_HOME");
            pb.environment().put("PATH", bin.toString());
        }
        pb.redirectOutput(ProcessBuilder.Redirect.DISCARD);
        Path err = home.resolve("init.err");
        pb.redirectError(err.toFile());
        Process p = pb.start();
        assertTrue("strata-https-init did not finish", p.waitFor(120, TimeUnit.SECONDS));
        assertEquals("strata-https-init never fails the start", 0, p.exitValue());
        return Files.readString(err, StandardCharsets.UTF_8);
    }

    private Path cfg() {
        return karaf.home().resolve("etc/org.ops4j.pax.web.cfg");
    }

    private Properties config() throws IOException {
        Properties p = new Properties();
        try (InputStream in = Files.newInputStream(cfg())) {
            p.load(in);
        }
        return p;
    }

    private Path keystore() {
        return karaf.data().resolve("strata/tls/https.p12");
    }

    @Test
    public void theFirstRunMakesTheKeystoreAndTurnsHttpsOnAndLaterRunsChangeNothing() throws Exception {
        karaf = new KarafProcess("https-init");
        karaf.configure("etc/org.ops4j.pax.web.cfg", "org.ops4j.pax.web.listening.addresses",
                "127.0.0.1,10.1.2.3,storage.example");
        Properties before = config();
        assertEquals("false", before.getProperty("org.osgi.service.http.secure.enabled"));

        String err = init(true);
        assertTrue(err, err.contains("made a self-signed certificate"));
        Properties after = config();
        assertEquals("true", after.getProperty("org.osgi.service.http.secure.enabled"));
        String password = after.getProperty("org.ops4j.pax.web.ssl.keystore.password");
        assertTrue(password, password.matches("[0-9a-f]{48}"));
        assertEquals(password, after.getProperty("org.ops4j.pax.web.ssl.key.password"));
        // Every other setting as it was, each key once.
        for (String key : before.stringPropertyNames()) {
            if (!key.equals("org.osgi.service.http.secure.enabled")) {
                assertEquals(key, before.getProperty(key), after.getProperty(key));
            }
        }
        String text = Files.readString(cfg());
        assertEquals(1, text.split("org.ops4j.pax.web.ssl.keystore.password", -1).length - 1);
        assertTrue("the comments stay", text.startsWith("# Karaf's HTTP service"));
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(cfg())));
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(keystore())));
        assertFalse(Files.exists(keystore().resolveSibling("https.p12.tmp")));

        // The keystore opens with the written password and holds the certificate of the PEM.
        KeyStore ks = KeyStore.getInstance("PKCS12");
        try (InputStream in = new FileInputStream(keystore().toFile())) {
            ks.load(in, password.toCharArray());
        }
        assertTrue(ks.isKeyEntry("strata"));
        X509Certificate cert = (X509Certificate) ks.getCertificate("strata");
        assertEquals("EC", cert.getPublicKey().getAlgorithm());
        X509Certificate pem = (X509Certificate) java.security.cert.CertificateFactory.getInstance("X.509")
                .generateCertificate(Files.newInputStream(keystore().resolveSibling("https-cert.pem")));
        assertEquals(cert, pem);
        TreeSet<String> names = new TreeSet<>();
        for (List<?> san : cert.getSubjectAlternativeNames()) {
            names.add(String.valueOf(san.get(1)));
        }
        assertTrue(names.toString(), names.containsAll(List.of("127.0.0.1", "localhost", "10.1.2.3",
                "storage.example")));

        // Again: nothing replaced.
        byte[] store = Files.readAllBytes(keystore());
        String cfgText = Files.readString(cfg());
        assertEquals("", init(true));
        assertArrayEquals(store, Files.readAllBytes(keystore()));
        assertEquals(cfgText, Files.readString(cfg()));

        // A keystore lost after the file was written (a crash between the two renames, or
        // removed by hand) is made again with a new password, the keys still once each.
        Files.delete(keystore());
        init(true);
        String again = config().getProperty("org.ops4j.pax.web.ssl.keystore.password");
        assertNotEquals(password, again);
        assertEquals(1, Files.readString(cfg()).split("org.ops4j.pax.web.ssl.keystore.password", -1).length - 1);
        ks.load(new FileInputStream(keystore().toFile()), again.toCharArray());
    }

    @Test
    public void withoutKeytoolOrWithTheAdministratorsKeystoreNothingIsTouched() throws Exception {
        karaf = new KarafProcess("https-init-none");
        String original = Files.readString(cfg());
        String err = init(false);
        assertTrue(err, err.contains("no keytool") && err.contains("HTTPS stays off"));
        assertEquals(original, Files.readString(cfg()));
        assertFalse(Files.exists(keystore()));

        karaf.configure("etc/org.ops4j.pax.web.cfg", "strata.https.auto", "false");
        String configured = Files.readString(cfg());
        assertEquals("", init(true));
        assertEquals(configured, Files.readString(cfg()));
        assertFalse(Files.exists(keystore()));
    }

    /**
     * A real first start: HTTPS comes up with the HTTP service's first configuration (no
     * configuration update for {@code org.ops4j.pax.web} in the log), and a stop right
     * after the start ends the process.
     */
    @Test
    public void aFirstStartNeverReconfiguresTheHttpServiceAndStopsAtOnce() throws Exception {
        karaf = new KarafProcess("https-first-start");
        karaf.start();
        Path cert = karaf.data().resolve("strata/tls/https-cert.pem");
        assertTrue(Files.exists(cert));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
        int status = 0;
        while (status != 200 && System.nanoTime() < deadline) {
            try {
                status = RestClient.trusting(karaf.apiBase(), cert).get("/openapi.json").status();
            } catch (RuntimeException e) {
                KarafProcess.sleep(500);
            }
        }
        assertEquals("HTTPS with the certificate made before the JVM started", 200, status);
        karaf.stop();
        assertFalse(karaf.isRunning());
        List<String> updates = new ArrayList<>();
        for (String line : Files.readAllLines(karaf.data().resolve("log/karaf.log"), StandardCharsets.UTF_8)) {
            if (line.contains("(Update: pid=org.ops4j.pax.web)")) {
                updates.add(line);
            }
        }
        assertEquals("the HTTP service was reconfigured during boot: " + updates, List.of(), updates);
    }
}

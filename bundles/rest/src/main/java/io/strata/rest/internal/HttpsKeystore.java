package io.strata.rest.internal;

import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Dictionary;
import java.util.HexFormat;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.osgi.framework.InvalidSyntaxException;
import org.osgi.service.cm.Configuration;
import org.osgi.service.cm.ConfigurationAdmin;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * HTTPS out of the box: when Karaf's HTTP service (PID {@code org.ops4j.pax.web}) has
 * {@code strata.https.auto = true} and its keystore file does not exist, this makes one at
 * first start:
 * a P-256 key and a self-signed certificate for the listening address, 127.0.0.1 and
 * localhost (and the host name), valid ten years, with a random password, by the JDK's
 * {@code keytool}. The certificate is also written as PEM beside the keystore
 * ({@code https-cert.pem}) for clients to trust. The passwords go into the HTTP service's
 * configuration with the secure connector turned on, which makes Jetty open it. The
 * distribution ships that connector off: Jetty started with it on and no keystore keeps
 * the port bound after failing, and cannot open it again. A keystore that exists is never
 * replaced.
 */
@Component(immediate = true)
public final class HttpsKeystore {
    static final String PID = "org.ops4j.pax.web";
    static final String SECURE = "org.osgi.service.http.secure.enabled";
    static final String AUTO = "strata.https.auto";
    static final String KEYSTORE = "org.ops4j.pax.web.ssl.keystore";
    static final String STORE_PASSWORD = "org.ops4j.pax.web.ssl.keystore.password";
    static final String KEY_PASSWORD = "org.ops4j.pax.web.ssl.key.password";
    static final String ALIAS = "org.ops4j.pax.web.ssl.key.alias";
    static final String ADDRESS = "org.ops4j.pax.web.listening.addresses";
    private static final Logger LOG = LoggerFactory.getLogger(HttpsKeystore.class);

    @Activate
    public HttpsKeystore(@Reference ConfigurationAdmin admin) {
        try {
            Configuration[] found = admin.listConfigurations("(service.pid=" + PID + ")");
            if (found == null || found.length == 0) {
                LOG.info("https: Karaf's HTTP service has no configuration yet; no keystore made");
                return;
            }
            Configuration c = found[0];
            Dictionary<String, Object> p = c.getProperties();
            if (!Boolean.parseBoolean(String.valueOf(p.get(AUTO))) || p.get(KEYSTORE) == null) {
                return;
            }
            Path keystore = Path.of(String.valueOf(p.get(KEYSTORE)));
            if (Files.exists(keystore)) {
                if (!Boolean.parseBoolean(String.valueOf(p.get(SECURE))) && p.get(STORE_PASSWORD) != null) {
                    p.put(SECURE, "true");
                    c.update(p);
                }
                return;
            }
            String alias = p.get(ALIAS) == null ? "strata" : String.valueOf(p.get(ALIAS));
            byte[] raw = new byte[24];
            new SecureRandom().nextBytes(raw);
            String password = HexFormat.of().formatHex(raw);
            make(keystore, alias, password, p.get(ADDRESS) == null ? "127.0.0.1" : String.valueOf(p.get(ADDRESS)));
            p.put(STORE_PASSWORD, password);
            p.put(KEY_PASSWORD, password);
            p.put(ALIAS, alias);
            p.put("strata.https.generated", Instant.now().toString());
            p.put(SECURE, "true");
            c.update(p);
            LOG.info("https: made a self-signed certificate in {} (PEM: {})", keystore,
                    keystore.resolveSibling("https-cert.pem"));
        } catch (IOException | InvalidSyntaxException | RuntimeException e) {
            LOG.error("https: cannot make the keystore: {}", e.toString());
        }
    }

    /** Makes a PKCS#12 keystore with one self-signed key, and its certificate as PEM beside it. */
    static void make(Path keystore, String alias, String password, String addresses) throws IOException {
        Files.createDirectories(keystore.getParent());
        Set<String> san = new LinkedHashSet<>(List.of("ip:127.0.0.1", "dns:localhost"));
        for (String a : addresses.split("[,\\s]+")) {
            if (a.matches("[0-9.]+") && !a.equals("0.0.0.0")) {
                san.add("ip:" + a);
            } else if (a.matches("[A-Za-z0-9.-]+") && !a.isEmpty()) {
                san.add("dns:" + a);
            }
        }
        String host;
        try {
            host = InetAddress.getLocalHost().getHostName();
            if (host.matches("[A-Za-z0-9.-]+")) {
                san.add("dns:" + host);
            }
        } catch (IOException e) {
            host = "localhost";
        }
        Path tmp = keystore.resolveSibling(keystore.getFileName() + ".tmp");
        Files.deleteIfExists(tmp);
        String keytool = Path.of(System.getProperty("java.home"), "bin", "keytool").toString();
        run(List.of(keytool, "-genkeypair", "-noprompt", "-alias", alias, "-keyalg", "EC", "-groupname", "secp256r1",
                "-sigalg", "SHA256withECDSA", "-validity", "3650", "-dname", "CN=" + host + ", O=Strata",
                "-ext", "SAN=" + String.join(",", san), "-storetype", "PKCS12", "-keystore", tmp.toString(),
                "-storepass", password, "-keypass", password));
        Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rw-------"));
        Path pem = keystore.resolveSibling("https-cert.pem");
        run(List.of(keytool, "-exportcert", "-rfc", "-alias", alias, "-keystore", tmp.toString(), "-storetype",
                "PKCS12", "-storepass", password, "-file", pem.toString()));
        Files.move(tmp, keystore, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    }

    private static void run(List<String> command) throws IOException {
        ProcessBuilder pb = new ProcessBuilder(new ArrayList<>(command)).redirectErrorStream(true);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        try {
            if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
                p.destroyForcibly();
                throw new IOException("keytool failed: " + out.strip());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            p.destroyForcibly();
            throw new IOException("interrupted while keytool ran");
        }
    }
}

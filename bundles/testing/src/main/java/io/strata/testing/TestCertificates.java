package io.strata.testing;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * x509 certificates for TLS tests, made with openssl in the directory layout QEMU's
 * {@code tls-creds-x509} and libnbd's {@code tls-certificates} read: a CA, a server
 * certificate for 127.0.0.1 and localhost, a client certificate, and a second CA that signed
 * neither. P-256 keys, PKCS#8 PEM, valid three days.
 *
 * <ul>
 * <li>{@link #server}: {@code server-cert.pem}, {@code server-key.pem}, {@code ca-cert.pem}</li>
 * <li>{@link #client}: {@code ca-cert.pem} only (a client that checks the server)</li>
 * <li>{@link #clientWithCert}: also {@code client-cert.pem} and {@code client-key.pem}</li>
 * <li>{@link #stranger}: another CA's {@code ca-cert.pem}</li>
 * </ul>
 */
public final class TestCertificates {
    public final Path server;
    public final Path client;
    public final Path clientWithCert;
    public final Path stranger;

    private TestCertificates(Path root) {
        server = root.resolve("server");
        client = root.resolve("client");
        clientWithCert = root.resolve("client-cert");
        stranger = root.resolve("stranger");
    }

    /** Makes every directory under {@code root}. */
    public static TestCertificates make(Path root) throws IOException, InterruptedException {
        TestCertificates t = new TestCertificates(root);
        Path ca = root.resolve("ca");
        ca(ca, "strata-test-ca");
        leaf(ca, t.server, "server", "127.0.0.1", "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                + "keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth");
        Files.copy(ca.resolve("ca-cert.pem"), t.server.resolve("ca-cert.pem"));
        Files.createDirectories(t.client);
        Files.copy(ca.resolve("ca-cert.pem"), t.client.resolve("ca-cert.pem"));
        leaf(ca, t.clientWithCert, "client", "hypervisor-1",
                "keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth");
        Files.copy(ca.resolve("ca-cert.pem"), t.clientWithCert.resolve("ca-cert.pem"));
        ca(t.stranger, "somebody-else");
        return t;
    }

    private static void openssl(Path dir, String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of("openssl"));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (p.waitFor() != 0) {
            throw new IOException(String.join(" ", cmd) + " failed:\n" + out);
        }
    }

    private static void ca(Path dir, String name) throws IOException, InterruptedException {
        Files.createDirectories(dir);
        openssl(dir, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", "ca-key.pem", "-out", "ca-cert.pem", "-days", "3", "-subj", "/CN=" + name,
                "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign");
    }

    private static void leaf(Path caDir, Path dir, String prefix, String cn, String ext)
            throws IOException, InterruptedException {
        Files.createDirectories(dir);
        Path extFile = dir.resolve(prefix + ".ext");
        Files.writeString(extFile, ext + "\n");
        openssl(dir, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
                prefix + "-key.pem", "-out", prefix + ".csr", "-subj", "/CN=" + cn);
        openssl(dir, "x509", "-req", "-in", prefix + ".csr", "-CA", caDir.resolve("ca-cert.pem").toString(),
                "-CAkey", caDir.resolve("ca-key.pem").toString(), "-CAcreateserial", "-out", prefix + "-cert.pem",
                "-days", "3", "-extfile", extFile.toString());
    }
}

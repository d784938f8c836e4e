package io.strata.nbd.internal;

import static java.util.Objects.requireNonNull;

import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;

/**
 * NBD over TLS (the protocol's {@code NBD_OPT_STARTTLS}) with x509 certificates in the layout
 * QEMU's {@code tls-creds-x509} and libnbd's {@code tls-certificates} use: a directory with
 * {@code server-cert.pem} (the server's certificate, then any intermediates),
 * {@code server-key.pem} (its key, PKCS#8 PEM) and, to check client certificates,
 * {@code ca-cert.pem}. TLS 1.3 and 1.2.
 *
 * @param mode OFF: STARTTLS is refused; ON: clients may start TLS; REQUIRE: over TCP nothing
 *        but STARTTLS is answered before TLS (the Unix domain socket is guarded by its mode)
 * @param context the server's TLS context, null when OFF
 * @param verifyPeer whether clients must present a certificate signed by {@code ca-cert.pem}
 */
record Tls(Mode mode, SSLContext context, boolean verifyPeer) {
    enum Mode {
        OFF, ON, REQUIRE;

        static Mode parse(String s) {
            try {
                return valueOf(s == null ? "OFF" : s.strip().toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("tls '" + s + "' is not one of off, on, require");
            }
        }
    }

    static final Tls OFF = new Tls(Mode.OFF, null, false);
    private static final String[] PROTOCOLS = {"TLSv1.3", "TLSv1.2"};

    Tls {
        requireNonNull(mode, "mode");
        if (mode != Mode.OFF) {
            requireNonNull(context, "context");
        }
    }

    boolean offered() {
        return mode != Mode.OFF;
    }

    /**
     * Loads the certificates of {@code dir}.
     *
     * @throws IOException naming the file that is missing or unreadable, and why
     */
    static Tls load(Mode mode, Path dir, boolean verifyPeer) throws IOException {
        if (mode == Mode.OFF) {
            return OFF;
        }
        try {
            List<X509Certificate> chain = certificates(dir.resolve("server-cert.pem"));
            PrivateKey key = key(dir.resolve("server-key.pem"));
            char[] none = new char[0];
            KeyStore keys = KeyStore.getInstance("PKCS12");
            keys.load(null, null);
            keys.setKeyEntry("server", key, none, chain.toArray(new Certificate[0]));
            KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(keys, none);
            TrustManagerFactory tmf = null;
            if (verifyPeer) {
                KeyStore trust = KeyStore.getInstance("PKCS12");
                trust.load(null, null);
                int i = 0;
                for (X509Certificate ca : certificates(dir.resolve("ca-cert.pem"))) {
                    trust.setCertificateEntry("ca" + i++, ca);
                }
                tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
                tmf.init(trust);
            }
            SSLContext context = SSLContext.getInstance("TLS");
            context.init(kmf.getKeyManagers(), tmf == null ? null : tmf.getTrustManagers(), null);
            return new Tls(mode, context, verifyPeer);
        } catch (GeneralSecurityException e) {
            throw new IOException("NBD TLS certificates in " + dir + ": " + e.getMessage(), e);
        }
    }

    private static List<X509Certificate> certificates(Path file) throws IOException, GeneralSecurityException {
        Collection<? extends Certificate> all;
        try (InputStream in = Files.newInputStream(file)) {
            all = CertificateFactory.getInstance("X.509").generateCertificates(in);
        } catch (NoSuchFileException e) {
            throw new IOException("NBD TLS: " + file + " does not exist", e);
        }
        List<X509Certificate> out = new ArrayList<>();
        for (Certificate c : all) {
            out.add((X509Certificate) c);
        }
        if (out.isEmpty()) {
            throw new IOException("NBD TLS: " + file + " holds no PEM certificate");
        }
        return out;
    }

    private static PrivateKey key(Path file) throws IOException {
        String text;
        try {
            text = Files.readString(file, StandardCharsets.US_ASCII);
        } catch (NoSuchFileException e) {
            throw new IOException("NBD TLS: " + file + " does not exist", e);
        }
        String begin = "-----BEGIN PRIVATE KEY-----";
        int from = text.indexOf(begin);
        int to = text.indexOf("-----END PRIVATE KEY-----");
        if (from < 0 || to < from) {
            throw new IOException("NBD TLS: " + file + " is not an unencrypted PKCS#8 key (BEGIN PRIVATE KEY);"
                    + " convert it with: openssl pkcs8 -topk8 -nocrypt -in " + file + " -out <new file>");
        }
        byte[] der;
        try {
            der = Base64.getMimeDecoder().decode(text.substring(from + begin.length(), to));
        } catch (IllegalArgumentException e) {
            throw new IOException("NBD TLS: " + file + " is not valid PEM: " + e.getMessage(), e);
        }
        for (String algorithm : List.of("RSA", "EC", "Ed25519", "Ed448", "RSASSA-PSS")) {
            try {
                return KeyFactory.getInstance(algorithm).generatePrivate(new PKCS8EncodedKeySpec(der));
            } catch (GeneralSecurityException e) {
                // the next algorithm
            }
        }
        throw new IOException("NBD TLS: " + file + " holds a key of an unsupported algorithm");
    }

    /**
     * Runs the server's side of the TLS handshake over a connected socket and returns the wire
     * that encrypts from now on.
     *
     * @throws IOException when the handshake fails (the client's certificate is refused, no
     *         common protocol, the client went away)
     */
    Wire start(Wire plain) throws IOException {
        Socket raw = plain.socket();
        if (raw == null) {
            throw new IOException("this connection cannot carry TLS");
        }
        SSLSocket s = (SSLSocket) context.getSocketFactory().createSocket(raw, null, raw.getPort(), false);
        s.setUseClientMode(false);
        s.setEnabledProtocols(PROTOCOLS);
        s.setNeedClientAuth(verifyPeer);
        s.startHandshake();
        return new TlsWire(plain, s);
    }
}

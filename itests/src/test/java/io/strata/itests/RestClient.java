package io.strata.itests;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.time.Duration;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

/**
 * A management system's view of one Strata instance's REST API: Java's HTTP client over
 * HTTPS, trusting only the certificate the instance made at first start (host name checked:
 * the certificate names 127.0.0.1), with Basic or Bearer credentials.
 */
final class RestClient {
    static final ObjectMapper JSON = new ObjectMapper();
    /**
     * When set, every answer to a documented operation is checked against the API's own
     * OpenAPI document: its status must be documented, and its body fit the schema.
     */
    static volatile io.strata.testing.OpenApiCheck contract;
    private final String base;
    private final HttpClient http;
    private final String authorization;

    /** One answer: status, headers of interest, body text and its JSON (null when not JSON). */
    record Answer(int status, String body, JsonNode json, HttpResponse<String> raw) {
        String header(String name) {
            return raw.headers().firstValue(name).orElse(null);
        }

        String code() {
            return json == null || json.get("code") == null ? null : json.get("code").asText();
        }

        @Override
        public String toString() {
            return status + " " + body;
        }
    }

    private RestClient(String base, HttpClient http, String authorization) {
        this.base = base;
        this.http = http;
        this.authorization = authorization;
    }

    /** @return a client for {@code base} trusting the PEM certificate {@code cert} */
    static RestClient trusting(String base, Path cert) throws IOException, GeneralSecurityException {
        KeyStore trust = KeyStore.getInstance(KeyStore.getDefaultType());
        trust.load(null, null);
        try (InputStream in = Files.newInputStream(cert)) {
            Certificate c = CertificateFactory.getInstance("X.509").generateCertificate(in);
            trust.setCertificateEntry("strata", c);
        }
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(trust);
        SSLContext ssl = SSLContext.getInstance("TLS");
        ssl.init(null, tmf.getTrustManagers(), null);
        HttpClient http = HttpClient.newBuilder().sslContext(ssl).version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(10)).build();
        return new RestClient(base, http, null);
    }

    RestClient basic(String user, String password) {
        return new RestClient(base, http, "Basic " + Base64.getEncoder().encodeToString(
                (user + ":" + password).getBytes(StandardCharsets.UTF_8)));
    }

    RestClient bearer(String token) {
        return new RestClient(base, http, "Bearer " + token);
    }

    RestClient anonymous() {
        return new RestClient(base, http, null);
    }

    String base() {
        return base;
    }

    Answer get(String path) {
        return send("GET", path, null, Map.of());
    }

    Answer delete(String path) {
        return send("DELETE", path, null, Map.of());
    }

    Answer post(String path, Object body) {
        return send("POST", path, body, Map.of());
    }

    /**
     * @param body a String is sent as is, anything else as JSON; null sends no body
     */
    Answer send(String method, String path, Object body, Map<String, String> headers) {
        try {
            HttpRequest.BodyPublisher publisher;
            if (body == null) {
                publisher = HttpRequest.BodyPublishers.noBody();
            } else if (body instanceof byte[] bytes) {
                publisher = HttpRequest.BodyPublishers.ofByteArray(bytes);
            } else {
                publisher = HttpRequest.BodyPublishers.ofString(body instanceof String s ? s
                        : JSON.writeValueAsString(body));
            }
            HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(90))
                    .method(method, publisher);
            Map<String, String> all = new LinkedHashMap<>();
            if (body != null) {
                all.put("Content-Type", "application/json");
            }
            if (authorization != null) {
                all.put("Authorization", authorization);
            }
            all.putAll(headers);
            all.forEach(b::header);
            HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
            JsonNode json = null;
            if (r.headers().firstValue("Content-Type").orElse("").startsWith("application/json")
                    && !r.body().isEmpty()) {
                json = JSON.readTree(r.body());
            }
            io.strata.testing.OpenApiCheck c = contract;
            if (c != null) {
                String template;
                try {
                    template = c.template(method, URI.create(base + path).getRawPath());
                } catch (AssertionError undocumented) {
                    // a path or method the API does not have, asked on purpose (404, 405)
                    template = null;
                }
                if (template != null) {
                    c.check(method, template, r.statusCode(), r.headers().firstValue("Content-Type").orElse(null),
                            r.body());
                }
            }
            return new Answer(r.statusCode(), r.body(), json, r);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(method + " " + path + ": " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}

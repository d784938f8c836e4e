package io.strata.rest.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.api.format.Provisioning;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.lang.annotation.Annotation;
import java.lang.reflect.Type;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import javax.ws.rs.core.MediaType;
import javax.ws.rs.core.MultivaluedHashMap;
import javax.ws.rs.core.MultivaluedMap;
import javax.ws.rs.core.StreamingOutput;
import org.junit.jupiter.api.Test;

class JsonBodyTest {
    private static final long LIMIT = 1024;
    private final JsonBody body = new JsonBody(Json.mapper(), LIMIT);

    /** An input stream that hands out at most {@code chunk} bytes per read, as a chunked request does. */
    private static final class Trickle extends InputStream {
        private final InputStream in;
        private final int chunk;
        private long served;

        Trickle(byte[] data, int chunk) {
            this.in = new ByteArrayInputStream(data);
            this.chunk = chunk;
        }

        @Override
        public int read() throws IOException {
            int b = in.read();
            if (b >= 0) {
                served++;
            }
            return b;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            int n = in.read(b, off, Math.min(len, chunk));
            if (n > 0) {
                served += n;
            }
            return n;
        }
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    private Object read(Type type, String json, MultivaluedMap<String, String> headers) throws IOException {
        Class raw = type instanceof Class<?> c ? c : Object.class;
        return body.readFrom(raw, type, new Annotation[0], MediaType.APPLICATION_JSON_TYPE, headers,
                new ByteArrayInputStream(json.getBytes(StandardCharsets.UTF_8)));
    }

    private Object read(Type type, String json) throws IOException {
        return read(type, json, new MultivaluedHashMap<>());
    }

    private ApiException refused(int status, Type type, String json) {
        ApiException e = assertThrows(ApiException.class, () -> read(type, json));
        assertEquals(status, e.status(), e.getMessage());
        return e;
    }

    @Test
    void aWellFormedBodyIsRead() throws IOException {
        Object v = read(Requests.VolumeCreate.class,
                "{\"name\":\"v1\",\"size\":1073741824,\"format\":\"qcow2\",\"provisioning\":\"thin\"}");
        assertEquals(new Requests.VolumeCreate("v1", 1073741824L, "qcow2", "thin"), v);
        assertEquals(new Requests.VolumeCreate("v1", null, null, null), read(Requests.VolumeCreate.class,
                "{\"name\":\"v1\"}"));
    }

    @Test
    void anUnknownFieldIs400NamingIt() {
        ApiException e = refused(400, Requests.VolumeCreate.class, "{\"name\":\"v1\",\"sizee\":5}");
        assertEquals(ApiException.BAD_REQUEST, e.code());
        assertTrue(e.getMessage().contains("'sizee'"), e.getMessage());
        assertEquals("sizee", e.details().get("field"));
        assertEquals(List.of("format", "name", "provisioning", "size"), e.details().get("known"));
        assertEquals(1, e.details().get("line"));
    }

    @Test
    void aStringForALongIs400NamingTheField() {
        ApiException e = refused(400, Requests.VolumeCreate.class, "{\"name\":\"v1\",\"size\":\"10\"}");
        assertEquals(ApiException.BAD_REQUEST, e.code());
        assertEquals("size", e.details().get("field"));
        assertTrue(e.getMessage().contains("'size'"), e.getMessage());
    }

    @Test
    void otherTypeMismatchesNameTheField() {
        assertEquals("size", refused(400, Requests.VolumeCreate.class, "{\"size\":true}").details().get("field"));
        assertEquals("name", refused(400, Requests.VolumeCreate.class, "{\"name\":{}}").details().get("field"));
        assertEquals("repair", refused(400, Requests.VolumeCheck.class, "{\"repair\":\"yes\"}").details()
                .get("field"));
        assertEquals("parameters.k", refused(400, Requests.ResourceUpdate.class,
                "{\"parameters\":{\"k\":[1]}}").details().get("field"));
    }

    @Test
    void aFractionForAWholeNumberIs400() {
        ApiException e = refused(400, Requests.VolumeCreate.class, "{\"name\":\"v1\",\"size\":1073741824.9}");
        assertEquals("size", e.details().get("field"));
        assertEquals("iops", refused(400, Requests.QosUpdate.class, "{\"iops\":1.5}").details().get("field"));
    }

    @Test
    void trailingGarbageIs400() {
        refused(400, Requests.VolumeCreate.class, "{\"name\":\"v1\"} {\"name\":\"v2\"}");
        refused(400, Requests.VolumeCreate.class, "{\"name\":\"v1\"} x");
        refused(400, Requests.VolumeCreate.class, "{\"name\":\"v1\"}]");
    }

    @Test
    void malformedJsonIs400WithLineAndColumn() {
        ApiException e = refused(400, Requests.VolumeCreate.class, "{\n  \"name\": \"v1\",\n  \"size\": ,\n}");
        assertEquals(ApiException.BAD_REQUEST, e.code());
        assertTrue(e.getMessage().startsWith("the body is not valid JSON"), e.getMessage());
        assertEquals(3, e.details().get("line"));
        assertEquals(11, e.details().get("column"));
        ApiException unclosed = refused(400, Requests.VolumeCreate.class, "{\"name\": \"v1\"");
        assertTrue(unclosed.details().containsKey("line"), unclosed.details().toString());
    }

    @Test
    void aBodyOverTheLimitIs413WithoutADeclaredLength() {
        String big = "{\"name\":\"" + "x".repeat((int) LIMIT) + "\"}";
        for (Type t : new Type[] {Requests.VolumeCreate.class, Object.class, Map.class}) {
            ApiException e = refused(413, t, big);
            assertEquals(ApiException.TOO_LARGE, e.code());
            assertEquals(LIMIT, e.details().get("limit"));
        }
    }

    @Test
    void aBodyOverTheLimitIs413WhateverLengthIsDeclared() {
        String big = "{\"name\":\"" + "x".repeat((int) LIMIT) + "\"}";
        MultivaluedMap<String, String> headers = new MultivaluedHashMap<>();
        headers.putSingle("Content-Length", "20");
        ApiException e = assertThrows(ApiException.class, () -> read(Requests.VolumeCreate.class, big, headers));
        assertEquals(413, e.status());
        assertEquals(ApiException.TOO_LARGE, e.code());
    }

    @Test
    @SuppressWarnings({"unchecked", "rawtypes"})
    void theLimitCountsBytesReadInSmallChunksAndStopsReading() {
        byte[] big = ("[" + "1,".repeat(20_000) + "1]").getBytes(StandardCharsets.UTF_8);
        Trickle in = new Trickle(big, 7);
        ApiException e = assertThrows(ApiException.class, () -> body.readFrom((Class) List.class, List.class,
                new Annotation[0], MediaType.APPLICATION_JSON_TYPE, new MultivaluedHashMap<>(), in));
        assertEquals(413, e.status());
        assertTrue(in.served <= LIMIT + 7, "reading stopped at the limit, not at the end: " + in.served);
    }

    @Test
    void aBodyOfExactlyTheLimitIsRead() throws IOException {
        String prefix = "{\"name\":\"";
        String suffix = "\"}";
        String exact = prefix + "x".repeat((int) LIMIT - prefix.length() - suffix.length()) + suffix;
        assertEquals(LIMIT, exact.getBytes(StandardCharsets.UTF_8).length);
        assertEquals(LIMIT - prefix.length() - suffix.length(),
                ((Requests.VolumeCreate) read(Requests.VolumeCreate.class, exact)).name().length());
    }

    @Test
    void bodiesAreNotReadAsStringsBytesOrStreams() {
        Annotation[] none = new Annotation[0];
        assertFalse(body.isReadable(String.class, String.class, none, MediaType.APPLICATION_JSON_TYPE));
        assertFalse(body.isReadable(byte[].class, byte[].class, none, MediaType.APPLICATION_JSON_TYPE));
        assertFalse(body.isReadable(InputStream.class, InputStream.class, none, MediaType.APPLICATION_JSON_TYPE));
        assertTrue(body.isReadable(Requests.VolumeCreate.class, Requests.VolumeCreate.class, none,
                MediaType.APPLICATION_JSON_TYPE));
        assertFalse(body.isWriteable(StreamingOutput.class, StreamingOutput.class, none,
                MediaType.APPLICATION_JSON_TYPE));
        assertFalse(body.isWriteable(byte[].class, byte[].class, none, MediaType.APPLICATION_JSON_TYPE));
    }

    record Timed(Instant at, Provisioning provisioning) {
    }

    record At(Instant at) {
    }

    record Counted(int count) {
    }

    @Test
    void instantsAreWrittenAsIsoStringsAndProvisioningByItsLabel() throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        body.writeTo(List.of(new Timed(Instant.parse("2026-03-01T10:00:00Z"), Provisioning.THIN),
                new Timed(Instant.parse("2026-03-01T10:00:00.5Z"), Provisioning.THICK_LAZY)), List.class, List.class,
                new Annotation[0], MediaType.APPLICATION_JSON_TYPE, new MultivaluedHashMap<>(), out);
        assertEquals("[{\"at\":\"2026-03-01T10:00:00Z\",\"provisioning\":\"thin\"},"
                + "{\"at\":\"2026-03-01T10:00:00.500Z\",\"provisioning\":\"thick-lazy\"}]",
                out.toString(StandardCharsets.UTF_8));
    }

    @Test
    void writingDoesNotCloseTheContainersStream() throws IOException {
        boolean[] closed = {false};
        ByteArrayOutputStream out = new ByteArrayOutputStream() {
            @Override
            public void close() {
                closed[0] = true;
            }
        };
        body.writeTo(Map.of("a", 1), Map.class, Map.class, new Annotation[0], MediaType.APPLICATION_JSON_TYPE,
                new MultivaluedHashMap<>(), out);
        assertFalse(closed[0]);
        assertEquals("{\"a\":1}", out.toString(StandardCharsets.UTF_8));
    }

    @Test
    void instantsAreReadFromIsoStringsAndOtherStringsAreRefused() throws IOException {
        assertEquals(Instant.parse("2026-03-01T10:00:00Z"), Json.mapper().readValue("\"2026-03-01T10:00:00Z\"",
                Instant.class));
        ApiException e = refused(400, At.class, "{\"at\":\"yesterday\"}");
        assertEquals("at", e.details().get("field"));
    }

    @Test
    void aNullForAPrimitiveIsRefused() {
        assertEquals("count", refused(400, Counted.class, "{\"count\":null}").details().get("field"));
    }
}

package io.strata.rest.internal;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.annotation.Annotation;
import java.lang.reflect.Type;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.stream.Collectors;
import javax.ws.rs.Consumes;
import javax.ws.rs.Produces;
import javax.ws.rs.core.MediaType;
import javax.ws.rs.core.MultivaluedMap;
import javax.ws.rs.ext.MessageBodyReader;
import javax.ws.rs.ext.MessageBodyWriter;

/**
 * Reads and writes {@code application/json} with {@link Json}'s rules. A body larger than
 * the limit is refused with 413 while it is read, chunked or not; a body that is not valid
 * JSON, or does not fit the request's type, is refused with 400 naming the field and place.
 */
@Produces(MediaType.APPLICATION_JSON)
@Consumes(MediaType.APPLICATION_JSON)
public final class JsonBody implements MessageBodyReader<Object>, MessageBodyWriter<Object> {
    private final ObjectMapper mapper;
    private final long maxBytes;

    public JsonBody(ObjectMapper mapper, long maxBytes) {
        this.mapper = mapper;
        this.maxBytes = maxBytes;
    }

    @Override
    public boolean isReadable(Class<?> type, Type genericType, Annotation[] annotations, MediaType mediaType) {
        return type != String.class && type != byte[].class && !InputStream.class.isAssignableFrom(type);
    }

    @Override
    public Object readFrom(Class<Object> type, Type genericType, Annotation[] annotations, MediaType mediaType,
            MultivaluedMap<String, String> httpHeaders, InputStream entityStream) throws IOException {
        try {
            return mapper.readValue(new Limited(entityStream, maxBytes), mapper.constructType(genericType));
        } catch (UnrecognizedPropertyException e) {
            Map<String, Object> details = where(e);
            details.put("field", e.getPropertyName());
            details.put("known", e.getKnownPropertyIds().stream().map(String::valueOf).sorted()
                    .collect(Collectors.toList()));
            throw new ApiException(400, ApiException.BAD_REQUEST,
                    "unknown field '" + e.getPropertyName() + "'", details);
        } catch (JsonMappingException e) {
            if (e.getCause() instanceof ApiException api) {
                throw api;
            }
            Map<String, Object> details = where(e);
            String field = e.getPath().stream()
                    .map(r -> r.getFieldName() != null ? r.getFieldName() : "[" + r.getIndex() + "]")
                    .collect(Collectors.joining("."));
            if (!field.isEmpty()) {
                details.put("field", field);
            }
            throw new ApiException(400, ApiException.BAD_REQUEST, "the body does not fit: "
                    + (field.isEmpty() ? "" : "field '" + field + "': ") + e.getOriginalMessage(), details);
        } catch (JsonProcessingException e) {
            throw new ApiException(400, ApiException.BAD_REQUEST, "the body is not valid JSON: "
                    + e.getOriginalMessage(), where(e));
        }
    }

    private static Map<String, Object> where(JsonProcessingException e) {
        Map<String, Object> details = new LinkedHashMap<>();
        JsonLocation at = e.getLocation();
        if (at != null) {
            details.put("line", at.getLineNr());
            details.put("column", at.getColumnNr());
        }
        return details;
    }

    @Override
    public boolean isWriteable(Class<?> type, Type genericType, Annotation[] annotations, MediaType mediaType) {
        return type != String.class && type != byte[].class && !InputStream.class.isAssignableFrom(type)
                && !javax.ws.rs.core.StreamingOutput.class.isAssignableFrom(type);
    }

    @Override
    public void writeTo(Object t, Class<?> type, Type genericType, Annotation[] annotations, MediaType mediaType,
            MultivaluedMap<String, Object> httpHeaders, OutputStream entityStream) throws IOException {
        mapper.writeValue(new NonClosing(entityStream), t);
    }

    /** Counts what is read and refuses the byte past the limit. */
    static final class Limited extends InputStream {
        private final InputStream in;
        private final long max;
        private long read;

        Limited(InputStream in, long max) {
            this.in = in;
            this.max = max;
        }

        @Override
        public int read() throws IOException {
            int b = in.read();
            if (b >= 0) {
                count(1);
            }
            return b;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            int n = in.read(b, off, len);
            if (n > 0) {
                count(n);
            }
            return n;
        }

        private void count(int n) {
            read += n;
            if (read > max) {
                throw new ApiException(413, ApiException.TOO_LARGE,
                        "the body is larger than " + max + " bytes", Map.of("limit", max));
            }
        }
    }

    /** Jackson closes what it writes to; the container owns the stream. */
    private static final class NonClosing extends java.io.FilterOutputStream {
        NonClosing(OutputStream out) {
            super(out);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            out.write(b, off, len);
        }

        @Override
        public void close() throws IOException {
            out.flush();
        }
    }
}

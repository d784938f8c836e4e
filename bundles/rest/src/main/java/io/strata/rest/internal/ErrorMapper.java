package io.strata.rest.internal;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import java.util.Map;
import java.util.UUID;
import javax.ws.rs.WebApplicationException;
import javax.ws.rs.core.MediaType;
import javax.ws.rs.core.Response;
import javax.ws.rs.ext.ExceptionMapper;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Every failure as {@code {code, message, details}}: a {@link StorageException} with its
 * {@link ErrorCode} and that code's HTTP status, the layer's own {@link ApiException}s, the
 * container's refusals (unknown path, method, media type) with stable codes, and anything
 * else as {@code INTERNAL} 500 with an incident id that is also in the log. Never a trace.
 */
public final class ErrorMapper implements ExceptionMapper<Throwable> {
    private static final Logger LOG = LoggerFactory.getLogger(ErrorMapper.class);

    @Override
    public Response toResponse(Throwable e) {
        return answer(e);
    }

    /** @return the error answer for {@code e} */
    public static Response answer(Throwable e) {
        if (e instanceof ApiException a) {
            return build(a.status(), new ApiError(a.code(), a.getMessage(), a.details()), a);
        }
        if (e instanceof StorageException s) {
            return build(s.code().httpStatus(), new ApiError(s.code().name(), s.getMessage(), Map.of()), null);
        }
        if (e instanceof WebApplicationException w && w.getResponse().getStatus() < 500) {
            if (w.getCause() instanceof ApiException a) {
                return answer(a);
            }
            int status = w.getResponse().getStatus();
            switch (status) {
                case 404:
                    return build(404, new ApiError(ApiException.NOT_FOUND, "no such path in this API", Map.of()), null);
                case 405: {
                    var allowed = w.getResponse().getAllowedMethods();
                    Response r = build(405, new ApiError(ApiException.METHOD_NOT_ALLOWED,
                            "the path does not take this method", Map.of("allowed", allowed)), null);
                    return Response.fromResponse(r).allow(allowed).build();
                }
                case 406:
                    return build(406, new ApiError(ApiException.NOT_ACCEPTABLE,
                            "this path answers in application/json only", Map.of()), null);
                case 413:
                    return build(413, new ApiError(ApiException.TOO_LARGE, "the body is too large", Map.of()), null);
                case 415:
                    return build(415, new ApiError(ApiException.UNSUPPORTED_MEDIA_TYPE,
                            "send the body as application/json", Map.of()), null);
                default:
                    return build(status, new ApiError(ApiException.BAD_REQUEST, "the request was refused ("
                            + status + ")", Map.of()), null);
            }
        }
        Throwable cause = e;
        while (cause.getCause() != null && cause.getCause() != cause) {
            if (cause.getCause() instanceof ApiException || cause.getCause() instanceof StorageException) {
                return answer(cause.getCause());
            }
            cause = cause.getCause();
        }
        String incident = UUID.randomUUID().toString();
        LOG.warn("REST: internal error, incident {}", incident, e);
        return build(500, new ApiError(ErrorCode.INTERNAL.name(), "internal error; the server log has incident "
                + incident, Map.of("incident", incident)), null);
    }

    private static Response build(int status, ApiError error, ApiException source) {
        Response.ResponseBuilder b = Response.status(status).type(MediaType.APPLICATION_JSON_TYPE).entity(error);
        if (source != null && source.status() == 401) {
            b.header("WWW-Authenticate", "Basic realm=\"strata\", charset=\"UTF-8\"");
            b.header("WWW-Authenticate", "Bearer realm=\"strata\"");
        }
        if (source != null && source.details().get("retryAfterSeconds") instanceof Number n) {
            b.header("Retry-After", n.longValue());
        }
        return b.build();
    }
}

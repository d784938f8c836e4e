package io.strata.rest.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletionException;
import javax.ws.rs.BadRequestException;
import javax.ws.rs.InternalServerErrorException;
import javax.ws.rs.NotAcceptableException;
import javax.ws.rs.NotAllowedException;
import javax.ws.rs.NotFoundException;
import javax.ws.rs.NotSupportedException;
import javax.ws.rs.WebApplicationException;
import javax.ws.rs.core.MediaType;
import javax.ws.rs.core.Response;
import org.junit.jupiter.api.Test;

class ErrorMapperTest {
    private static ApiError error(Response r) {
        assertTrue(r.getEntity() instanceof ApiError, String.valueOf(r.getEntity()));
        return (ApiError) r.getEntity();
    }

    @Test
    void aStorageExceptionGetsItsCodesStatusAndName() {
        for (ErrorCode code : ErrorCode.values()) {
            Response r = ErrorMapper.answer(new StorageException(code, "the message for " + code));
            assertEquals(code.httpStatus(), r.getStatus(), code.name());
            assertEquals(new ApiError(code.name(), "the message for " + code, Map.of()), error(r));
            assertEquals(MediaType.APPLICATION_JSON_TYPE, r.getMediaType());
        }
        assertEquals(404, ErrorMapper.answer(new StorageException(ErrorCode.VOLUME_NOT_FOUND, "x")).getStatus());
        assertEquals(409, ErrorMapper.answer(new StorageException(ErrorCode.ALREADY_EXISTS, "x")).getStatus());
    }

    @Test
    void anApiExceptionGetsItsStatusCodeAndDetails() {
        Response r = ErrorMapper.answer(new ApiException(412, ApiException.PRECONDITION_FAILED, "changed",
                Map.of("etag", "\"abc\"")));
        assertEquals(412, r.getStatus());
        assertEquals(new ApiError(ApiException.PRECONDITION_FAILED, "changed", Map.of("etag", "\"abc\"")), error(r));
        assertNull(r.getHeaderString("WWW-Authenticate"));
        assertNull(r.getHeaderString("Retry-After"));
    }

    @Test
    void a401AsksForBasicAndBearer() {
        Response r = ErrorMapper.answer(new ApiException(401, ApiException.UNAUTHENTICATED, "who are you"));
        assertEquals(401, r.getStatus());
        assertEquals(ApiException.UNAUTHENTICATED, error(r).code());
        List<Object> challenges = r.getHeaders().get("WWW-Authenticate");
        assertNotNull(challenges);
        assertEquals(2, challenges.size(), challenges.toString());
        assertEquals(Set.of("Basic realm=\"strata\", charset=\"UTF-8\"", "Bearer realm=\"strata\""),
                Set.of(String.valueOf(challenges.get(0)), String.valueOf(challenges.get(1))));
        assertNull(ErrorMapper.answer(new ApiException(403, ApiException.FORBIDDEN, "no")).getHeaderString(
                "WWW-Authenticate"), "only a 401 challenges");
    }

    @Test
    void a429SaysWhenToRetry() {
        Response r = ErrorMapper.answer(new ApiException(429, ApiException.TOO_MANY, "slow down",
                Map.of("retryAfterSeconds", 42L)));
        assertEquals(429, r.getStatus());
        assertEquals("42", r.getHeaderString("Retry-After"));
        assertEquals(42L, error(r).details().get("retryAfterSeconds"));
        assertEquals(ApiException.TOO_MANY, error(r).code());
    }

    @Test
    void theContainersRefusalsGetStableCodes() {
        Response notFound = ErrorMapper.answer(new NotFoundException());
        assertEquals(404, notFound.getStatus());
        assertEquals(ApiException.NOT_FOUND, error(notFound).code());

        Response notAllowed = ErrorMapper.answer(new NotAllowedException("GET", new String[] {"POST"}));
        assertEquals(405, notAllowed.getStatus());
        assertEquals(ApiException.METHOD_NOT_ALLOWED, error(notAllowed).code());
        assertEquals(Set.of("GET", "POST"), notAllowed.getAllowedMethods());
        assertEquals(Set.of("GET", "POST"), error(notAllowed).details().get("allowed"));

        Response unsupported = ErrorMapper.answer(new NotSupportedException());
        assertEquals(415, unsupported.getStatus());
        assertEquals(ApiException.UNSUPPORTED_MEDIA_TYPE, error(unsupported).code());

        Response notAcceptable = ErrorMapper.answer(new NotAcceptableException());
        assertEquals(406, notAcceptable.getStatus());
        assertEquals(ApiException.NOT_ACCEPTABLE, error(notAcceptable).code());

        Response tooLarge = ErrorMapper.answer(new WebApplicationException(413));
        assertEquals(413, tooLarge.getStatus());
        assertEquals(ApiException.TOO_LARGE, error(tooLarge).code());

        Response bad = ErrorMapper.answer(new BadRequestException("secret internals"));
        assertEquals(400, bad.getStatus());
        assertEquals(ApiException.BAD_REQUEST, error(bad).code());
        assertFalse(error(bad).message().contains("secret internals"));
    }

    @Test
    void anApiExceptionInsideAContainerRefusalKeepsItsAnswer() {
        ApiException inner = new ApiException(413, ApiException.TOO_LARGE, "the body is larger than 10 bytes",
                Map.of("limit", 10L));
        Response r = ErrorMapper.answer(new WebApplicationException(inner, 400));
        assertEquals(413, r.getStatus());
        assertEquals(new ApiError(ApiException.TOO_LARGE, "the body is larger than 10 bytes", Map.of("limit", 10L)),
                error(r));
    }

    @Test
    void aStorageOrApiExceptionFoundInTheCauseChainIsAnsweredAsItself() {
        Response r = ErrorMapper.answer(new CompletionException(new RuntimeException(
                new StorageException(ErrorCode.DATASTORE_FULL, "ds1 is full"))));
        assertEquals(507, r.getStatus());
        assertEquals(new ApiError("DATASTORE_FULL", "ds1 is full", Map.of()), error(r));
    }

    @Test
    void anythingElseIsInternalWithAnIncidentAndNoDetailsOfTheException() {
        for (Throwable t : new Throwable[] {
            new IllegalStateException("password=hunter2 at /etc/secret"),
            new NullPointerException("Cannot invoke \"String.length()\" because \"secret\" is null"),
            new UncheckedIOException(new java.io.IOException("/var/lib/secret: EIO")),
            new InternalServerErrorException("secret server side"),
            new AssertionError("secret assertion")}) {
            Response r = ErrorMapper.answer(t);
            assertEquals(500, r.getStatus(), t.toString());
            ApiError e = error(r);
            assertEquals("INTERNAL", e.code());
            Object incident = e.details().get("incident");
            assertNotNull(incident);
            assertTrue(String.valueOf(incident).matches("[0-9a-f-]{36}"), String.valueOf(incident));
            assertTrue(e.message().contains(String.valueOf(incident)), e.message());
            assertFalse(e.message().contains("secret"), e.message());
            assertFalse(e.message().contains(t.getClass().getSimpleName()), e.message());
            assertFalse(e.message().contains("Exception"), e.message());
            assertEquals(Set.of("incident"), e.details().keySet());
        }
        String first = String.valueOf(error(ErrorMapper.answer(new RuntimeException())).details().get("incident"));
        String second = String.valueOf(error(ErrorMapper.answer(new RuntimeException())).details().get("incident"));
        assertFalse(first.equals(second), "each incident has its own id");
    }

    @Test
    void theMapperAnswersLikeAnswer() {
        Response r = new ErrorMapper().toResponse(new StorageException(ErrorCode.LOCKED, "held"));
        assertEquals(423, r.getStatus());
        assertEquals("LOCKED", error(r).code());
    }
}

package io.strata.rest.internal;

import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.function.LongSupplier;
import java.util.function.Supplier;
import javax.ws.rs.core.Response;

/**
 * {@code Idempotency-Key} on creates: the first request with a key runs, and its answer is
 * kept for {@code ttlMillis}; a retry with the same key and the same request gets that
 * answer again, with {@code Idempotent-Replayed: true}, and changes nothing. A retry that
 * arrives while the first is still running waits for it. The same key with a different
 * request is refused with 422. Keys are per user, kept in memory (at most
 * {@value #MAX_KEYS}), and forgotten at a restart. Errors are kept too, except 5xx answers,
 * which a retry runs again.
 */
final class Idempotency {
    static final int MAX_KEYS = 100_000;
    static final int MAX_KEY_LENGTH = 255;
    private final long ttlMillis;
    private final LongSupplier clock;
    private final Map<String, Entry> entries = new LinkedHashMap<>();

    private record Entry(String fingerprint, CompletableFuture<Kept> answer, long until) {
    }

    /** What is replayed: status, entity and the headers that matter. */
    private record Kept(int status, Object entity, String location, String etag) {
        Response response(boolean replayed) {
            Response.ResponseBuilder b = Response.status(status).entity(entity);
            if (location != null) {
                b.header("Location", location);
            }
            if (etag != null) {
                b.header("ETag", etag);
            }
            if (replayed) {
                b.header("Idempotent-Replayed", "true");
            }
            return b.build();
        }
    }

    private static final com.fasterxml.jackson.databind.ObjectMapper JSON = Json.mapper();

    /** @return what makes two requests the same: what they ask for and their body as JSON */
    static String fingerprint(String what, Object body) {
        try {
            return what + " " + JSON.writeValueAsString(body);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    Idempotency(long ttlMillis, LongSupplier clockMillis) {
        this.ttlMillis = ttlMillis;
        this.clock = clockMillis;
    }

    /**
     * Runs {@code work} once per ({@code user}, {@code key}); without a key, just runs it.
     *
     * @param fingerprint what makes two requests the same: method, path and body
     */
    Response run(String user, String key, String fingerprint, Supplier<Response> work) {
        if (key == null) {
            return work.get();
        }
        if (key.isEmpty() || key.length() > MAX_KEY_LENGTH || !key.chars().allMatch(c -> c > 0x20 && c < 0x7f)) {
            throw ApiException.badRequest("Idempotency-Key must be 1 to " + MAX_KEY_LENGTH
                    + " printable ASCII characters without spaces");
        }
        String id = user + "\n" + key;
        Entry mine;
        Entry existing;
        synchronized (entries) {
            expire();
            existing = entries.get(id);
            if (existing == null) {
                mine = new Entry(fingerprint, new CompletableFuture<>(), clock.getAsLong() + ttlMillis);
                entries.put(id, mine);
            } else {
                mine = null;
            }
        }
        if (existing != null) {
            if (!existing.fingerprint.equals(fingerprint)) {
                throw new ApiException(422, ApiException.IDEMPOTENCY_KEY_REUSED, "the Idempotency-Key '" + key
                        + "' was used for a different request");
            }
            try {
                return existing.answer.get().response(true);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new ApiException(503, "INTERRUPTED", "interrupted while waiting for the first request");
            } catch (ExecutionException e) {
                return run(user, key, fingerprint, work);
            }
        }
        Response r;
        try {
            r = work.get();
        } catch (RuntimeException e) {
            Response error = ErrorMapper.answer(e);
            finish(id, mine, error);
            return error;
        } catch (Error e) {
            synchronized (entries) {
                entries.remove(id, mine);
            }
            mine.answer.completeExceptionally(e);
            throw e;
        }
        finish(id, mine, r);
        return r;
    }

    private void finish(String id, Entry mine, Response r) {
        if (r.getStatus() >= 500) {
            synchronized (entries) {
                entries.remove(id, mine);
            }
            mine.answer.completeExceptionally(new IllegalStateException("retry"));
            return;
        }
        Object loc = r.getHeaderString("Location");
        mine.answer.complete(new Kept(r.getStatus(), r.getEntity(), loc == null ? null : loc.toString(),
                r.getHeaderString("ETag")));
    }

    private void expire() {
        long now = clock.getAsLong();
        Iterator<Entry> it = entries.values().iterator();
        while (it.hasNext()) {
            Entry e = it.next();
            if (e.until <= now && e.answer.isDone() || entries.size() > MAX_KEYS) {
                it.remove();
            } else if (e.until > now) {
                break;
            }
        }
    }
}

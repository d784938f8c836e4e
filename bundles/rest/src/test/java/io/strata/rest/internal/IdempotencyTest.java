package io.strata.rest.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import javax.ws.rs.core.EntityTag;
import javax.ws.rs.core.Response;
import org.junit.jupiter.api.Test;

class IdempotencyTest {
    private static final long TTL = 86_400_000L;
    private final AtomicLong now = new AtomicLong(1_000_000);
    private final Idempotency idempotency = new Idempotency(TTL, now::get);
    private final AtomicInteger runs = new AtomicInteger();

    /** A create that counts its runs and answers 201 with a new entity each time. */
    private Supplier<Response> create() {
        return () -> {
            int n = runs.incrementAndGet();
            return Response.created(URI.create("datastores/ds1/volumes/v1")).entity(Map.of("run", n))
                    .tag(new EntityTag("abc" + n)).build();
        };
    }

    @Test
    void withoutAKeyTheWorkJustRuns() {
        idempotency.run("alice", null, "f", create());
        Response r = idempotency.run("alice", null, "f", create());
        assertEquals(2, runs.get());
        assertNull(r.getHeaderString("Idempotent-Replayed"));
    }

    @Test
    void theSameKeyAndRequestRunOnceAndReplayTheAnswer() {
        Response first = idempotency.run("alice", "key-1", "POST /v1 {}", create());
        assertEquals(201, first.getStatus());
        assertNull(first.getHeaderString("Idempotent-Replayed"), "the first answer is not a replay");

        Response again = idempotency.run("alice", "key-1", "POST /v1 {}", create());
        assertEquals(1, runs.get(), "the work ran once");
        assertEquals("true", again.getHeaderString("Idempotent-Replayed"));
        assertEquals(201, again.getStatus());
        assertSame(first.getEntity(), again.getEntity());
        assertEquals("datastores/ds1/volumes/v1", again.getHeaderString("Location"));
        assertEquals(first.getHeaderString("Location"), again.getHeaderString("Location"));
        assertEquals(first.getHeaderString("ETag"), again.getHeaderString("ETag"));
        assertEquals("\"abc1\"", again.getHeaderString("ETag"));
    }

    @Test
    void theSameKeyWithAnotherRequestIs422() {
        idempotency.run("alice", "key-1", "POST /v1 {\"size\":1}", create());
        ApiException e = assertThrows(ApiException.class,
                () -> idempotency.run("alice", "key-1", "POST /v1 {\"size\":2}", create()));
        assertEquals(422, e.status());
        assertEquals(ApiException.IDEMPOTENCY_KEY_REUSED, e.code());
        assertEquals(1, runs.get());
    }

    @Test
    void keysArePerUser() {
        Response a = idempotency.run("alice", "key-1", "POST /v1 {}", create());
        Response b = idempotency.run("bob", "key-1", "POST /v1 {}", create());
        assertEquals(2, runs.get(), "bob's key is not alice's");
        assertNull(b.getHeaderString("Idempotent-Replayed"));
        assertEquals(Map.of("run", 1), a.getEntity());
        assertEquals(Map.of("run", 2), b.getEntity());
        // and another user may use the same key for another request
        idempotency.run("carol", "key-1", "DELETE /other", create());
        assertEquals(3, runs.get());
    }

    @Test
    void manyThreadsRacingTheSameKeyRunTheWorkOnce() throws Exception {
        int threads = 50;
        CountDownLatch ready = new CountDownLatch(threads);
        Supplier<Response> slow = () -> {
            try {
                // every thread has reached the call before the work finishes
                assertTrue(ready.await(30, TimeUnit.SECONDS));
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
            return create().get();
        };
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            List<Future<Response>> answers = new ArrayList<>();
            for (int i = 0; i < threads; i++) {
                answers.add(pool.submit(() -> {
                    ready.countDown();
                    return idempotency.run("alice", "race", "POST /v1 {}", slow);
                }));
            }
            int replayed = 0;
            Object entity = null;
            for (Future<Response> f : answers) {
                Response r = f.get(60, TimeUnit.SECONDS);
                assertEquals(201, r.getStatus());
                assertEquals("datastores/ds1/volumes/v1", r.getHeaderString("Location"));
                if (entity == null) {
                    entity = r.getEntity();
                }
                assertSame(entity, r.getEntity(), "everyone gets the same answer");
                if ("true".equals(r.getHeaderString("Idempotent-Replayed"))) {
                    replayed++;
                }
            }
            assertEquals(1, runs.get(), "the work ran exactly once");
            assertEquals(Map.of("run", 1), entity);
            assertEquals(threads - 1, replayed);
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void aServerErrorIsNotKeptSoARetryRunsAgain() {
        Response failed = idempotency.run("alice", "k", "f", () -> {
            runs.incrementAndGet();
            return Response.status(503).entity("later").build();
        });
        assertEquals(503, failed.getStatus());
        Response retry = idempotency.run("alice", "k", "f", create());
        assertEquals(2, runs.get());
        assertEquals(201, retry.getStatus());
        assertNull(retry.getHeaderString("Idempotent-Replayed"));
        // once it worked, it is kept
        assertEquals("true", idempotency.run("alice", "k", "f", create()).getHeaderString("Idempotent-Replayed"));
        assertEquals(2, runs.get());
    }

    @Test
    void aThrownServerErrorIsAnsweredButNotKept() {
        Response failed = idempotency.run("alice", "k", "f", () -> {
            runs.incrementAndGet();
            throw new StorageException(ErrorCode.IO_ERROR, "disk gone");
        });
        assertEquals(500, failed.getStatus());
        assertEquals("IO_ERROR", ((ApiError) failed.getEntity()).code());
        idempotency.run("alice", "k", "f", create());
        assertEquals(2, runs.get());
    }

    @Test
    void aClientErrorIsKeptAndReplayed() {
        Supplier<Response> exists = () -> {
            runs.incrementAndGet();
            throw new StorageException(ErrorCode.ALREADY_EXISTS, "volume v1 exists");
        };
        Response first = idempotency.run("alice", "k", "f", exists);
        assertEquals(409, first.getStatus());
        Response again = idempotency.run("alice", "k", "f", exists);
        assertEquals(1, runs.get());
        assertEquals(409, again.getStatus());
        assertEquals("true", again.getHeaderString("Idempotent-Replayed"));
        assertEquals("ALREADY_EXISTS", ((ApiError) again.getEntity()).code());
    }

    @Test
    void expiredKeysRunAgain() {
        idempotency.run("alice", "k", "f", create());
        now.addAndGet(TTL - 1);
        assertEquals("true", idempotency.run("alice", "k", "f", create()).getHeaderString("Idempotent-Replayed"));
        assertEquals(1, runs.get());
        now.addAndGet(1);
        Response r = idempotency.run("alice", "k", "f", create());
        assertEquals(2, runs.get(), "after the ttl the key is forgotten");
        assertNull(r.getHeaderString("Idempotent-Replayed"));
        // and after expiry it may even name another request
        now.addAndGet(TTL);
        idempotency.run("alice", "k", "g", create());
        assertEquals(3, runs.get());
    }

    @Test
    void invalidKeysAre400() {
        for (String bad : new String[] {"", "a b", " ", "tab\tkey", "caf\u00e9", "x".repeat(256)}) {
            ApiException e = assertThrows(ApiException.class, () -> idempotency.run("alice", bad, "f", create()),
                    "key '" + bad + "'");
            assertEquals(400, e.status());
            assertEquals(ApiException.BAD_REQUEST, e.code());
        }
        assertEquals(0, runs.get());
        idempotency.run("alice", "x".repeat(255), "f", create());
        idempotency.run("alice", "!~", "f", create());
        assertEquals(2, runs.get(), "255 printable characters are fine");
    }
}

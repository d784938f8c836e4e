package io.strata.core.internal;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.service.TaskInfo;
import io.strata.api.service.TaskState;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Long-running operations (snapshot merges) on a small executor of two daemon threads,
 * with their progress, a wait and a cancel flag that the work checks at its safe points.
 * The last {@value #HISTORY} finished tasks are kept in memory.
 */
final class TaskManager implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(TaskManager.class);
    static final int HISTORY = 100;

    /** The work of a task; returns its result line. */
    interface Work {
        String run(Task task);
    }

    /** One task; its fields are read by any thread. */
    static final class Task {
        final String id;
        final String kind;
        final String target;
        final Instant started = Instant.now();
        private volatile TaskState state = TaskState.QUEUED;
        private volatile double progress;
        private volatile String message = "";
        private volatile Instant finished;
        private volatile boolean cancelRequested;
        private final CountDownLatch done = new CountDownLatch(1);

        Task(String id, String kind, String target) {
            this.id = id;
            this.kind = kind;
            this.target = target;
        }

        void progress(double p) {
            progress = Math.max(0, Math.min(1, p));
        }

        boolean cancelRequested() {
            return cancelRequested;
        }

        /** A safe point: throws CANCELLED when a cancel was asked for. */
        void checkCancel() {
            if (cancelRequested) {
                throw new StorageException(ErrorCode.CANCELLED, kind + " " + target + " was cancelled");
            }
        }

        TaskInfo info() {
            return new TaskInfo(id, kind, target, state, progress, message, started, finished);
        }

        boolean isDone() {
            return done.getCount() == 0;
        }

        private void end(TaskState s, String msg) {
            message = msg == null ? "" : msg;
            if (s == TaskState.SUCCEEDED) {
                progress = 1.0;
            }
            finished = Instant.now();
            state = s;
            done.countDown();
        }
    }

    private final ExecutorService executor;
    private final AtomicLong seq = new AtomicLong();
    private final Map<String, Task> tasks = new LinkedHashMap<>();

    TaskManager() {
        AtomicLong threads = new AtomicLong();
        executor = Executors.newFixedThreadPool(2, r -> {
            Thread t = new Thread(r, "strata-task-" + threads.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
    }

    Task submit(String kind, String target, Work work) {
        Task t = new Task("task-" + seq.incrementAndGet(), kind, target);
        synchronized (tasks) {
            tasks.put(t.id, t);
            trim();
        }
        executor.execute(() -> run(t, work));
        return t;
    }

    private void run(Task t, Work work) {
        if (t.cancelRequested) {
            t.end(TaskState.CANCELLED, "CANCELLED: cancelled before it started");
            return;
        }
        t.state = TaskState.RUNNING;
        try {
            String result = work.run(t);
            t.end(TaskState.SUCCEEDED, result);
            LOG.info("task {} {} {} succeeded: {}", t.id, t.kind, t.target, result);
        } catch (StorageException e) {
            if (e.code() == ErrorCode.CANCELLED) {
                t.end(TaskState.CANCELLED, e.code() + ": " + e.getMessage());
            } else {
                t.end(TaskState.FAILED, e.code() + ": " + e.getMessage());
            }
            LOG.info("task {} {} {} ended: {}", t.id, t.kind, t.target, e.getMessage());
        } catch (RuntimeException | Error e) {
            t.end(TaskState.FAILED, ErrorCode.INTERNAL + ": " + e);
            LOG.warn("task {} {} {} failed", t.id, t.kind, t.target, e);
        }
    }

    private void trim() {
        int finished = 0;
        List<String> drop = new ArrayList<>();
        List<Task> newestFirst = new ArrayList<>(tasks.values());
        Collections.reverse(newestFirst);
        for (Task t : newestFirst) {
            if (t.isDone() && ++finished > HISTORY) {
                drop.add(t.id);
            }
        }
        drop.forEach(tasks::remove);
    }

    List<TaskInfo> list() {
        List<TaskInfo> list = new ArrayList<>();
        synchronized (tasks) {
            tasks.values().forEach(t -> list.add(t.info()));
        }
        Collections.reverse(list);
        return list;
    }

    Task task(String id) {
        synchronized (tasks) {
            Task t = id == null ? null : tasks.get(id);
            if (t == null) {
                throw new StorageException(ErrorCode.TASK_NOT_FOUND, "no task '" + id + "'");
            }
            return t;
        }
    }

    TaskInfo await(String id, Duration timeout) {
        Task t = task(id);
        try {
            t.done.await(timeout == null ? Long.MAX_VALUE : Math.max(0, timeout.toMillis()), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return t.info();
    }

    TaskInfo cancel(String id) {
        Task t = task(id);
        t.cancelRequested = true;
        return t.info();
    }

    @Override
    public void close() {
        synchronized (tasks) {
            tasks.values().forEach(t -> t.cancelRequested = true);
        }
        executor.shutdown();
        try {
            executor.awaitTermination(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}

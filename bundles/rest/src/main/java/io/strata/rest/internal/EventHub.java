package io.strata.rest.internal;

import io.strata.api.service.DatastoreInfo;
import io.strata.api.service.ResourceInfo;
import io.strata.api.service.ResourcePath;
import io.strata.api.service.TaskInfo;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Changes management software wants to hear about without polling each resource: a task
 * changing state, a datastore or resource turning ONLINE or UNAVAILABLE, a path failing or
 * coming back. The hub compares the services' state every {@code periodMillis} while anyone
 * listens (a server-sent event stream, or a long poll within the last minute), numbers each
 * change, and keeps the last {@value #KEEP} so a client that reconnects with the last number
 * it saw misses nothing that is still kept.
 */
final class EventHub implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(EventHub.class);
    static final int KEEP = 1000;
    private static final long IDLE_MILLIS = 60_000;

    /** One change: what kind of thing, which one, its state before and now, and when. */
    public record Event(long seq, String type, String id, String state, String previous, String message,
            Instant time) {
    }

    private final Services s;
    private final Clock clock;
    private final long periodMillis;
    private final Deque<Event> events = new ArrayDeque<>();
    private final List<Consumer<Event>> listeners = new CopyOnWriteArrayList<>();
    private Map<String, String> last;
    private long seq;
    private volatile long lastInterest;
    private Thread poller;
    private boolean closed;

    EventHub(Services services, Clock clock, long periodMillis) {
        this.s = services;
        this.clock = clock;
        this.periodMillis = Math.max(50, periodMillis);
    }

    /** Adds a live listener (an SSE stream) until {@link #unsubscribe}. */
    void subscribe(Consumer<Event> listener) {
        listeners.add(listener);
        interest();
    }

    void unsubscribe(Consumer<Event> listener) {
        listeners.remove(listener);
    }

    /** @return the newest sequence number handed out, 0 before any */
    synchronized long latest() {
        interest();
        return seq;
    }

    /**
     * Waits up to {@code waitMillis} for events after {@code after}.
     *
     * @return the kept events numbered above {@code after}, oldest first
     */
    synchronized List<Event> after(long after, long waitMillis) throws InterruptedException {
        interest();
        long deadline = System.nanoTime() + waitMillis * 1_000_000L;
        while (seq <= after && !closed) {
            long left = (deadline - System.nanoTime()) / 1_000_000L;
            if (left <= 0) {
                break;
            }
            wait(left);
        }
        List<Event> out = new ArrayList<>();
        for (Event e : events) {
            if (e.seq > after) {
                out.add(e);
            }
        }
        return out;
    }

    private synchronized void interest() {
        lastInterest = System.nanoTime();
        if (poller == null && !closed) {
            last = snapshot();
            poller = new Thread(this::poll, "strata-rest-events");
            poller.setDaemon(true);
            poller.start();
        }
    }

    private void poll() {
        while (true) {
            synchronized (this) {
                if (closed || listeners.isEmpty() && System.nanoTime() - lastInterest > IDLE_MILLIS * 1_000_000L) {
                    poller = null;
                    return;
                }
            }
            try {
                Thread.sleep(periodMillis);
                compare();
            } catch (InterruptedException e) {
                return;
            } catch (RuntimeException e) {
                LOG.debug("events: a comparison failed: {}", e.toString());
            }
        }
    }

    /** Compares now with the last snapshot and publishes the differences; package-visible for tests. */
    void compare() {
        Map<String, String> now = snapshot();
        List<Event> fresh = new ArrayList<>();
        synchronized (this) {
            Map<String, String> before = last == null ? Map.of() : last;
            for (Map.Entry<String, String> e : now.entrySet()) {
                String prev = before.get(e.getKey());
                if (!e.getValue().equals(prev)) {
                    fresh.add(event(e.getKey(), e.getValue(), prev));
                }
            }
            for (Map.Entry<String, String> e : before.entrySet()) {
                if (!now.containsKey(e.getKey()) && !e.getKey().startsWith("task\t")) {
                    fresh.add(event(e.getKey(), "REMOVED", e.getValue()));
                }
            }
            last = now;
            if (!fresh.isEmpty()) {
                notifyAll();
            }
        }
        for (Event e : fresh) {
            for (Consumer<Event> l : listeners) {
                try {
                    l.accept(e);
                } catch (RuntimeException ex) {
                    listeners.remove(l);
                }
            }
        }
    }

    private Event event(String key, String value, String prev) {
        String[] k = key.split("\t", 2);
        String[] v = value.split("\t", 2);
        String[] p = prev == null ? new String[] {null} : prev.split("\t", 2);
        Event e = new Event(++seq, k[0], k[1], v[0], p[0], v.length > 1 ? v[1] : "", clock.instant());
        events.addLast(e);
        while (events.size() > KEEP) {
            events.removeFirst();
        }
        return e;
    }

    private Map<String, String> snapshot() {
        Map<String, String> m = new HashMap<>();
        try {
            for (TaskInfo t : s.tasks().list()) {
                m.put("task\t" + t.id(), t.state() + "\t" + t.kind() + " " + t.target() + ": " + t.message());
            }
        } catch (RuntimeException e) {
            LOG.debug("events: tasks: {}", e.toString());
        }
        try {
            for (DatastoreInfo d : s.datastores().list()) {
                m.put("datastore\t" + d.name(), d.state() + "\t" + (d.message() == null ? "" : d.message()));
            }
        } catch (RuntimeException e) {
            LOG.debug("events: datastores: {}", e.toString());
        }
        try {
            for (ResourceInfo r : s.resources().resources()) {
                m.put("resource\t" + r.name(), r.state() + "\t" + (r.message() == null ? "" : r.message()));
            }
            for (ResourcePath p : s.resources().paths(null, null)) {
                m.put("path\t" + p.resource() + "/" + p.path().device() + "/" + p.path().id(),
                        p.path().state() + "\t" + (p.path().enabled() ? "enabled" : "disabled")
                        + (p.path().active() ? ", active" : ""));
            }
        } catch (RuntimeException e) {
            LOG.debug("events: resources: {}", e.toString());
        }
        return m;
    }

    @Override
    public synchronized void close() {
        closed = true;
        if (poller != null) {
            poller.interrupt();
        }
        notifyAll();
    }
}

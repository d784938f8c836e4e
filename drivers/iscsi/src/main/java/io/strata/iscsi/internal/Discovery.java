package io.strata.iscsi.internal;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Finds the LUNs of a resource and keeps the sessions to them: SendTargets discovery on every
 * portal, a login to every target/portal pair found (one {@link Session} each), REPORT LUNS on
 * each session and a probe of every LUN ({@link IscsiPath#probe}). Portals are handled in
 * parallel, so one portal that does not answer costs one timeout, not one per portal.
 */
final class Discovery implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(Discovery.class);

    private final String resource;
    private final IscsiParams params;
    /** Sessions by {@code portal target}. */
    private final Map<String, Session> sessions = new LinkedHashMap<>();
    /** Paths by id. */
    private final Map<String, IscsiPath> paths = new LinkedHashMap<>();
    private boolean closed;

    /** A portal's discovery answer or why there is none. */
    private record Answer(String portal, List<Session.DiscoveredTarget> targets, RuntimeException error) {
    }

    Discovery(String resource, IscsiParams params) {
        this.resource = resource;
        this.params = params;
    }

    /**
     * Discovers again and logs in to what is new.
     *
     * @return the paths found now that were not known before
     * @throws StorageException {@code DEVICE_UNAVAILABLE} when no portal answers or no login
     *         works, {@code PERMISSION_DENIED} when the target refuses the CHAP login
     */
    synchronized List<IscsiPath> refresh() {
        if (closed) {
            throw new StorageException(ErrorCode.DEVICE_UNAVAILABLE, "resource " + resource + " is closed");
        }
        ExecutorService pool = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "iscsi discovery " + resource);
            t.setDaemon(true);
            return t;
        });
        try {
            List<Answer> answers = parallel(pool, params.portals(), this::sendTargets);
            List<String> pairs = new ArrayList<>();
            List<RuntimeException> errors = new ArrayList<>();
            for (Answer a : answers) {
                if (a.error() != null) {
                    errors.add(a.error());
                    LOG.warn("resource {}: discovery on {} failed: {}", resource, a.portal(), a.error().getMessage());
                    continue;
                }
                for (Session.DiscoveredTarget t : a.targets()) {
                    if (params.target() == null || params.target().equals(t.iqn())) {
                        pairs.add(a.portal() + " " + t.iqn());
                    }
                }
            }
            if (errors.size() == answers.size()) {
                throw unreachable("no portal answers", errors);
            }
            if (pairs.isEmpty()) {
                throw new StorageException(ErrorCode.DEVICE_UNAVAILABLE, "resource " + resource + ": "
                        + (params.target() == null ? "the portals report no target"
                                : "no portal reports target " + params.target()));
            }
            List<String> fresh = pairs.stream().filter(p -> !sessions.containsKey(p)).toList();
            List<RuntimeException> loginErrors = new ArrayList<>();
            List<Session> loggedIn = parallel(pool, fresh, this::login).stream().filter(s -> {
                if (s instanceof RuntimeException e) {
                    loginErrors.add(e);
                    return false;
                }
                return true;
            }).map(Session.class::cast).toList();
            for (Session s : loggedIn) {
                sessions.put(s.config().portal() + " " + s.config().target(), s);
            }
            List<Session> usable = sessions.values().stream().filter(Session::loggedIn).toList();
            if (usable.isEmpty()) {
                throw unreachable("no login succeeded", loginErrors);
            }
            for (RuntimeException e : loginErrors) {
                LOG.warn("resource {}: {}", resource, e.getMessage());
            }
            List<IscsiPath> found = new ArrayList<>();
            Set<String> known = Set.copyOf(paths.keySet());
            for (List<IscsiPath> l : parallel(pool, usable, s -> probeLuns(s, known))) {
                for (IscsiPath p : l) {
                    paths.put(p.id(), p);
                    found.add(p);
                }
            }
            return found;
        } finally {
            pool.shutdownNow();
        }
    }

    /** @return every path known, by id */
    synchronized Map<String, IscsiPath> paths() {
        return Map.copyOf(paths);
    }

    private StorageException unreachable(String what, List<RuntimeException> errors) {
        for (RuntimeException e : errors) {
            if (e instanceof StorageException se && se.code() == ErrorCode.PERMISSION_DENIED) {
                return se;
            }
        }
        String why = errors.stream().map(Throwable::getMessage).distinct().collect(Collectors.joining("; "));
        return new StorageException(ErrorCode.DEVICE_UNAVAILABLE, "resource " + resource + ": " + what
                + (why.isEmpty() ? "" : " (" + why + ")"));
    }

    private Answer sendTargets(String portal) {
        try (Session s = new Session(params.discovery(portal))) {
            s.connect();
            return new Answer(portal, s.discover(), null);
        } catch (RuntimeException e) {
            return new Answer(portal, List.of(), e);
        }
    }

    /** @return the logged-in session, or the RuntimeException that prevented it */
    private Object login(String pair) {
        int space = pair.indexOf(' ');
        Session s = new Session(params.discovery(pair.substring(0, space)).forTarget(pair.substring(space + 1)));
        try {
            s.connect();
            return s;
        } catch (RuntimeException e) {
            s.close();
            return e;
        }
    }

    private List<IscsiPath> probeLuns(Session s, Set<String> known) {
        List<IscsiPath> found = new ArrayList<>();
        try {
            LunChannel ch = new LunChannel(s, 0, "iscsi " + s.name());
            byte[] d = ch.read("REPORT LUNS", Cdb.reportLuns(16384), 16384);
            for (int lun : Inquiry.luns(d)) {
                String id = s.config().portal() + "/" + s.config().target() + "/" + lun;
                if (known.contains(id)) {
                    continue;
                }
                try {
                    IscsiPath.probe(s, lun).ifPresent(found::add);
                } catch (RuntimeException e) {
                    LOG.warn("resource {}: LUN {} on {}: {}", resource, lun, s.name(), e.getMessage());
                }
            }
        } catch (RuntimeException e) {
            LOG.warn("resource {}: REPORT LUNS on {} failed: {}", resource, s.name(), e.getMessage());
        }
        return found;
    }

    private static <A, R> List<R> parallel(ExecutorService pool, List<A> items,
            Function<A, R> f) {
        List<CompletableFuture<R>> fs = new ArrayList<>();
        for (A a : items) {
            fs.add(CompletableFuture.supplyAsync(() -> f.apply(a), pool));
        }
        List<R> out = new ArrayList<>();
        for (CompletableFuture<R> c : fs) {
            try {
                out.add(c.join());
            } catch (CompletionException e) {
                throw e.getCause() instanceof RuntimeException re ? re : e;
            }
        }
        return out;
    }

    /** Closes every session (their loops stop, their threads end). Never throws. */
    @Override
    public synchronized void close() {
        closed = true;
        for (Session s : sessions.values()) {
            s.close();
        }
        sessions.clear();
        paths.clear();
    }
}

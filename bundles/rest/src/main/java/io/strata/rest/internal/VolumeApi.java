package io.strata.rest.internal;

import static io.strata.rest.internal.Requests.flag;
import static io.strata.rest.internal.Requests.required;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.format.CheckReport;
import io.strata.api.service.DatastoreInfo;
import io.strata.api.service.QosLimits;
import io.strata.api.service.SnapshotInfo;
import io.strata.api.service.VolumeInfo;
import io.strata.api.service.VolumeRef;
import io.strata.api.service.VolumeState;
import io.strata.api.service.VolumeStats;
import java.net.URI;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import javax.servlet.http.HttpServletRequest;
import javax.ws.rs.Consumes;
import javax.ws.rs.DELETE;
import javax.ws.rs.GET;
import javax.ws.rs.HeaderParam;
import javax.ws.rs.PATCH;
import javax.ws.rs.POST;
import javax.ws.rs.PUT;
import javax.ws.rs.Path;
import javax.ws.rs.PathParam;
import javax.ws.rs.Produces;
import javax.ws.rs.QueryParam;
import javax.ws.rs.core.Context;
import javax.ws.rs.core.MediaType;
import javax.ws.rs.core.Response;

/** Volumes, their snapshots, clones, imports, checks, QoS and statistics. */
@Path("/")
@Produces(MediaType.APPLICATION_JSON)
@Consumes(MediaType.APPLICATION_JSON)
public final class VolumeApi {
    static final String IDEMPOTENCY_KEY = "Idempotency-Key";
    private final Services s;
    private final TaskResults tasks;
    private final Idempotency idempotency;

    VolumeApi(Services services, TaskResults tasks, Idempotency idempotency) {
        this.s = services;
        this.tasks = tasks;
        this.idempotency = idempotency;
    }

    static String etag(VolumeInfo v) {
        return ETags.of("volume", v.datastore(), v.name(), v.format(), v.provisioning(), v.virtualSize(), v.file(),
                v.created());
    }

    static URI location(VolumeRef ref) {
        return URI.create("datastores/" + ref.datastore() + "/volumes/" + ref.volume());
    }

    private static Response ok(VolumeInfo v) {
        return Response.ok(v).tag(new javax.ws.rs.core.EntityTag(etag(v).replace("\"", ""))).build();
    }

    @GET
    @Path("volumes")
    @Allowed(Role.VIEWER)
    public Page<VolumeInfo> listAll(@QueryParam("offset") String offset, @QueryParam("limit") String limit,
            @QueryParam("name") String name, @QueryParam("format") String format, @QueryParam("state") String state,
            @QueryParam("provisioning") String provisioning) {
        List<VolumeInfo> all = new ArrayList<>();
        for (DatastoreInfo d : s.datastores().list()) {
            try {
                all.addAll(s.volumes().list(d.name()));
            } catch (StorageException e) {
                // a datastore that is not mounted has no volumes to list
            }
        }
        return page(all, offset, limit, name, format, state, provisioning);
    }

    @GET
    @Path("datastores/{ds}/volumes")
    @Allowed(Role.VIEWER)
    public Page<VolumeInfo> list(@PathParam("ds") String ds, @QueryParam("offset") String offset,
            @QueryParam("limit") String limit, @QueryParam("name") String name, @QueryParam("format") String format,
            @QueryParam("state") String state, @QueryParam("provisioning") String provisioning) {
        return page(s.volumes().list(Params.name("datastore", ds)), offset, limit, name, format, state, provisioning);
    }

    private static Page<VolumeInfo> page(List<VolumeInfo> all, String offset, String limit, String name,
            String format, String state, String provisioning) {
        Glob glob = name == null || name.isEmpty() ? null : glob(name);
        VolumeState st = Params.enumValue(VolumeState.class, "state", state);
        var prov = Params.provisioning(provisioning == null || provisioning.isEmpty() ? null : provisioning);
        List<VolumeInfo> kept = new ArrayList<>();
        for (VolumeInfo v : all) {
            if ((glob == null || glob.matches(v.name()))
                    && (format == null || format.isEmpty() || format.equalsIgnoreCase(v.format()))
                    && (st == null || st == v.state()) && (prov == null || prov == v.provisioning())) {
                kept.add(v);
            }
        }
        kept.sort(Comparator.comparing(VolumeInfo::datastore).thenComparing(VolumeInfo::name));
        return Page.of(kept, Params.integer("offset", offset), Params.integer("limit", limit));
    }

    /**
     * A name filter: {@code *} any run of characters, {@code ?} one; everything else literal
     * and case-sensitive. Matched in at most (filter length x name length) steps, whatever
     * the filter: a filter is a viewer's input, and a backtracking regular expression of many
     * stars would let it pin a CPU.
     */
    static final class Glob {
        private final String pattern;

        private Glob(String pattern) {
            this.pattern = pattern;
        }

        boolean matches(CharSequence name) {
            int p = 0;
            int n = 0;
            int star = -1;
            int resume = 0;
            int nameLength = name.length();
            while (n < nameLength) {
                if (p < pattern.length() && (pattern.charAt(p) == '?' || pattern.charAt(p) == name.charAt(n))) {
                    p++;
                    n++;
                } else if (p < pattern.length() && pattern.charAt(p) == '*') {
                    star = p++;
                    resume = n;
                } else if (star >= 0) {
                    p = star + 1;
                    n = ++resume;
                } else {
                    return false;
                }
            }
            while (p < pattern.length() && pattern.charAt(p) == '*') {
                p++;
            }
            return p == pattern.length();
        }
    }

    static Glob glob(String g) {
        if (g.length() > 256) {
            throw ApiException.badRequest("the name filter is longer than 256 characters");
        }
        return new Glob(g);
    }

    @POST
    @Path("datastores/{ds}/volumes")
    @Allowed(Role.OPERATOR)
    public Response create(@PathParam("ds") String ds, @HeaderParam(IDEMPOTENCY_KEY) String key,
            @Context HttpServletRequest ctx, Requests.VolumeCreate body) {
        Requests.VolumeCreate b = required(body, "body");
        VolumeRef ref = Params.volume(ds, required(b.name(), "name"));
        long size = required(b.size(), "size");
        return idempotency.run(user(ctx), key, Idempotency.fingerprint("POST " + ref.toString(), b), () -> {
            VolumeInfo v = s.volumes().create(ref, size, b.format(), Params.provisioning(b.provisioning()));
            return Response.created(location(ref)).entity(v).tag(unquoted(etag(v))).build();
        });
    }

    @GET
    @Path("datastores/{ds}/volumes/{vol}")
    @Allowed(Role.VIEWER)
    public Response info(@PathParam("ds") String ds, @PathParam("vol") String vol) {
        return ok(s.volumes().info(Params.volume(ds, vol)));
    }

    @PATCH
    @Path("datastores/{ds}/volumes/{vol}")
    @Allowed(Role.OPERATOR)
    public Response resize(@PathParam("ds") String ds, @PathParam("vol") String vol,
            @HeaderParam("If-Match") String ifMatch, Requests.VolumeUpdate body) {
        VolumeRef ref = Params.volume(ds, vol);
        long size = required(required(body, "body").size(), "size");
        ETags.check(ifMatch, etag(s.volumes().info(ref)), "volume " + ref);
        return ok(s.volumes().resize(ref, size));
    }

    @DELETE
    @Path("datastores/{ds}/volumes/{vol}")
    @Allowed(Role.OPERATOR)
    public Response delete(@PathParam("ds") String ds, @PathParam("vol") String vol,
            @HeaderParam("If-Match") String ifMatch) {
        VolumeRef ref = Params.volume(ds, vol);
        if (ifMatch != null) {
            ETags.check(ifMatch, etag(s.volumes().info(ref)), "volume " + ref);
        }
        s.volumes().delete(ref);
        return Response.noContent().build();
    }

    @POST
    @Path("datastores/{ds}/volumes/{vol}/clone")
    @Allowed(Role.OPERATOR)
    public Response cloneVolume(@PathParam("ds") String ds, @PathParam("vol") String vol,
            @HeaderParam(IDEMPOTENCY_KEY) String key, @Context HttpServletRequest ctx, Requests.VolumeClone body) {
        VolumeRef from = Params.volume(ds, vol);
        Requests.VolumeClone b = required(body, "body");
        VolumeRef to = Params.volume(b.datastore() == null ? ds : b.datastore(), required(b.name(), "name"));
        if (b.snapshot() != null) {
            Params.name("snapshot", b.snapshot());
        }
        var prov = Params.provisioning(b.provisioning());
        return idempotency.run(user(ctx), key, Idempotency.fingerprint("POST " + from + "/clone", b), () -> {
            if (flag(b.linked())) {
                VolumeInfo v = s.volumes().clone(from, b.snapshot(), to, true, b.format(), prov);
                return Response.created(location(to)).entity(v).tag(unquoted(etag(v))).build();
            }
            return tasks.start("volume-clone", from + " -> " + to, c -> {
                c.checkCancel();
                return s.volumes().clone(from, b.snapshot(), to, false, b.format(), prov);
            }, v -> "cloned to " + to);
        });
    }

    @POST
    @Path("datastores/{ds}/imports")
    @Allowed(Role.OPERATOR)
    public Response importImage(@PathParam("ds") String ds, @HeaderParam(IDEMPOTENCY_KEY) String key,
            @Context HttpServletRequest ctx, Requests.VolumeImport body) {
        Requests.VolumeImport b = required(body, "body");
        VolumeRef ref = Params.volume(ds, required(b.name(), "name"));
        String sourceDs = Params.name("datastore", b.sourceDatastore() == null ? ds : b.sourceDatastore());
        java.nio.file.Path source = fileOn(sourceDs, required(b.file(), "file"));
        return idempotency.run(user(ctx), key, Idempotency.fingerprint("POST " + ref + "/import", b), () ->
                tasks.start("volume-import", ref.toString(), c -> {
                    c.checkCancel();
                    return s.volumes().importImage(ref, source, b.format(), b.parent());
                }, v -> "imported " + ref + " from " + sourceDs + ":" + b.file()));
    }

    @POST
    @Path("datastores/{ds}/mappings")
    @Allowed(Role.ADMIN)
    public Response mapDevice(@PathParam("ds") String ds, @HeaderParam(IDEMPOTENCY_KEY) String key,
            @Context HttpServletRequest ctx, Requests.VolumeMap body) {
        Requests.VolumeMap b = required(body, "body");
        VolumeRef ref = Params.volume(ds, required(b.name(), "name"));
        String resource = Params.name("resource", required(b.resource(), "resource"));
        String device = required(b.device(), "device");
        return idempotency.run(user(ctx), key, Idempotency.fingerprint("POST " + ref + "/map", b), () -> {
            VolumeInfo v = s.volumes().mapDevice(ref, resource, device);
            return Response.created(location(ref)).entity(v).tag(unquoted(etag(v))).build();
        });
    }

    /** The file {@code relative} inside datastore {@code ds}'s directory; never outside it. */
    private java.nio.file.Path fileOn(String ds, String relative) {
        DatastoreInfo d = s.datastores().info(ds);
        if (d.path() == null || d.path().isEmpty()) {
            throw new StorageException(ErrorCode.UNSUPPORTED, "datastore '" + ds
                    + "' has no directory on this host to import from");
        }
        if (relative.isEmpty() || relative.startsWith("/") || relative.chars().anyMatch(Character::isISOControl)) {
            throw new StorageException(ErrorCode.INVALID_NAME, "the file must be a path relative to the datastore, "
                    + "without control characters");
        }
        for (String part : relative.split("/")) {
            if (part.equals("..")) {
                throw new StorageException(ErrorCode.INVALID_NAME, "the file must not contain '..'");
            }
        }
        java.nio.file.Path root = java.nio.file.Path.of(d.path());
        java.nio.file.Path f = root.resolve(relative).normalize();
        try {
            java.nio.file.Path realRoot = root.toRealPath();
            java.nio.file.Path real = f.toRealPath();
            if (!real.startsWith(realRoot) || !Files.isRegularFile(real)) {
                throw new StorageException(ErrorCode.INVALID_NAME, "'" + relative + "' is not a file inside datastore '"
                        + ds + "'");
            }
            return real;
        } catch (java.io.IOException e) {
            throw new StorageException(ErrorCode.FILE_NOT_FOUND, "no file '" + relative + "' on datastore '" + ds + "'");
        }
    }

    @POST
    @Path("datastores/{ds}/volumes/{vol}/reclaim")
    @Allowed(Role.OPERATOR)
    public Response reclaim(@PathParam("ds") String ds, @PathParam("vol") String vol) {
        VolumeRef ref = Params.volume(ds, vol);
        s.volumes().info(ref);
        return tasks.start("volume-reclaim", ref.toString(), c -> {
            c.checkCancel();
            return Map.of("freedBytes", s.volumes().reclaim(ref));
        }, r -> "freed " + r.get("freedBytes") + " bytes");
    }

    @POST
    @Path("datastores/{ds}/volumes/{vol}/check")
    @Allowed(Role.OPERATOR)
    public Response check(@PathParam("ds") String ds, @PathParam("vol") String vol, Requests.VolumeCheck body) {
        VolumeRef ref = Params.volume(ds, vol);
        boolean repair = body != null && flag(body.repair());
        s.volumes().info(ref);
        return tasks.start("volume-check", ref.toString(), c -> {
            c.checkCancel();
            return s.volumes().check(ref, repair);
        }, VolumeApi::summary);
    }

    static String summary(List<CheckReport> reports) {
        int errors = 0;
        int leaks = 0;
        int repaired = 0;
        for (CheckReport r : reports) {
            errors += r.errors().size();
            leaks += r.leaks().size();
            repaired += r.repaired().size();
        }
        return reports.size() + " images: " + errors + " errors, " + leaks + " leaks, " + repaired + " repaired";
    }

    @GET
    @Path("datastores/{ds}/volumes/{vol}/usage")
    @Allowed(Role.VIEWER)
    public Object usage(@PathParam("ds") String ds, @PathParam("vol") String vol) {
        return s.volumes().usage(Params.volume(ds, vol));
    }

    @GET
    @Path("datastores/{ds}/volumes/{vol}/stats")
    @Allowed(Role.VIEWER)
    public VolumeStats stats(@PathParam("ds") String ds, @PathParam("vol") String vol) {
        return s.io().stats(Params.volume(ds, vol));
    }

    @DELETE
    @Path("datastores/{ds}/volumes/{vol}/stats")
    @Allowed(Role.OPERATOR)
    public Response resetStats(@PathParam("ds") String ds, @PathParam("vol") String vol) {
        s.io().reset(Params.volume(ds, vol));
        return Response.noContent().build();
    }

    @GET
    @Path("stats")
    @Allowed(Role.VIEWER)
    public List<VolumeStats> allStats() {
        return s.io().all();
    }

    static String etag(QosLimits q) {
        return ETags.of("qos", q.iops(), q.readIops(), q.writeIops(), q.bps(), q.burstSeconds());
    }

    @GET
    @Path("datastores/{ds}/volumes/{vol}/qos")
    @Allowed(Role.VIEWER)
    public Response qos(@PathParam("ds") String ds, @PathParam("vol") String vol) {
        QosLimits q = s.io().qos(Params.volume(ds, vol));
        return Response.ok(q).tag(unquoted(etag(q))).build();
    }

    @PUT
    @Path("datastores/{ds}/volumes/{vol}/qos")
    @Allowed(Role.OPERATOR)
    public Response setQos(@PathParam("ds") String ds, @PathParam("vol") String vol,
            @HeaderParam("If-Match") String ifMatch, Requests.QosUpdate body) {
        VolumeRef ref = Params.volume(ds, vol);
        Requests.QosUpdate b = required(body, "body");
        ETags.check(ifMatch, etag(s.io().qos(ref)), "QoS of " + ref);
        QosLimits q;
        try {
            q = new QosLimits(zero(b.iops()), zero(b.readIops()), zero(b.writeIops()), zero(b.bps()),
                    b.burstSeconds() == null ? QosLimits.NONE.burstSeconds() : b.burstSeconds());
        } catch (IllegalArgumentException e) {
            throw ApiException.badRequest(e.getMessage());
        }
        s.io().setQos(ref, q);
        QosLimits now = s.io().qos(ref);
        return Response.ok(now).tag(unquoted(etag(now))).build();
    }

    private static long zero(Long v) {
        return v == null ? 0 : v;
    }

    @GET
    @Path("datastores/{ds}/volumes/{vol}/snapshots")
    @Allowed(Role.VIEWER)
    public List<SnapshotInfo> snapshots(@PathParam("ds") String ds, @PathParam("vol") String vol) {
        return s.snapshots().list(Params.volume(ds, vol));
    }

    @POST
    @Path("datastores/{ds}/volumes/{vol}/snapshots")
    @Allowed(Role.OPERATOR)
    public Response snapshot(@PathParam("ds") String ds, @PathParam("vol") String vol,
            @HeaderParam(IDEMPOTENCY_KEY) String key, @Context HttpServletRequest ctx,
            Requests.SnapshotCreate body) {
        VolumeRef ref = Params.volume(ds, vol);
        String name = Params.name("snapshot", required(required(body, "body").name(), "name"));
        return idempotency.run(user(ctx), key, Idempotency.fingerprint("POST " + ref + "@", body), () -> {
            SnapshotInfo snap = s.snapshots().create(ref, name);
            return Response.created(URI.create(location(ref) + "/snapshots/" + name)).entity(snap).build();
        });
    }

    @GET
    @Path("datastores/{ds}/volumes/{vol}/snapshots/{snap}")
    @Allowed(Role.VIEWER)
    public SnapshotInfo snapshotInfo(@PathParam("ds") String ds, @PathParam("vol") String vol,
            @PathParam("snap") String snap) {
        VolumeRef ref = Params.volume(ds, vol);
        Params.name("snapshot", snap);
        for (SnapshotInfo i : s.snapshots().list(ref)) {
            if (i.name().equals(snap)) {
                return i;
            }
        }
        throw new StorageException(ErrorCode.SNAPSHOT_NOT_FOUND, "volume " + ref + " has no snapshot '" + snap + "'");
    }

    @POST
    @Path("datastores/{ds}/volumes/{vol}/snapshots/{snap}/revert")
    @Allowed(Role.OPERATOR)
    public Response revert(@PathParam("ds") String ds, @PathParam("vol") String vol, @PathParam("snap") String snap) {
        VolumeRef ref = Params.volume(ds, vol);
        s.snapshots().revert(ref, Params.name("snapshot", snap));
        return ok(s.volumes().info(ref));
    }

    @DELETE
    @Path("datastores/{ds}/volumes/{vol}/snapshots/{snap}")
    @Allowed(Role.OPERATOR)
    public Response deleteSnapshot(@PathParam("ds") String ds, @PathParam("vol") String vol,
            @PathParam("snap") String snap) {
        VolumeRef ref = Params.volume(ds, vol);
        var t = s.snapshots().delete(ref, Params.name("snapshot", snap));
        return Response.accepted(tasks.view(t)).location(URI.create("tasks/" + t.id())).build();
    }

    static String user(HttpServletRequest request) {
        Caller c = request == null ? null : (Caller) request.getAttribute(Filters.CALLER);
        return c == null ? "-" : c.user();
    }


    static javax.ws.rs.core.EntityTag unquoted(String tag) {
        return new javax.ws.rs.core.EntityTag(tag.replace("\"", ""));
    }
}

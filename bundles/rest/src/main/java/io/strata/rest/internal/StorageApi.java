package io.strata.rest.internal;

import static io.strata.rest.internal.Requests.flag;
import static io.strata.rest.internal.Requests.required;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.device.DeviceInfo;
import io.strata.api.service.DatastoreInfo;
import io.strata.api.service.ExportInfo;
import io.strata.api.service.HostInfo;
import io.strata.api.service.PluginInfo;
import io.strata.api.service.ResourceInfo;
import io.strata.api.service.ResourcePath;
import java.net.URI;
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

/** The host, drivers, resources with their devices and paths, datastores and exports. */
@Path("/")
@Produces(MediaType.APPLICATION_JSON)
@Consumes(MediaType.APPLICATION_JSON)
public final class StorageApi {
    private final Services s;
    private final TaskResults tasks;
    private final Idempotency idempotency;

    StorageApi(Services services, TaskResults tasks, Idempotency idempotency) {
        this.s = services;
        this.tasks = tasks;
        this.idempotency = idempotency;
    }

    @GET
    @Path("host")
    @Allowed(Role.VIEWER)
    public HostInfo host() {
        return s.host().host();
    }

    @GET
    @Path("drivers")
    @Allowed(Role.VIEWER)
    public List<PluginInfo> drivers() {
        return s.resources().plugins();
    }

    // ---- resources

    static String etag(ResourceInfo r) {
        return ETags.of("resource", r.name(), r.driver(), new java.util.TreeMap<>(r.parameters()));
    }

    private static Response ok(ResourceInfo r) {
        return Response.ok(shown(r)).tag(VolumeApi.unquoted(etag(r))).build();
    }

    /** A resource as answered: parameters that hold secrets (CHAP secrets, passwords) masked. */
    static ResourceInfo shown(ResourceInfo r) {
        return new ResourceInfo(r.name(), r.driver(), r.shownParameters(), r.state(), r.message());
    }

    @GET
    @Path("resources")
    @Allowed(Role.VIEWER)
    public List<ResourceInfo> resources() {
        return s.resources().resources().stream().map(StorageApi::shown).toList();
    }

    @POST
    @Path("resources")
    @Allowed(Role.ADMIN)
    public Response addResource(@HeaderParam(VolumeApi.IDEMPOTENCY_KEY) String key,
            @Context HttpServletRequest ctx, Requests.ResourceCreate body) {
        Requests.ResourceCreate b = required(body, "body");
        String name = Params.name("resource", required(b.name(), "name"));
        String driver = required(b.driver(), "driver");
        return idempotency.run(VolumeApi.user(ctx), key, Idempotency.fingerprint("POST resources", b), () -> {
            ResourceInfo r = s.resources().add(name, driver, b.parameters() == null ? Map.of() : b.parameters());
            return Response.created(URI.create("resources/" + name)).entity(shown(r))
                    .tag(VolumeApi.unquoted(etag(r))).build();
        });
    }

    @GET
    @Path("resources/{res}")
    @Allowed(Role.VIEWER)
    public Response resource(@PathParam("res") String res) {
        return ok(s.resources().resource(Params.name("resource", res)));
    }

    @PATCH
    @Path("resources/{res}")
    @Allowed(Role.ADMIN)
    public Response updateResource(@PathParam("res") String res, @HeaderParam("If-Match") String ifMatch,
            Requests.ResourceUpdate body) {
        String name = Params.name("resource", res);
        Map<String, String> changes = required(required(body, "body").parameters(), "parameters");
        ETags.check(ifMatch, etag(s.resources().resource(name)), "resource " + name);
        return ok(s.resources().update(name, changes));
    }

    @DELETE
    @Path("resources/{res}")
    @Allowed(Role.ADMIN)
    public Response removeResource(@PathParam("res") String res, @HeaderParam("If-Match") String ifMatch) {
        String name = Params.name("resource", res);
        if (ifMatch != null) {
            ETags.check(ifMatch, etag(s.resources().resource(name)), "resource " + name);
        }
        s.resources().remove(name);
        return Response.noContent().build();
    }

    @GET
    @Path("resources/{res}/devices")
    @Allowed(Role.VIEWER)
    public List<DeviceInfo> devices(@PathParam("res") String res) {
        return s.resources().devices(Params.name("resource", res));
    }

    @GET
    @Path("resources/{res}/paths")
    @Allowed(Role.VIEWER)
    public List<ResourcePath> paths(@PathParam("res") String res, @QueryParam("device") String device) {
        return s.resources().paths(Params.name("resource", res), device == null || device.isEmpty() ? null : device);
    }

    @PUT
    @Path("resources/{res}/paths/{path}")
    @Allowed(Role.ADMIN)
    public List<ResourcePath> setPath(@PathParam("res") String res, @PathParam("path") String path,
            Requests.PathUpdate body) {
        String name = Params.name("resource", res);
        if (path.isEmpty() || path.chars().anyMatch(Character::isISOControl)) {
            throw new StorageException(ErrorCode.INVALID_NAME, "a path id has no control characters");
        }
        s.resources().setPathEnabled(name, path, required(required(body, "body").enabled(), "enabled"));
        return s.resources().paths(name, null);
    }

    // ---- datastores

    static String etag(DatastoreInfo d) {
        return ETags.of("datastore", d.name(), d.filesystem(), d.device(), new java.util.TreeMap<>(d.options()));
    }

    @GET
    @Path("datastores")
    @Allowed(Role.VIEWER)
    public List<DatastoreInfo> datastores() {
        return s.datastores().list();
    }

    @POST
    @Path("datastores")
    @Allowed(Role.ADMIN)
    public Response createDatastore(@HeaderParam(VolumeApi.IDEMPOTENCY_KEY) String key,
            @Context HttpServletRequest ctx, Requests.DatastoreCreate body) {
        Requests.DatastoreCreate b = required(body, "body");
        String name = Params.name("datastore", required(b.name(), "name"));
        String fs = required(b.filesystem(), "filesystem");
        return idempotency.run(VolumeApi.user(ctx), key, Idempotency.fingerprint("POST datastores", b), () -> {
            DatastoreInfo d = s.datastores().create(name, fs, b.device(),
                    b.options() == null ? Map.of() : b.options(), flag(b.force()));
            return Response.created(URI.create("datastores/" + name)).entity(d)
                    .tag(VolumeApi.unquoted(etag(d))).build();
        });
    }

    @GET
    @Path("datastores/{ds}")
    @Allowed(Role.VIEWER)
    public Response datastore(@PathParam("ds") String ds) {
        DatastoreInfo d = s.datastores().info(Params.name("datastore", ds));
        return Response.ok(d).tag(VolumeApi.unquoted(etag(d))).build();
    }

    @DELETE
    @Path("datastores/{ds}")
    @Allowed(Role.ADMIN)
    public Response removeDatastore(@PathParam("ds") String ds, @HeaderParam("If-Match") String ifMatch) {
        String name = Params.name("datastore", ds);
        if (ifMatch != null) {
            ETags.check(ifMatch, etag(s.datastores().info(name)), "datastore " + name);
        }
        s.datastores().remove(name);
        return Response.noContent().build();
    }

    @POST
    @Path("datastores/{ds}/grow")
    @Allowed(Role.ADMIN)
    public DatastoreInfo grow(@PathParam("ds") String ds) {
        return s.datastores().grow(Params.name("datastore", ds));
    }

    @POST
    @Path("datastores/{ds}/check")
    @Allowed(Role.ADMIN)
    public Response checkDatastore(@PathParam("ds") String ds, Requests.DatastoreCheck body) {
        String name = Params.name("datastore", ds);
        boolean repair = body != null && flag(body.repair());
        s.datastores().info(name);
        return tasks.start("datastore-check", name, c -> {
            c.checkCancel();
            return s.datastores().check(name, repair);
        }, r -> r.errors().size() + " errors, " + r.leaks().size() + " leaks, " + r.repaired().size() + " repaired");
    }

    // ---- exports

    static String etag(ExportInfo e) {
        return ETags.of("export", e.name(), e.volume(), e.readOnly(), e.tlsRequired());
    }

    @GET
    @Path("exports")
    @Allowed(Role.VIEWER)
    public List<ExportInfo> exports() {
        return s.exports().list();
    }

    @POST
    @Path("exports")
    @Allowed(Role.OPERATOR)
    public Response addExport(@HeaderParam(VolumeApi.IDEMPOTENCY_KEY) String key,
            @Context HttpServletRequest ctx, Requests.ExportCreate body) {
        Requests.ExportCreate b = required(body, "body");
        var ref = Params.volume(required(b.datastore(), "datastore"), required(b.volume(), "volume"));
        String name = Params.name("export", b.name() == null ? ref.volume() : b.name());
        return idempotency.run(VolumeApi.user(ctx), key, Idempotency.fingerprint("POST exports", b), () -> {
            ExportInfo e = s.exports().add(ref, name, flag(b.readOnly()), flag(b.tlsRequired()));
            return Response.created(URI.create("exports/" + name)).entity(e)
                    .tag(VolumeApi.unquoted(etag(e))).build();
        });
    }

    @GET
    @Path("exports/{name}")
    @Allowed(Role.VIEWER)
    public Response export(@PathParam("name") String name) {
        ExportInfo e = s.exports().info(Params.name("export", name));
        return Response.ok(e).tag(VolumeApi.unquoted(etag(e))).build();
    }

    @DELETE
    @Path("exports/{name}")
    @Allowed(Role.OPERATOR)
    public Response removeExport(@PathParam("name") String name, @QueryParam("force") String force,
            @HeaderParam("If-Match") String ifMatch) {
        String n = Params.name("export", name);
        if (ifMatch != null) {
            ETags.check(ifMatch, etag(s.exports().info(n)), "export " + n);
        }
        s.exports().remove(n, "true".equalsIgnoreCase(force));
        return Response.noContent().build();
    }

}

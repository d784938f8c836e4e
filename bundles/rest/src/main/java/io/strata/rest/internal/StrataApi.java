package io.strata.rest.internal;

import io.strata.api.service.DatastoreService;
import io.strata.api.service.ExportService;
import io.strata.api.service.HostService;
import io.strata.api.service.ResourceService;
import io.strata.api.service.SnapshotService;
import io.strata.api.service.TaskService;
import io.strata.api.service.VolumeIoService;
import io.strata.api.service.VolumeService;
import java.time.Clock;
import java.util.Set;
import javax.ws.rs.core.Application;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.component.annotations.ReferencePolicyOption;

/**
 * The API as one JAX-RS application on the OSGi JAX-RS Whiteboard, at {@code /api/v1} of
 * Karaf's HTTP service. It lives while the core's services do; exports follow the NBD
 * feature, which may come and go on its own.
 */
@Component(service = Application.class, property = {
    "osgi.jaxrs.application.base=/api/v1",
    "osgi.jaxrs.name=strata"
})
public final class StrataApi extends Application {
    private final Set<Object> singletons;
    private final EventHub events;

    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    private volatile ExportService exports;

    @Activate
    public StrataApi(@Reference RestSecurity security, @Reference ResourceService resources,
            @Reference DatastoreService datastores, @Reference VolumeService volumes,
            @Reference SnapshotService snapshots, @Reference TaskService tasks, @Reference HostService host,
            @Reference VolumeIoService io) {
        Services s = new Services(resources, datastores, volumes, snapshots, tasks, host, io, () -> exports);
        RestConfig c = security.config();
        Clock clock = Clock.systemUTC();
        TaskResults results = new TaskResults(tasks);
        Idempotency idempotency = new Idempotency(c.idempotency_seconds() * 1000L, System::currentTimeMillis);
        events = new EventHub(s, clock, c.events_period_ms());
        singletons = Set.of(
                new JsonBody(Json.mapper(), c.max_body_bytes()),
                new ErrorMapper(),
                new Filters.Authenticate(security.authenticator(), c.max_body_bytes()),
                new Filters.Authorize(),
                new Filters.Audit(security.auditLog(), clock),
                new StorageApi(s, results, idempotency),
                new VolumeApi(s, results, idempotency),
                new TaskApi(s, results, events),
                new SecurityApi(security),
                new OpenApiDoc(),
                new MetricsApi(new io.strata.rest.internal.metrics.StrataMetrics(io, datastores, resources, host)));
    }

    @Deactivate
    void close() {
        events.close();
    }

    @Override
    public Set<Object> getSingletons() {
        return singletons;
    }
}

package io.strata.rest.internal;

import io.strata.rest.internal.metrics.StrataMetrics;
import javax.ws.rs.GET;
import javax.ws.rs.Path;
import javax.ws.rs.core.Response;
import javax.ws.rs.core.StreamingOutput;

/**
 * Prometheus' scrape target, {@code GET /api/v1/metrics}, for a viewer (a Prometheus job
 * with an API token as its bearer credentials). See {@code METRICS.md} for the names.
 */
@Path("/")
public final class MetricsApi {
    private final StrataMetrics metrics;

    MetricsApi(StrataMetrics metrics) {
        this.metrics = metrics;
    }

    @GET
    @Path("metrics")
    @Allowed(Role.VIEWER)
    public Response scrape() {
        StreamingOutput body = metrics::write;
        return Response.ok(body, metrics.contentType()).build();
    }
}

package io.strata.core.internal;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/** PID {@code io.strata.metrics}: the Prometheus text endpoint. */
@ObjectClassDefinition(name = "Strata metrics endpoint", description = "Per-volume I/O metrics in Prometheus text format")
public @interface MetricsConfig {
    @AttributeDefinition(name = "Enabled")
    boolean enabled() default true;

    @AttributeDefinition(name = "Address", description = "Address to listen on (no authentication: keep it host-local)")
    String address() default "127.0.0.1";

    @AttributeDefinition(name = "Port", description = "TCP port; GET /metrics")
    int port() default 9464;
}

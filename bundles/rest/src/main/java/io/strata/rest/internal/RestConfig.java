package io.strata.rest.internal;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/**
 * Settings of the REST API (PID {@code io.strata.rest}). Where the API listens (address,
 * port, TLS) is Karaf's HTTP service's setting, PID {@code org.ops4j.pax.web}.
 */
@ObjectClassDefinition(name = "Strata REST API", description = "Authentication, limits and audit of the management API")
public @interface RestConfig {
    @AttributeDefinition(description = "JAAS realm that checks user names and passwords")
    String realm() default "karaf";

    @AttributeDefinition(description = "Largest request body in bytes; larger ones are refused with 413")
    long max_body_bytes() default 1_048_576;

    @AttributeDefinition(description = "Failed logins from one client address within login.window.seconds "
            + "after which it is refused with 429 until the window has passed")
    int login_max_failures() default 5;

    @AttributeDefinition(description = "The window of login.max.failures, in seconds")
    int login_window_seconds() default 60;

    @AttributeDefinition(description = "How long a successful password login is remembered, in seconds (0: never)")
    int login_cache_seconds() default 10;

    @AttributeDefinition(description = "How long an Idempotency-Key's answer is kept, in seconds")
    int idempotency_seconds() default 86_400;

    @AttributeDefinition(description = "Directory of the token file and the audit log; "
            + "empty: ${karaf.data}/strata/rest")
    String dir() default "";

    @AttributeDefinition(description = "Size at which audit.log is rotated, in bytes")
    long audit_max_bytes() default 10_485_760;

    @AttributeDefinition(description = "Rotated audit logs kept")
    int audit_keep() default 10;

    @AttributeDefinition(description = "How often the event stream compares states, in milliseconds")
    long events_period_ms() default 1000;
}

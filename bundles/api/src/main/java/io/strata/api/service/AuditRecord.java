package io.strata.api.service;

import java.time.Instant;

/**
 * One entry of the management API's audit log: when, who and how they proved it
 * ({@code password}, {@code token:<id>}, {@code shell}), from where, the action (method and
 * route, or the shell command), its target, the HTTP status and the result ({@code OK} or
 * an error code).
 *
 * @since 1.4
 */
public record AuditRecord(Instant time, String user, String via, String client, String action, String target,
        int status, String result) {
}

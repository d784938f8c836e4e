package io.strata.rest.internal.security;

import java.time.Instant;

/**
 * One line of the audit log: when, who (user and how they proved it), from where, what was
 * asked (action and target), and how it ended (HTTP status and result code, {@code OK} for
 * success).
 */
public record AuditEntry(Instant time, String user, String via, String client, String action, String target,
        int status, String result) {
}

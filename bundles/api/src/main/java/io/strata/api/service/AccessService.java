package io.strata.api.service;

import io.strata.api.StorageException;
import java.util.List;
import org.osgi.annotation.versioning.ProviderType;

/**
 * Who may use the management API: its API tokens and its audit log. Provided by the REST
 * bundle; the shell's {@code storage:token-*} and {@code storage:audit-list} commands use it.
 *
 * @since 1.4
 */
@ProviderType
public interface AccessService {
    /**
     * Makes a token; its secret is in the answer only.
     *
     * @param role {@code viewer}, {@code operator} or {@code admin}
     * @param expires {@code 90d}, {@code 12h}, {@code 30m}, {@code 3600s}, an ISO instant, or
     *        null or {@code never}
     * @param actor who asks, for the audit log
     * @throws StorageException {@code INVALID_ARGUMENT} for an unknown role or expiry, {@code INVALID_NAME}
     */
    NewApiToken createToken(String user, String role, String expires, String description, String actor);

    /** @return every token, oldest first, without secrets */
    List<ApiTokenInfo> tokens();

    /**
     * Revokes a token at once.
     *
     * @throws StorageException {@code INVALID_ARGUMENT} for an unknown id
     */
    ApiTokenInfo revokeToken(String id, String actor);

    /**
     * @param user only this user's entries, or null
     * @param deniedOnly only refused requests (401, 403, 429)
     * @return the newest {@code limit} matching entries, oldest first
     */
    List<AuditRecord> audit(int limit, String user, boolean deniedOnly);
}

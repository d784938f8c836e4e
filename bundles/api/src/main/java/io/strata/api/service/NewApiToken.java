package io.strata.api.service;

/**
 * A token just made, with the secret text its holder sends as {@code Authorization: Bearer};
 * Strata keeps only a hash of it.
 *
 * @since 1.4
 */
public record NewApiToken(ApiTokenInfo token, String secret) {
}

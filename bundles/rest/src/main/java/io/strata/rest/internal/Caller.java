package io.strata.rest.internal;

/**
 * Who sent a request: the user, the role the request acts with, how the caller proved it
 * ({@code password} or {@code token:<id>}) and the client's address.
 */
public record Caller(String user, Role role, String via, String address) {
}

package io.strata.rest.internal.security;

import java.util.Set;

/** Checks a user's password and names the user's roles; JAAS in Karaf, a map in tests. */
@FunctionalInterface
public interface PasswordCheck {
    /** @return the user's role names, or null when the user or password is wrong */
    Set<String> login(String user, char[] password);
}

package io.strata.api.service;

import static java.util.Objects.requireNonNull;

import java.util.Map;

/**
 * A configured storage resource.
 *
 * @param name the user-given name
 * @param driver the driver type
 * @param parameters the parameters given to the driver
 * @param state whether it is attached
 * @param message why it is unavailable, or empty
 */
public record ResourceInfo(String name, String driver, Map<String, String> parameters, Availability state,
        String message) {
    /** Checks the components and copies the map. */
    public ResourceInfo {
        requireNonNull(name, "name");
        requireNonNull(driver, "driver");
        requireNonNull(state, "state");
        requireNonNull(message, "message");
        parameters = Map.copyOf(parameters);
    }
    /**
     * Whether a driver parameter holds a secret (a CHAP secret, a password): such values
     * are kept in the host configuration but never printed or logged. A parameter is
     * secret when its name ends with {@code secret} or {@code password}.
     *
     * @param parameter a parameter name
     * @return true when its value must not be shown
     * @since 1.4
     */
    public static boolean isSecret(String parameter) {
        String p = parameter.toLowerCase(java.util.Locale.ROOT);
        return p.endsWith("secret") || p.endsWith("password");
    }

    /**
     * @return the parameters with every secret value replaced by {@code ********}, for
     *         display and logs
     * @since 1.4
     */
    public Map<String, String> shownParameters() {
        java.util.TreeMap<String, String> shown = new java.util.TreeMap<>(parameters);
        shown.replaceAll((k, v) -> isSecret(k) ? "********" : v);
        return java.util.Collections.unmodifiableMap(shown);
    }

    @Override
    public String toString() {
        return "ResourceInfo[name=" + name + ", driver=" + driver + ", parameters=" + shownParameters()
                + ", state=" + state + ", message=" + message + "]";
    }
}

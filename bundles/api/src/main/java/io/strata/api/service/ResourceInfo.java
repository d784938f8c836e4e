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
}

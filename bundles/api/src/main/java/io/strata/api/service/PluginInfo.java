package io.strata.api.service;

import static java.util.Objects.requireNonNull;

import io.strata.api.Capability;
import java.util.Set;

/**
 * An installed driver, filesystem layer or disk format.
 *
 * @param kind what it is
 * @param type its type key
 * @param description one line
 * @param capabilities what it declares
 * @param bundle the symbolic name of the bundle that provides it
 */
public record PluginInfo(PluginKind kind, String type, String description, Set<Capability> capabilities,
        String bundle) {
    /** Checks the components and copies the set. */
    public PluginInfo {
        requireNonNull(kind, "kind");
        requireNonNull(type, "type");
        requireNonNull(description, "description");
        requireNonNull(bundle, "bundle");
        capabilities = Set.copyOf(capabilities);
    }
}

package io.strata.core.internal;

import io.strata.api.service.PluginInfo;
import java.util.ArrayList;
import java.util.List;

/**
 * The bound services of one plugin kind, as an immutable list replaced on every
 * bind and unbind, so readers never lock. When two services declare the same
 * type, the first bound one is used until it goes away.
 *
 * @param <T> the service type
 */
final class PluginSet<T> {
    /** A bound service with what was learnt about it at bind time. */
    record Bound<T>(T service, PluginInfo info) {
        String type() {
            return info.type();
        }
    }

    private volatile List<Bound<T>> bound = List.of();

    synchronized void add(T service, PluginInfo info) {
        if (bound.stream().anyMatch(b -> b.service() == service)) {
            return; // bound already: DS never does this, but a repeated bind must not count twice
        }
        List<Bound<T>> list = new ArrayList<>(bound);
        list.add(new Bound<>(service, info));
        bound = List.copyOf(list);
    }

    /** @return what was removed, or null when the service was not bound */
    synchronized Bound<T> remove(T service) {
        List<Bound<T>> list = new ArrayList<>(bound);
        for (int i = 0; i < list.size(); i++) {
            if (list.get(i).service() == service) {
                Bound<T> b = list.remove(i);
                bound = List.copyOf(list);
                return b;
            }
        }
        return null;
    }

    /** @return the service used for the type, or null */
    T get(String type) {
        for (Bound<T> b : bound) {
            if (b.type().equals(type)) {
                return b.service();
            }
        }
        return null;
    }

    /** @return whether the service is the one used for its type */
    boolean isCurrent(T service, String type) {
        return get(type) == service;
    }

    List<Bound<T>> all() {
        return bound;
    }
}

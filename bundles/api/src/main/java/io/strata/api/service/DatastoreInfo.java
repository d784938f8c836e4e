package io.strata.api.service;

import static java.util.Objects.requireNonNull;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A configured datastore and its space accounting.
 *
 * @param name the datastore name
 * @param filesystem the filesystem layer type
 * @param device the device it lives on, as {@code resource/device}
 * @param state whether it is mounted
 * @param message why it is unavailable, or empty
 * @param capacity total bytes (0 while unavailable)
 * @param free free bytes (0 while unavailable)
 * @param provisioned the sum of the virtual sizes of its volumes
 * @param allocated bytes its volumes occupy
 * @param volumes the number of volumes
 * @param path the local directory holding its files, or empty when it has none
 * @param options the options it was created with
 * @param details facts of its filesystem layer for people, in the layer's display order
 *        ({@link io.strata.api.fs.Datastore#details()}); empty while it is not mounted; since 1.4
 */
public record DatastoreInfo(String name, String filesystem, String device, Availability state, String message,
        long capacity, long free, long provisioned, long allocated, int volumes, String path,
        Map<String, String> options, Map<String, String> details) {
    /** Checks the components and copies the maps ({@code details} keeping its order; null is empty). */
    public DatastoreInfo {
        requireNonNull(name, "name");
        requireNonNull(filesystem, "filesystem");
        requireNonNull(device, "device");
        requireNonNull(state, "state");
        requireNonNull(message, "message");
        requireNonNull(path, "path");
        options = Map.copyOf(options);
        details = ordered(details);
    }

    /**
     * A datastore without layer details, the constructor of 1.3.
     *
     * @param name the datastore name
     * @param filesystem the filesystem layer type
     * @param device the device it lives on, as {@code resource/device}
     * @param state whether it is mounted
     * @param message why it is unavailable, or empty
     * @param capacity total bytes (0 while unavailable)
     * @param free free bytes (0 while unavailable)
     * @param provisioned the sum of the virtual sizes of its volumes
     * @param allocated bytes its volumes occupy
     * @param volumes the number of volumes
     * @param path the local directory holding its files, or empty when it has none
     * @param options the options it was created with
     */
    public DatastoreInfo(String name, String filesystem, String device, Availability state, String message,
            long capacity, long free, long provisioned, long allocated, int volumes, String path,
            Map<String, String> options) {
        this(name, filesystem, device, state, message, capacity, free, provisioned, allocated, volumes, path, options,
                Map.of());
    }

    private static Map<String, String> ordered(Map<String, String> details) {
        if (details == null || details.isEmpty()) {
            return Map.of();
        }
        Map<String, String> copy = new LinkedHashMap<>();
        details.forEach((k, v) -> copy.put(requireNonNull(k, "details key"), requireNonNull(v, "details value")));
        return Collections.unmodifiableMap(copy);
    }

    /** @return provisioned divided by capacity; above 1.0 the datastore is overcommitted, 0 when capacity is unknown */
    public double overcommitRatio() {
        return capacity == 0 ? 0.0 : (double) provisioned / capacity;
    }
}

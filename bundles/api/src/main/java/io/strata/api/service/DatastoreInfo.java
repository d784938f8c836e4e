package io.strata.api.service;

import static java.util.Objects.requireNonNull;

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
 */
public record DatastoreInfo(String name, String filesystem, String device, Availability state, String message,
        long capacity, long free, long provisioned, long allocated, int volumes, String path,
        Map<String, String> options) {
    /** Checks the components and copies the map. */
    public DatastoreInfo {
        requireNonNull(name, "name");
        requireNonNull(filesystem, "filesystem");
        requireNonNull(device, "device");
        requireNonNull(state, "state");
        requireNonNull(message, "message");
        requireNonNull(path, "path");
        options = Map.copyOf(options);
    }

    /** @return provisioned divided by capacity; above 1.0 the datastore is overcommitted, 0 when capacity is unknown */
    public double overcommitRatio() {
        return capacity == 0 ? 0.0 : (double) provisioned / capacity;
    }
}

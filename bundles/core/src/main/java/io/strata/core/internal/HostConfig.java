package io.strata.core.internal;

import static java.util.Objects.requireNonNull;

import java.lang.reflect.Array;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The persisted form of resources and datastores and its conversion to and
 * from configuration properties. Parameters and options are stored as one
 * String[] of {@code key=value} so that Configuration Admin (which allows no
 * nested maps) keeps them in one property and their order is stable.
 */
final class HostConfig {
    static final String NAME = "name";
    static final String DRIVER = "driver";
    static final String PARAMETERS = "parameters";
    static final String FILESYSTEM = "filesystem";
    static final String DEVICE = "device";
    static final String OPTIONS = "options";

    private HostConfig() {
    }

    /** A configured resource. */
    record Resource(String name, String driver, Map<String, String> parameters) {
        Resource {
            requireNonNull(name, "name");
            requireNonNull(driver, "driver");
            parameters = Map.copyOf(parameters);
        }

        Map<String, Object> toProperties() {
            return Map.of(NAME, name, DRIVER, driver, PARAMETERS, pairs(parameters));
        }

        /** @return the parameters for logs and messages, secrets masked */
        Map<String, String> shown() {
            return new io.strata.api.service.ResourceInfo(name, driver, parameters,
                    io.strata.api.service.Availability.ONLINE, "").shownParameters();
        }

        static Resource fromProperties(Map<String, Object> p) {
            return new Resource(string(p, NAME), string(p, DRIVER), map(p.get(PARAMETERS)));
        }
    }

    /** A configured datastore on {@code resource/device}. */
    record Datastore(String name, String filesystem, String resource, String device, Map<String, String> options) {
        Datastore {
            requireNonNull(name, "name");
            requireNonNull(filesystem, "filesystem");
            requireNonNull(resource, "resource");
            requireNonNull(device, "device");
            options = Map.copyOf(options);
        }

        String deviceRef() {
            return resource + "/" + device;
        }

        Map<String, Object> toProperties() {
            return Map.of(NAME, name, FILESYSTEM, filesystem, DEVICE, deviceRef(), OPTIONS, pairs(options));
        }

        static Datastore fromProperties(Map<String, Object> p) {
            String ref = string(p, DEVICE);
            int slash = ref.indexOf('/');
            if (slash <= 0 || slash == ref.length() - 1) {
                throw new IllegalArgumentException("device '" + ref + "' is not resource/device");
            }
            return new Datastore(string(p, NAME), string(p, FILESYSTEM), ref.substring(0, slash),
                    ref.substring(slash + 1), map(p.get(OPTIONS)));
        }
    }

    static String[] pairs(Map<String, String> map) {
        return new TreeMap<>(map).entrySet().stream().map(e -> e.getKey() + "=" + e.getValue())
                .toArray(String[]::new);
    }

    /** Accepts a String[], a collection or a single string of {@code key=value} items. */
    static Map<String, String> map(Object value) {
        List<String> items = new ArrayList<>();
        if (value == null) {
            return Map.of();
        } else if (value.getClass().isArray()) {
            for (int i = 0; i < Array.getLength(value); i++) {
                items.add(String.valueOf(Array.get(value, i)));
            }
        } else if (value instanceof Collection<?> c) {
            c.forEach(o -> items.add(String.valueOf(o)));
        } else {
            // Hand-written: config:property-set stores one string, e.g. "kind=directory,path=/srv/x"
            // or what a String[] prints like, "[kind=directory, path=/srv/x]". Values cannot hold
            // commas in this form; the services always store a String[].
            String text = value.toString().trim();
            if (text.startsWith("[") && text.endsWith("]")) {
                text = text.substring(1, text.length() - 1);
            }
            for (String item : text.split(",")) {
                if (!item.isBlank()) {
                    items.add(item.trim());
                }
            }
        }
        Map<String, String> map = new TreeMap<>();
        for (String item : items) {
            int eq = item.indexOf('=');
            if (eq <= 0) {
                throw new IllegalArgumentException("'" + item + "' is not key=value");
            }
            map.put(item.substring(0, eq).trim(), item.substring(eq + 1));
        }
        return map;
    }

    private static String string(Map<String, Object> p, String key) {
        Object v = p.get(key);
        if (!(v instanceof String s) || s.isBlank()) {
            throw new IllegalArgumentException("property '" + key + "' is missing");
        }
        return s;
    }
}

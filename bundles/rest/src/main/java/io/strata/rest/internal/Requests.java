package io.strata.rest.internal;

import java.util.Map;

/**
 * Request bodies. Every field is named in the OpenAPI document; a field not listed here is
 * refused with 400 (see {@link Json}). Sizes are bytes; booleans left out are false.
 */
final class Requests {
    private Requests() {
    }

    record ResourceCreate(String name, String driver, Map<String, String> parameters) {
    }

    record ResourceUpdate(Map<String, String> parameters) {
    }

    record PathUpdate(Boolean enabled) {
    }

    record DatastoreCreate(String name, String filesystem, String device, Map<String, String> options,
            Boolean force) {
    }

    record DatastoreCheck(Boolean repair) {
    }

    record VolumeCreate(String name, Long size, String format, String provisioning) {
    }

    record VolumeUpdate(Long size) {
    }

    record VolumeClone(String name, String datastore, String snapshot, Boolean linked, String format,
            String provisioning) {
    }

    record VolumeCheck(Boolean repair) {
    }

    record VolumeImport(String name, String file, String sourceDatastore, String format, String parent) {
    }

    record VolumeMap(String name, String resource, String device) {
    }

    record SnapshotCreate(String name) {
    }

    record ExportCreate(String name, String datastore, String volume, Boolean readOnly, Boolean tlsRequired) {
    }

    record QosUpdate(Long iops, Long readIops, Long writeIops, Long bps, Double burstSeconds) {
    }

    record TokenCreate(String user, String role, String expires, String description) {
    }

    static <T> T required(T value, String field) {
        if (value == null) {
            throw new ApiException(400, ApiException.BAD_REQUEST, "the field '" + field + "' is required",
                    Map.of("field", field));
        }
        return value;
    }

    static boolean flag(Boolean value) {
        return value != null && value;
    }
}

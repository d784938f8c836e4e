package io.strata.rest.internal;

import io.strata.api.Names;
import io.strata.api.format.Provisioning;
import io.strata.api.service.VolumeRef;
import java.util.Locale;
import java.util.Map;

/** Checks of path and query parameters, answering 400 with the parameter's name. */
final class Params {
    private Params() {
    }

    static String name(String kind, String value) {
        return Names.check(kind, value);
    }

    static VolumeRef volume(String datastore, String volume) {
        return new VolumeRef(datastore, volume);
    }

    static Integer integer(String name, String value) {
        if (value == null || value.isEmpty()) {
            return null;
        }
        try {
            return Integer.valueOf(value);
        } catch (NumberFormatException e) {
            throw new ApiException(400, ApiException.BAD_REQUEST, "the parameter '" + name + "' must be a whole number",
                    Map.of("parameter", name));
        }
    }

    static Provisioning provisioning(String value) {
        return value == null ? null : Provisioning.parse(value);
    }

    static <E extends Enum<E>> E enumValue(Class<E> type, String parameter, String value) {
        if (value == null || value.isEmpty()) {
            return null;
        }
        try {
            return Enum.valueOf(type, value.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new ApiException(400, ApiException.BAD_REQUEST, "unknown " + parameter + " '"
                    + Names.printable(value) + "'", Map.of("parameter", parameter));
        }
    }
}

package io.strata.shell.internal;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.service.ExportInfo;
import io.strata.api.service.ExportService;

/**
 * The export commands' shared parts. Their {@link ExportService} reference is optional:
 * Karaf registers none of a bundle's commands until every required reference is there,
 * and the NBD server is a feature of its own, so without it these commands answer
 * UNSUPPORTED and the others stay.
 */
final class Exports {
    private Exports() {
    }

    static ExportService require(ExportService exports) {
        if (exports == null) {
            throw new StorageException(ErrorCode.UNSUPPORTED,
                    "the NBD server is not running: feature strata-nbd is not installed, or its configuration"
                            + " (etc/io.strata.nbd.cfg) was refused; the log says why");
        }
        return exports;
    }

    /** The {@code key: value} lines of one export. */
    static String info(ExportInfo e) {
        return "name: " + e.name() + "\n"
                + "volume: " + e.volume() + "\n"
                + "mode: " + (e.readOnly() ? "read-only" : "read-write") + "\n"
                + "uri: " + e.uri() + "\n"
                + (e.localUri().isEmpty() ? "" : "local-uri: " + e.localUri() + "\n")
                + (e.tlsRequired() ? "tls: required\n" : "")
                + "state: " + e.state() + "\n"
                + (e.message().isEmpty() ? "" : "message: " + e.message() + "\n")
                + "clients: " + String.join(",", e.clients()) + "\n";
    }
}

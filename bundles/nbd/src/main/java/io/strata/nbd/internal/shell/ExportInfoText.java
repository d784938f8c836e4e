package io.strata.nbd.internal.shell;

import io.strata.api.service.ExportInfo;

/** The {@code key: value} lines of one export. */
final class ExportInfoText {
    private ExportInfoText() {
    }

    static String of(ExportInfo e) {
        return "name: " + e.name() + "\n"
                + "volume: " + e.volume() + "\n"
                + "mode: " + (e.readOnly() ? "read-only" : "read-write") + "\n"
                + "uri: " + e.uri() + "\n"
                + "state: " + e.state() + "\n"
                + (e.message().isEmpty() ? "" : "message: " + e.message() + "\n")
                + "clients: " + String.join(",", e.clients()) + "\n";
    }
}

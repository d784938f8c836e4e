package io.strata.api.service;

import static java.util.Objects.requireNonNull;

import java.util.List;

/**
 * A volume exported to hypervisors over the Network Block Device protocol.
 *
 * @param name the export name clients ask for (defaults to the volume's name)
 * @param volume the exported volume
 * @param readOnly whether clients may only read
 * @param state ONLINE while the volume is open for the export; UNAVAILABLE (with
 *        {@code message}) while its datastore or format is missing, retried at each connection
 * @param message why the export is unavailable, else empty
 * @param clients the connected clients, as {@code address:port}
 * @param uri how a client reaches it over TCP, e.g. {@code nbd://127.0.0.1:10809/vm1}
 * @param localUri how a client on this host reaches it through the server's Unix domain socket,
 *        e.g. {@code nbd+unix:///vm1?socket=/var/lib/strata/nbd.sock}, or "" when the server
 *        has none (since 1.4)
 * @param tlsRequired whether TCP clients must start TLS before they may use this export
 *        (since 1.4)
 * @since 1.2
 */
public record ExportInfo(String name, VolumeRef volume, boolean readOnly, Availability state, String message,
        List<String> clients, String uri, String localUri, boolean tlsRequired) {
    /** Checks the components and copies the client list. */
    public ExportInfo {
        requireNonNull(name, "name");
        requireNonNull(volume, "volume");
        requireNonNull(state, "state");
        requireNonNull(message, "message");
        clients = List.copyOf(clients);
        requireNonNull(uri, "uri");
        requireNonNull(localUri, "localUri");
    }

    /** An export reachable over TCP only, without TLS (the constructor of 1.2). */
    public ExportInfo(String name, VolumeRef volume, boolean readOnly, Availability state, String message,
            List<String> clients, String uri) {
        this(name, volume, readOnly, state, message, clients, uri, "", false);
    }
}

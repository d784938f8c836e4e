package io.strata.nbd.internal;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/** PID {@code io.strata.nbd}: where the NBD server listens. */
@ObjectClassDefinition(name = "Strata NBD server", description = "Network Block Device server exporting volumes")
public @interface NbdConfig {
    @AttributeDefinition(name = "Address", description = "Address to listen on; without TLS only a loopback "
            + "address is used")
    String address() default "127.0.0.1";

    @AttributeDefinition(name = "TLS", description = "off: STARTTLS refused; on: clients may start TLS; require: "
            + "TCP clients must (the Unix socket is guarded by its mode)")
    String tls() default "off";

    @AttributeDefinition(name = "TLS certificates", description = "Directory with server-cert.pem, server-key.pem "
            + "(PKCS#8) and ca-cert.pem; empty: etc/nbd-tls under Karaf's etc directory")
    String tls_dir() default "";

    @AttributeDefinition(name = "TLS client certificates", description = "Require a client certificate signed by "
            + "ca-cert.pem")
    boolean tls_verify_peer() default false;

    @AttributeDefinition(name = "Port", description = "TCP port (10809 is the NBD port)")
    int port() default 10809;

    @AttributeDefinition(name = "Unix socket", description = "Path of the Unix domain socket hypervisors on this "
            + "host attach through (nbd+unix:///<export>?socket=<path>); empty: data/strata/nbd.sock under "
            + "Karaf's data directory; 'off': none")
    String socket() default "";

    @AttributeDefinition(name = "Unix socket mode", description = "Permissions of the socket, in octal: who may "
            + "write it may connect")
    String socket_mode() default "0660";

    @AttributeDefinition(name = "Unix socket group", description = "Group of the socket (empty: the server's)")
    String socket_group() default "";

    @AttributeDefinition(name = "Handshake timeout", description = "Seconds a client may take to choose an export")
    int handshake_timeout_seconds() default 30;

    @AttributeDefinition(name = "sendfile", description = "Send large reads of allocated blocks straight from "
            + "the image file to the socket (sendfile), without a copy through the server")
    boolean sendfile() default true;

    @AttributeDefinition(name = "Receive writes in place", description = "Read large write payloads from the "
            + "socket straight into a shared mapping of the image file (one copy instead of two). Faster on some "
            + "machines and slower on others: measure before turning it on")
    boolean receive_in_place() default false;

    @AttributeDefinition(name = "Poll for requests (microseconds)", description = "How long a busy connection "
            + "polls its socket for the next request before its thread sleeps on it. Waking a sleeping thread costs "
            + "the client's send, on the client's core; polling costs the server's. Only while one connection is "
            + "busy; 0 never polls")
    int poll_us() default POLL_US_DEFAULT;

    /** The default of {@link #poll_us}. */
    int POLL_US_DEFAULT = 50;

    @AttributeDefinition(name = "TCP congestion control of local connections", description = "The algorithm "
            + "that paces replies to clients on this host (loopback addresses). A pacing algorithm such as bbr spaces "
            + "a sender's packets with timers, to spare a queue on a network path; loopback has none, and there "
            + "pacing spends the cores the client and server share. reno (which any process may choose) sends as the "
            + "window allows. Empty: the host's default (net.ipv4.tcp_congestion_control). Connections from other "
            + "hosts always keep the host's default")
    String tcp_congestion_local() default TCP_CONGESTION_LOCAL_DEFAULT;

    /** The default of {@link #tcp_congestion_local}. */
    String TCP_CONGESTION_LOCAL_DEFAULT = "reno";

    @AttributeDefinition(name = "Send batches of replies on a second thread", description = "While one connection "
            + "is busy, hand each batch of small replies of 16 KiB or more to a sender thread and serve the next "
            + "requests meanwhile. Faster on some machines; on others the hand-over's wake-ups put the server in a "
            + "slow state (half the speed over the Unix socket): measure before turning it on")
    boolean send_overlap() default false;

    @AttributeDefinition(name = "Maximum connections", description = "Clients served at once (each holds 512 KiB "
            + "of buffers and a thread); further connections are closed")
    int max_connections() default 512;

    @AttributeDefinition(name = "Reply memory (MiB)", description = "Direct memory shared by all clients for large "
            + "read replies and large write payloads; without free memory they are served piece by piece")
    int memory_max_mb() default 256;

    @AttributeDefinition(name = "Reply memory per connection (MiB)", description = "What one client's queued "
            + "replies may hold of the reply memory (at least 33 for full-size reads to be queued: one chunk "
            + "may be the connection's second output buffer)")
    int memory_connection_mb() default 64;
}

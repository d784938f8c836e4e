package io.strata.nbd.internal;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/** PID {@code io.strata.nbd}: where the NBD server listens. */
@ObjectClassDefinition(name = "Strata NBD server", description = "Network Block Device server exporting volumes")
public @interface NbdConfig {
    @AttributeDefinition(name = "Address", description = "Address to listen on; keep it host-local (no TLS)")
    String address() default "127.0.0.1";

    @AttributeDefinition(name = "Port", description = "TCP port (10809 is the NBD port)")
    int port() default 10809;

    @AttributeDefinition(name = "Handshake timeout", description = "Seconds a client may take to choose an export")
    int handshake_timeout_seconds() default 30;

    @AttributeDefinition(name = "sendfile", description = "Send large reads of allocated blocks straight from "
            + "the image file to the socket (sendfile), without a copy through the server")
    boolean sendfile() default true;
}

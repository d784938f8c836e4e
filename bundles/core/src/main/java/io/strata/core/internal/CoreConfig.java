package io.strata.core.internal;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/** The core's configuration, PID {@value StrataCore#PID}. */
@ObjectClassDefinition(name = "Strata core",
        description = "Datastores, volumes and the embedded default datastore")
@interface CoreConfig {
    @AttributeDefinition(name = "Embedded default datastore",
            description = "On first start, configure a local directory resource and a dir datastore on it")
    boolean default_datastore_enabled() default true;

    @AttributeDefinition(name = "Default datastore name",
            description = "Name of the default resource and of its datastore")
    String default_datastore_name() default "local";

    @AttributeDefinition(name = "Default datastore directory",
            description = "Directory of the default datastore; ${karaf.data} and other ${system.property} "
                    + "references are resolved")
    String default_datastore_path() default "${karaf.data}/datastores/local";

    @AttributeDefinition(name = "Chain limit",
            description = "Most images in a volume's chain (snapshots, linked-clone bases and the current image); "
                    + "values above 32 are taken as 32")
    int chain_max() default 32;

    @AttributeDefinition(name = "Host name",
            description = "This host's name on shared datastores; empty for the hostname. The host's UUID is "
                    + "made at first start and kept in the configuration io.strata.host")
    String host_name() default "";

    @AttributeDefinition(name = "Lease renewal (ms)",
            description = "How often this host renews its slot in a shared datastore's lockspace (VMFS: about 3 s)")
    long lease_renewal_ms() default 3000;

    @AttributeDefinition(name = "Lease expiry (ms)",
            description = "How long a host's slot must stay unchanged before it counts as dead and its volumes "
                    + "can be taken over (VMFS: 16 s). Every host sharing a datastore must use the same value")
    long lease_expiry_ms() default 16000;

    @AttributeDefinition(name = "Lease I/O timeout (ms)",
            description = "The longest one lease read or write may take before it counts as failed")
    long lease_io_timeout_ms() default 4000;

    @AttributeDefinition(name = "Retry interval (ms)",
            description = "How often a resource that failed to attach (a NAS server or iSCSI target not answering) "
                    + "and a datastore that failed to mount or fenced itself are tried again; 0 tries only when a "
                    + "plugin or the configuration changes")
    long retry_ms() default CoreSettings.RETRY_MILLIS;
}

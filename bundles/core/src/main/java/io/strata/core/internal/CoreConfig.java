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
}

/**
 * The services front ends use (Karaf shell, REST, NBD): resources, datastores
 * and volumes, and the immutable views they return.
 */
@org.osgi.annotation.bundle.Export
@org.osgi.annotation.versioning.Version("1.4.0")
package io.strata.api.service;

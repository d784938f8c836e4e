/**
 * Strata's common vocabulary: the error catalogue, capabilities, and name and
 * size rules shared by every layer.
 */
@org.osgi.annotation.bundle.Export
@org.osgi.annotation.versioning.Version("1.4.0")
package io.strata.api;

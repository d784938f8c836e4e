package io.strata.core.internal;

/** A hold on something (a volume's lease) given back by closing it; closing never throws. */
@FunctionalInterface
interface Claim extends AutoCloseable {
    /** A claim that holds nothing: on a datastore of one host the mount's own checks suffice. */
    Claim NONE = () -> { };

    @Override
    void close();
}

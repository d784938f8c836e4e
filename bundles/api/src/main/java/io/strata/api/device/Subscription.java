package io.strata.api.device;

import org.osgi.annotation.versioning.ConsumerType;

/**
 * A registration (such as a state listener) that ends when closed. Closing twice does
 * nothing; closing never throws, so no {@code catch} is needed around it.
 *
 * @since 1.1
 */
@ConsumerType
@FunctionalInterface
public interface Subscription extends AutoCloseable {
    /** Ends the registration. Never throws. */
    @Override
    void close();
}

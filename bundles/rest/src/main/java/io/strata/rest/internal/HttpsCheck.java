package io.strata.rest.internal;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Dictionary;
import org.osgi.framework.InvalidSyntaxException;
import org.osgi.service.cm.Configuration;
import org.osgi.service.cm.ConfigurationAdmin;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Says in the log why the API has no HTTPS when it has none. The keystore is made before the
 * JVM starts ({@code bin/strata-https-init}, run by {@code bin/karaf} through
 * {@code bin/setenv}), never from here: turning the secure connector on from a bundle means
 * reconfiguring Karaf's HTTP service while the container boots, and a container stopped
 * during that reconfiguration hangs (a lock-order deadlock between Pax Web's configuration
 * thread and the bundle being stopped).
 */
@Component(immediate = true)
public final class HttpsCheck {
    static final String PID = "org.ops4j.pax.web";
    private static final Logger LOG = LoggerFactory.getLogger(HttpsCheck.class);

    @Activate
    public HttpsCheck(@Reference ConfigurationAdmin admin) {
        try {
            Configuration[] found = admin.listConfigurations("(service.pid=" + PID + ")");
            if (found == null || found.length == 0) {
                return;
            }
            String problem = problem(found[0].getProperties());
            if (problem != null) {
                LOG.warn("https: {}", problem);
            }
        } catch (IOException | InvalidSyntaxException | RuntimeException e) {
            LOG.warn("https: cannot read the HTTP service's configuration: {}", e.toString());
        }
    }

    /** Why HTTPS is off though the configuration asks for a made certificate, or null. */
    static String problem(Dictionary<String, Object> p) {
        if (p == null || !Boolean.parseBoolean(String.valueOf(p.get("strata.https.auto")))
                || Boolean.parseBoolean(String.valueOf(p.get("org.osgi.service.http.secure.enabled")))) {
            return null;
        }
        Object keystore = p.get("org.ops4j.pax.web.ssl.keystore");
        if (keystore == null || Files.exists(Path.of(String.valueOf(keystore)))) {
            return null;
        }
        return "HTTPS is off: there is no keystore at " + keystore + ". bin/karaf makes one before the JVM"
                + " starts (bin/strata-https-init, which says on the console why it could not);"
                + " a container started another way needs a keystore configured in etc/" + PID + ".cfg";
    }
}

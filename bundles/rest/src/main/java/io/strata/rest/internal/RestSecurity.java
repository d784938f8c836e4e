package io.strata.rest.internal;

import io.strata.rest.internal.security.AuditLog;
import io.strata.rest.internal.security.Authenticator;
import io.strata.rest.internal.security.JaasPasswordCheck;
import io.strata.rest.internal.security.LoginThrottle;
import io.strata.rest.internal.security.TokenStore;
import java.nio.file.Path;
import java.time.Clock;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.metatype.annotations.Designate;

/**
 * The API's security state, shared by the HTTP side and the shell commands: the token
 * store, the audit log, the login throttle and the authenticator over the JAAS realm.
 */
@Component(service = RestSecurity.class, configurationPid = "io.strata.rest")
@Designate(ocd = RestConfig.class)
public final class RestSecurity {
    private final RestConfig config;
    private final TokenStore tokens;
    private final AuditLog audit;
    private final Authenticator authenticator;

    @Activate
    public RestSecurity(RestConfig config) {
        this.config = config;
        Path dir = dir(config);
        Clock clock = Clock.systemUTC();
        tokens = new TokenStore(dir.resolve("tokens.json"), clock);
        audit = new AuditLog(dir.resolve("audit"), config.audit_max_bytes(), config.audit_keep());
        LoginThrottle throttle = new LoginThrottle(config.login_max_failures(),
                config.login_window_seconds() * 1000L, System::currentTimeMillis);
        authenticator = new Authenticator(new JaasPasswordCheck(config.realm()), tokens, throttle,
                config.login_cache_seconds() * 1000L, System::currentTimeMillis);
    }

    static Path dir(RestConfig config) {
        if (!config.dir().isBlank()) {
            return Path.of(config.dir());
        }
        String data = System.getProperty("karaf.data", "data");
        return Path.of(data, "strata", "rest");
    }

    @Deactivate
    void close() {
        audit.close();
    }

    public RestConfig config() {
        return config;
    }

    public TokenStore tokens() {
        return tokens;
    }

    public AuditLog audit() {
        return audit;
    }

    public Authenticator authenticator() {
        return authenticator;
    }
}

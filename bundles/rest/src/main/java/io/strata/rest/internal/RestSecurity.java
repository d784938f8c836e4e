package io.strata.rest.internal;

import io.strata.rest.internal.security.AuditLog;
import io.strata.rest.internal.security.Authenticator;
import io.strata.rest.internal.security.JaasPasswordCheck;
import io.strata.rest.internal.security.LoginThrottle;
import io.strata.rest.internal.security.TokenStore;
import io.strata.api.ErrorCode;
import io.strata.api.Names;
import io.strata.api.StorageException;
import io.strata.api.service.AccessService;
import io.strata.api.service.ApiTokenInfo;
import io.strata.api.service.AuditRecord;
import io.strata.api.service.NewApiToken;
import io.strata.rest.internal.security.AuditEntry;
import io.strata.rest.internal.security.Expiry;
import io.strata.rest.internal.security.Token;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.time.Clock;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.metatype.annotations.Designate;

/**
 * The API's security state, shared by the HTTP side and the shell commands: the token
 * store, the audit log, the login throttle and the authenticator over the JAAS realm.
 */
@Component(service = {RestSecurity.class, AccessService.class}, configurationPid = "io.strata.rest")
@Designate(ocd = RestConfig.class)
public final class RestSecurity implements AccessService {
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

    public TokenStore tokenStore() {
        return tokens;
    }

    public AuditLog auditLog() {
        return audit;
    }

    public Authenticator authenticator() {
        return authenticator;
    }

    @Override
    public NewApiToken createToken(String user, String role, String expires, String description, String actor) {
        Role r = Role.parse(role == null ? "viewer" : role);
        if (r == null) {
            throw new StorageException(ErrorCode.INVALID_ARGUMENT, "unknown role '" + Names.printable(role)
                    + "': use viewer, operator or admin");
        }
        TokenStore.Created c = tokens.create(user, r, Expiry.parse(expires, Instant.now()), description);
        audit.record(new AuditEntry(Instant.now(), actor == null ? "-" : actor, "shell", "local",
                "storage:token-create", "token " + c.token().id() + " for " + user, 201, "OK"));
        return new NewApiToken(info(c.token()), c.secret());
    }

    @Override
    public List<ApiTokenInfo> tokens() {
        List<ApiTokenInfo> out = new ArrayList<>();
        for (Token t : tokens.list()) {
            out.add(info(t));
        }
        return out;
    }

    @Override
    public ApiTokenInfo revokeToken(String id, String actor) {
        Token t = tokens.revoke(id);
        audit.record(new AuditEntry(Instant.now(), actor == null ? "-" : actor, "shell", "local",
                "storage:token-revoke", "token " + t.id() + " of " + t.user(), 204, "OK"));
        return info(t);
    }

    @Override
    public List<AuditRecord> audit(int limit, String user, boolean deniedOnly) {
        if (limit < 1 || limit > 100_000) {
            throw new StorageException(ErrorCode.INVALID_ARGUMENT, "the limit must be 1 to 100000");
        }
        List<AuditRecord> out = new ArrayList<>();
        for (AuditEntry e : audit.newest(limit, e -> (user == null || user.equals(e.user()))
                && (!deniedOnly || e.status() == 401 || e.status() == 403 || e.status() == 429))) {
            out.add(new AuditRecord(e.time(), e.user(), e.via(), e.client(), e.action(), e.target(), e.status(),
                    e.result()));
        }
        return out;
    }

    private ApiTokenInfo info(Token t) {
        return new ApiTokenInfo(t.id(), t.user(), t.role().id(), t.created(), t.expires(),
                t.expiredAt(Instant.now()), tokens.lastUsed(t.id()), t.description());
    }
}

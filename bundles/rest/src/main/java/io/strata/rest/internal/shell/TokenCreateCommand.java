package io.strata.rest.internal.shell;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.rest.internal.RestSecurity;
import io.strata.rest.internal.Role;
import io.strata.rest.internal.security.Expiry;
import io.strata.rest.internal.security.TokenStore;
import java.time.Instant;
import org.apache.karaf.shell.api.action.Argument;
import org.apache.karaf.shell.api.action.Command;
import org.apache.karaf.shell.api.action.Option;
import org.apache.karaf.shell.api.action.lifecycle.Reference;
import org.apache.karaf.shell.api.action.lifecycle.Service;

/** Makes an API token and shows its secret, once. */
@Command(scope = "storage", name = "token-create",
        description = "Makes an API token for management software; its secret is shown only now")
@Service
public class TokenCreateCommand extends RestCommand {
    @Reference
    RestSecurity security;

    @Argument(index = 0, name = "user", description = "The user the token acts as (named in the audit log)",
            required = true)
    String user;

    @Option(name = "--role", description = "viewer, operator or admin (default viewer)")
    String role = "viewer";

    @Option(name = "--expires", description = "90d, 12h, 30m, 3600s, an instant such as 2027-01-01T00:00:00Z, "
            + "or never (the default)")
    String expires;

    @Option(name = "--description", description = "What the token is for")
    String description;

    @Override
    String run() {
        Role r = Role.parse(role);
        if (r == null) {
            throw new StorageException(ErrorCode.INVALID_ARGUMENT, "unknown role '" + role
                    + "': use viewer, operator or admin");
        }
        TokenStore.Created c = security.tokens().create(user, r, Expiry.parse(expires, Instant.now()), description);
        security.audit().record(new io.strata.rest.internal.security.AuditEntry(Instant.now(), ShellUser.name(),
                "shell", "local", "storage:token-create", "token " + c.token().id() + " for " + user, 201, "OK"));
        return "Token " + c.token().id() + " for " + user + " (" + r.id() + "), expires "
                + (c.token().expires() == null ? "never" : c.token().expires().toString()) + "\n"
                + c.secret() + "\n"
                + "Keep it now: Strata stores only its hash. Send it as: Authorization: Bearer <token>\n";
    }
}

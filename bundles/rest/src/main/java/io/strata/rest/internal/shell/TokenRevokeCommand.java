package io.strata.rest.internal.shell;

import io.strata.rest.internal.RestSecurity;
import io.strata.rest.internal.security.Token;
import org.apache.karaf.shell.api.action.Argument;
import org.apache.karaf.shell.api.action.Command;
import org.apache.karaf.shell.api.action.lifecycle.Reference;
import org.apache.karaf.shell.api.action.lifecycle.Service;

/** Revokes an API token: requests carrying it are refused from now on. */
@Command(scope = "storage", name = "token-revoke", description = "Revokes an API token at once")
@Service
public class TokenRevokeCommand extends RestCommand {
    @Reference
    RestSecurity security;

    @Argument(index = 0, name = "id", description = "The token's id (see storage:token-list)", required = true)
    String id;

    @Override
    String run() {
        Token t = security.tokens().revoke(id);
        security.audit().record(new io.strata.rest.internal.security.AuditEntry(java.time.Instant.now(),
                ShellUser.name(), "shell", "local", "storage:token-revoke", "token " + t.id() + " of " + t.user(),
                204, "OK"));
        return "Token " + t.id() + " of " + t.user() + " revoked\n";
    }
}

package io.strata.shell.internal;

import io.strata.api.service.AccessService;
import io.strata.api.service.ApiTokenInfo;
import io.strata.shell.internal.completers.TokenIdCompleter;
import org.apache.karaf.shell.api.action.Argument;
import org.apache.karaf.shell.api.action.Command;
import org.apache.karaf.shell.api.action.Completion;
import org.apache.karaf.shell.api.action.lifecycle.Reference;
import org.apache.karaf.shell.api.action.lifecycle.Service;

/** Revokes a REST API token: requests carrying it are refused from now on. */
@Command(scope = "storage", name = "token-revoke", description = "Revokes a REST API token at once")
@Service
public class TokenRevokeCommand extends StorageCommand {
    // Optional: a missing service of one command would keep every storage: command of this
    // bundle from registering, and the REST feature may be stopped or not installed.
    @Reference(optional = true)
    AccessService access;

    @Argument(index = 0, name = "id", description = "The token's id (see storage:token-list)", required = true)
    @Completion(TokenIdCompleter.class)
    String id;

    @Override
    String run() {
        Access.require(access);
        ApiTokenInfo t = access.revokeToken(id, ShellUser.name());
        return "Token " + t.id() + " of " + t.user() + " revoked\n";
    }
}

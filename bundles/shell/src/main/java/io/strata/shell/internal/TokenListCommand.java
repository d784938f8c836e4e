package io.strata.shell.internal;

import io.strata.api.service.AccessService;
import io.strata.api.service.ApiTokenInfo;
import org.apache.karaf.shell.api.action.Command;
import org.apache.karaf.shell.api.action.lifecycle.Reference;
import org.apache.karaf.shell.api.action.lifecycle.Service;

/** Lists the REST API's tokens, never their secrets. */
@Command(scope = "storage", name = "token-list",
        description = "Lists the REST API's tokens (ids, users, roles, expiry, last use)")
@Service
public class TokenListCommand extends ListCommand {
    // Optional: a missing service of one command would keep every storage: command of this
    // bundle from registering, and the REST feature may be stopped or not installed.
    @Reference(optional = true)
    AccessService access;

    @Override
    String run() {
        Access.require(access);
        Table table = new Table();
        table.column("Id");
        table.column("User");
        table.column("Role");
        table.column("Created");
        table.column("Expires");
        table.column("Last used");
        table.column("Description");
        for (ApiTokenInfo t : access.tokens()) {
            table.row(t.id(), t.user(), t.role(), Text.time(t.created()),
                    t.expires() == null ? "never" : Text.time(t.expires()) + (t.expired() ? " (expired)" : ""),
                    t.lastUsed() == null ? "-" : Text.time(t.lastUsed()), t.description());
        }
        return table.render(!noFormat);
    }
}

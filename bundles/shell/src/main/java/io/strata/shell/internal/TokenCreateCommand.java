package io.strata.shell.internal;

import io.strata.api.service.AccessService;
import io.strata.api.service.NewApiToken;
import io.strata.shell.internal.completers.FreeTextCompleter;
import org.apache.karaf.shell.api.action.Argument;
import org.apache.karaf.shell.api.action.Command;
import org.apache.karaf.shell.api.action.Completion;
import org.apache.karaf.shell.api.action.Option;
import org.apache.karaf.shell.api.action.lifecycle.Reference;
import org.apache.karaf.shell.api.action.lifecycle.Service;

/** Makes an API token for the REST API and shows its secret, once. */
@Command(scope = "storage", name = "token-create",
        description = "Makes an API token for management software (REST API); its secret is shown only now")
@Service
public class TokenCreateCommand extends StorageCommand {
    // Optional: a missing service of one command would keep every storage: command of this
    // bundle from registering, and the REST feature may be stopped or not installed.
    @Reference(optional = true)
    AccessService access;

    @Argument(index = 0, name = "user", description = "The user the token acts as (named in the audit log)",
            required = true)
    @Completion(FreeTextCompleter.class)
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
        Access.require(access);
        NewApiToken t = access.createToken(user, role, expires, description, ShellUser.name());
        return "Token " + t.token().id() + " for " + t.token().user() + " (" + t.token().role() + "), expires "
                + (t.token().expires() == null ? "never" : t.token().expires().toString()) + "\n"
                + t.secret() + "\n"
                + "Keep it now: Strata stores only its hash. Send it as: Authorization: Bearer <token>\n";
    }
}

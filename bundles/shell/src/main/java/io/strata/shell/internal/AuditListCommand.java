package io.strata.shell.internal;

import io.strata.api.service.AccessService;
import io.strata.api.service.AuditRecord;
import org.apache.karaf.shell.api.action.Command;
import org.apache.karaf.shell.api.action.Option;
import org.apache.karaf.shell.api.action.lifecycle.Reference;
import org.apache.karaf.shell.api.action.lifecycle.Service;

/** The newest entries of the REST API's audit log. */
@Command(scope = "storage", name = "audit-list",
        description = "Shows the newest entries of the REST API's audit log (changes and refused requests)")
@Service
public class AuditListCommand extends ListCommand {
    // Optional: a missing service of one command would keep every storage: command of this
    // bundle from registering, and the REST feature may be stopped or not installed.
    @Reference(optional = true)
    AccessService access;

    @Option(name = "-n", aliases = "--limit", description = "How many entries (default 50)")
    int limit = 50;

    @Option(name = "--user", description = "Only this user's entries")
    String user;

    @Option(name = "--denied", description = "Only refused requests (401, 403, 429)")
    boolean denied;

    @Override
    String run() {
        Access.require(access);
        Table table = new Table();
        table.column("Time");
        table.column("User");
        table.column("Via");
        table.column("Client");
        table.column("Action");
        table.column("Target");
        table.number("Status");
        table.column("Result");
        for (AuditRecord e : access.audit(limit, user, denied)) {
            table.row(e.time().toString(), e.user(), e.via(), e.client(), e.action(), e.target(), e.status(),
                    e.result());
        }
        return table.render(!noFormat);
    }
}

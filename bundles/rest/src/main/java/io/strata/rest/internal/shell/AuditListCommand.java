package io.strata.rest.internal.shell;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.rest.internal.RestSecurity;
import io.strata.rest.internal.security.AuditEntry;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.apache.karaf.shell.api.action.Command;
import org.apache.karaf.shell.api.action.Option;
import org.apache.karaf.shell.api.action.lifecycle.Reference;
import org.apache.karaf.shell.api.action.lifecycle.Service;
import org.apache.karaf.shell.support.table.ShellTable;

/** The newest entries of the REST API's audit log. */
@Command(scope = "storage", name = "audit-list",
        description = "Shows the newest entries of the REST API's audit log (changes and refused requests)")
@Service
public class AuditListCommand extends RestCommand {
    @Reference
    RestSecurity security;

    @Option(name = "-n", aliases = "--limit", description = "How many entries (default 50)")
    int limit = 50;

    @Option(name = "--user", description = "Only this user's entries")
    String user;

    @Option(name = "--denied", description = "Only refused requests (401, 403, 429)")
    boolean denied;

    @Override
    String run() {
        if (limit < 1 || limit > 100_000) {
            throw new StorageException(ErrorCode.INVALID_ARGUMENT, "--limit must be 1 to 100000");
        }
        ShellTable table = new ShellTable();
        table.column("Time");
        table.column("User");
        table.column("Via");
        table.column("Client");
        table.column("Action");
        table.column("Target");
        table.column("Status");
        table.column("Result");
        for (AuditEntry e : security.audit().newest(limit, e -> (user == null || user.equals(e.user()))
                && (!denied || e.status() == 401 || e.status() == 403 || e.status() == 429))) {
            table.addRow().addContent(e.time(), e.user(), e.via(), e.client(), e.action(), e.target(), e.status(),
                    e.result());
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (PrintStream p = new PrintStream(out, true, StandardCharsets.UTF_8)) {
            table.print(p);
        }
        return out.toString(StandardCharsets.UTF_8);
    }
}

package io.strata.rest.internal.shell;

import io.strata.rest.internal.RestSecurity;
import io.strata.rest.internal.security.Token;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import org.apache.karaf.shell.api.action.Command;
import org.apache.karaf.shell.api.action.lifecycle.Reference;
import org.apache.karaf.shell.api.action.lifecycle.Service;
import org.apache.karaf.shell.support.table.ShellTable;

/** Lists API tokens, never their secrets. */
@Command(scope = "storage", name = "token-list", description = "Lists API tokens (ids, users, roles, expiry, last use)")
@Service
public class TokenListCommand extends RestCommand {
    @Reference
    RestSecurity security;

    @Override
    String run() {
        ShellTable table = new ShellTable();
        table.column("Id");
        table.column("User");
        table.column("Role");
        table.column("Created");
        table.column("Expires");
        table.column("Last used");
        table.column("Description");
        Instant now = Instant.now();
        for (Token t : security.tokens().list()) {
            Instant used = security.tokens().lastUsed(t.id());
            table.addRow().addContent(t.id(), t.user(), t.role().id(), t.created(),
                    t.expires() == null ? "never" : t.expires() + (t.expiredAt(now) ? " (expired)" : ""),
                    used == null ? "-" : used, t.description());
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (PrintStream p = new PrintStream(out, true, StandardCharsets.UTF_8)) {
            table.print(p);
        }
        return out.toString(StandardCharsets.UTF_8);
    }
}

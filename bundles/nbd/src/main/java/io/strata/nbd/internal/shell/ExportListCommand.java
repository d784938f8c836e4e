package io.strata.nbd.internal.shell;

import io.strata.api.service.ExportInfo;
import io.strata.api.service.ExportService;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.apache.karaf.shell.api.action.Command;
import org.apache.karaf.shell.api.action.Option;
import org.apache.karaf.shell.api.action.lifecycle.Reference;
import org.apache.karaf.shell.api.action.lifecycle.Service;
import org.apache.karaf.shell.support.table.ShellTable;

/** Lists NBD exports with their connected clients. */
@Command(scope = "storage", name = "export-list", description = "Lists NBD exports and their connected clients")
@Service
public class ExportListCommand extends ExportCommand {
    @Reference
    ExportService exports;

    @Option(name = "--no-format", description = "Tab-separated rows without header")
    boolean noFormat;

    @Override
    String run() {
        if (noFormat) {
            StringBuilder b = new StringBuilder();
            for (ExportInfo e : exports.list()) {
                b.append(String.join("\t", e.name(), e.volume().toString(), e.readOnly() ? "ro" : "rw",
                        e.state().toString(), Integer.toString(e.clients().size()), String.join(",", e.clients()),
                        e.uri())).append('\n');
            }
            return b.toString();
        }
        ShellTable t = new ShellTable();
        t.emptyTableText("No exports");
        t.column("Name");
        t.column("Volume");
        t.column("Mode");
        t.column("State");
        t.column("Clients").alignRight();
        t.column("Connected from");
        t.column("URI");
        for (ExportInfo e : exports.list()) {
            t.addRow().addContent(e.name(), e.volume().toString(), e.readOnly() ? "ro" : "rw", e.state().toString(),
                    e.clients().size(), String.join(",", e.clients()), e.uri());
        }
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        PrintStream ps = new PrintStream(bytes, true, StandardCharsets.UTF_8);
        t.print(ps, false);
        return bytes.toString(StandardCharsets.UTF_8).replaceAll("(?m)[ \t]+$", "");
    }
}

package io.strata.shell.internal;

import io.strata.api.service.HostInfo;
import io.strata.api.service.HostService;
import org.apache.karaf.shell.api.action.Command;
import org.apache.karaf.shell.api.action.lifecycle.Reference;
import org.apache.karaf.shell.api.action.lifecycle.Service;

/** Shows this host's identity and, for each shared datastore, the hosts sharing it. */
@Command(scope = "storage", name = "host-info",
        description = "Shows this host's identity and the hosts it shares datastores with")
@Service
public class HostInfoCommand extends ListCommand {

    @Reference
    HostService hosts;

    @Override
    String run() {
        HostInfo h = hosts.host();
        StringBuilder b = new StringBuilder();
        b.append("Host ").append(h.name()).append('\n');
        b.append("Id   ").append(h.id()).append('\n');
        if (h.shared().isEmpty()) {
            b.append("No shared datastore mounted.\n");
            return b.toString();
        }
        Table table = new Table();
        table.column("Datastore");
        table.column("Slot");
        table.column("Host");
        table.column("Id");
        table.column("Generation");
        table.column("State");
        table.column("Unchanged");
        for (HostInfo.Shared s : h.shared()) {
            for (HostInfo.Member m : s.hosts()) {
                boolean me = m.id().equals(h.id());
                String state = me ? (s.valid() ? "LIVE (this host)" : "FENCED (this host)") : m.state();
                table.row(s.datastore(), Integer.toString(m.slot()), m.name(), m.id().toString(),
                        Long.toString(m.generation()), state, me ? "" : (m.unchangedMillis() / 1000) + " s");
            }
        }
        b.append(table.render(!noFormat));
        return b.toString();
    }
}

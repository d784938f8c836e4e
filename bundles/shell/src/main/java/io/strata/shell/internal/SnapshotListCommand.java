package io.strata.shell.internal;

import io.strata.api.service.SnapshotInfo;
import io.strata.api.service.SnapshotService;
import io.strata.api.service.VolumeInfo;
import io.strata.api.service.VolumeRef;
import io.strata.api.service.VolumeService;
import io.strata.shell.internal.completers.VolumeRefCompleter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.karaf.shell.api.action.Argument;
import org.apache.karaf.shell.api.action.Command;
import org.apache.karaf.shell.api.action.Completion;
import org.apache.karaf.shell.api.action.lifecycle.Reference;
import org.apache.karaf.shell.api.action.lifecycle.Service;

/**
 * Shows a volume's snapshots as a tree, with the volume's current state as the
 * row {@code (current)} under the snapshot it was taken after.
 */
@Command(scope = "storage", name = "snapshot-list",
        description = "Shows a volume's snapshots as a tree, the current state as (current) under its parent")
@Service
public class SnapshotListCommand extends ListCommand {

    /** The row standing for the volume's current (writable) state. */
    static final String CURRENT = "(current)";

    @Reference
    SnapshotService snapshots;

    @Reference
    VolumeService volumes;

    @Argument(index = 0, name = "volume", description = "The volume as <datastore>/<volume>", required = true)
    @Completion(VolumeRefCompleter.class)
    String volume;

    /** A snapshot, or the current state when {@code snapshot} is null. */
    private record Node(SnapshotInfo snapshot, String parent) {
    }

    @Override
    String run() {
        VolumeRef ref = VolumeRef.parse(volume);
        VolumeInfo v = volumes.info(ref);
        List<SnapshotInfo> list = snapshots.list(ref);

        Map<String, SnapshotInfo> byName = new LinkedHashMap<>();
        list.forEach(s -> byName.put(s.name(), s));
        // The current state hangs under the deepest snapshot of the current branch; the
        // list has parents before children, so that is the last one marked current.
        String currentParent = "";
        for (SnapshotInfo s : list) {
            if (s.current()) {
                currentParent = s.name();
            }
        }
        // "" keys the roots; a parent the list does not show is treated as a root
        // rather than hiding the snapshot.
        Map<String, List<Node>> children = new LinkedHashMap<>();
        for (SnapshotInfo s : list) {
            String parent = byName.containsKey(s.parent()) ? s.parent() : "";
            children.computeIfAbsent(parent, k -> new ArrayList<>()).add(new Node(s, parent));
        }
        children.computeIfAbsent(currentParent, k -> new ArrayList<>()).add(new Node(null, currentParent));

        Table table = new Table();
        if (noFormat) {
            // Scripts get the tree as name and parent columns instead of drawn branches.
            table.column("Name");
            table.column("Parent");
        } else {
            table.column("Snapshot");
        }
        table.column("Created");
        table.number("Allocated");
        table.column("File");
        walk(table, children, "", "", v);
        return table.render(!noFormat);
    }

    /**
     * Adds the rows of {@code parent}'s children, depth first. A child's tree cell is
     * its ancestors' continuation bars, then {@code |- } or, for the last child,
     * {@code `- }; roots have no prefix. ASCII only, like the table rules.
     */
    private void walk(Table table, Map<String, List<Node>> children, String parent, String indent, VolumeInfo v) {
        List<Node> nodes = children.getOrDefault(parent, List.of());
        boolean root = parent.isEmpty();
        for (int i = 0; i < nodes.size(); i++) {
            Node n = nodes.get(i);
            boolean last = i == nodes.size() - 1;
            String name = n.snapshot() == null ? CURRENT : n.snapshot().name();
            String branch = root ? "" : (last ? "`- " : "|- ");
            String created = n.snapshot() == null ? "-" : Text.time(n.snapshot().created());
            String allocated = Text.size(n.snapshot() == null ? v.allocated() : n.snapshot().allocated(), bytes);
            String file = n.snapshot() == null ? v.file() : n.snapshot().file();
            if (noFormat) {
                table.row(name, n.parent(), created, allocated, file);
            } else {
                table.row(indent + branch + name, created, allocated, file);
            }
            if (n.snapshot() != null) {
                walk(table, children, name, root ? "" : indent + (last ? "   " : "|  "), v);
            }
        }
    }
}

package io.strata.shell.internal;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.format.CheckReport;
import io.strata.api.service.VolumeRef;
import io.strata.api.service.VolumeService;
import io.strata.shell.internal.completers.VolumeRefCompleter;
import java.util.ArrayList;
import java.util.List;
import org.apache.karaf.shell.api.action.Argument;
import org.apache.karaf.shell.api.action.Command;
import org.apache.karaf.shell.api.action.Completion;
import org.apache.karaf.shell.api.action.Option;
import org.apache.karaf.shell.api.action.lifecycle.Reference;
import org.apache.karaf.shell.api.action.lifecycle.Service;

/**
 * Checks every image of a volume's chain and prints one block per image and a
 * summary. Errors make the command fail after the report, so a script sees
 * both the report and a non-zero exit status; leaks alone do not.
 */
@Command(scope = "storage", name = "volume-check",
        description = "Checks every image of a volume's chain (footer, header, tables, bitmaps, parent links); "
                + "fails when errors remain")
@Service
public class VolumeCheckCommand extends StorageCommand {

    @Reference
    VolumeService volumes;

    @Option(name = "--repair", description = "Repair what is safely repairable (footer copy, leaked blocks); "
            + "refused while the volume is in use")
    boolean repair;

    @Argument(index = 0, name = "volume", description = "The volume as <datastore>/<volume>", required = true)
    @Completion(VolumeRefCompleter.class)
    String volume;

    @Override
    String run() {
        VolumeRef ref = VolumeRef.parse(volume);
        List<CheckReport> reports = volumes.check(ref, repair);
        StringBuilder out = new StringBuilder();
        int errors = 0;
        int leaks = 0;
        int repaired = 0;
        long leaked = 0;
        List<String> bad = new ArrayList<>();
        for (CheckReport r : reports) {
            out.append(r.file()).append(": ").append(status(r)).append('\n');
            r.errors().forEach(e -> out.append("  error: ").append(e).append('\n'));
            r.leaks().forEach(l -> out.append("  leak: ").append(l).append('\n'));
            r.repaired().forEach(f -> out.append("  repaired: ").append(f).append('\n'));
            errors += r.errors().size();
            leaks += r.leaks().size();
            repaired += r.repaired().size();
            leaked += r.leakedBytes();
            if (!r.errors().isEmpty()) {
                bad.add(r.file());
            }
        }
        out.append("Checked ").append(Text.count(reports.size(), "image")).append(" of ").append(ref).append(": ")
                .append(Text.count(errors, "error")).append(", ").append(Text.count(leaks, "leak"));
        if (leaked > 0) {
            out.append(" (").append(leaked).append(" bytes)");
        }
        out.append(", ").append(repaired).append(" repaired");
        if (leaks > 0 && !repair) {
            out.append("; --repair frees leaked space");
        }
        out.append('\n');
        if (errors > 0) {
            throw new FailureAfterOutput(out.toString(), new StorageException(ErrorCode.CORRUPT_IMAGE,
                    "volume " + ref + " has " + Text.count(errors, "error") + " in " + String.join(", ", bad)));
        }
        return out.toString();
    }

    /** @return {@code ok}, {@code repaired} (clean after repairs), or the counts of what remains */
    static String status(CheckReport r) {
        if (r.clean()) {
            return r.repaired().isEmpty() ? "ok" : "repaired";
        }
        List<String> parts = new ArrayList<>();
        if (!r.errors().isEmpty()) {
            parts.add(Text.count(r.errors().size(), "error"));
        }
        if (!r.leaks().isEmpty()) {
            parts.add(Text.count(r.leaks().size(), "leak"));
        }
        return String.join(", ", parts);
    }
}

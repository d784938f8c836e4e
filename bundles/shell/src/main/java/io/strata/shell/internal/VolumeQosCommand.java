package io.strata.shell.internal;

import io.strata.api.ErrorCode;
import io.strata.api.Sizes;
import io.strata.api.StorageException;
import io.strata.api.service.QosLimits;
import io.strata.api.service.VolumeIoService;
import io.strata.api.service.VolumeRef;
import io.strata.shell.internal.completers.VolumeRefCompleter;
import java.util.ArrayList;
import java.util.List;
import org.apache.karaf.shell.api.action.Argument;
import org.apache.karaf.shell.api.action.Command;
import org.apache.karaf.shell.api.action.Completion;
import org.apache.karaf.shell.api.action.Option;
import org.apache.karaf.shell.api.action.lifecycle.Reference;
import org.apache.karaf.shell.api.action.lifecycle.Service;

/** Shows or sets a volume's QoS limits. */
@Command(scope = "storage", name = "volume-qos",
        description = "Shows or sets a volume's I/O limits (token buckets in its I/O path; kept across restarts)")
@Service
public class VolumeQosCommand extends StorageCommand {

    @Reference
    VolumeIoService io;

    @Option(name = "--iops", description = "Requests per second, reads and writes together (0: unlimited)")
    Long iops;

    @Option(name = "--read-iops", description = "Reads per second (0: unlimited)")
    Long readIops;

    @Option(name = "--write-iops", description = "Writes per second (0: unlimited)")
    Long writeIops;

    @Option(name = "--bps", description = "Bytes per second, reads and writes together, e.g. 100M (0: unlimited)")
    String bps;

    @Option(name = "--burst", description = "Seconds of each rate that may be spent at once after idling (default 0.1)")
    Double burst;

    @Option(name = "--clear", description = "Remove every limit")
    boolean clear;

    @Argument(index = 0, name = "volume", description = "The volume as <datastore>/<volume>", required = true)
    @Completion(VolumeRefCompleter.class)
    String volume;

    @Override
    String run() {
        VolumeRef ref = VolumeRef.parse(volume);
        QosLimits now = io.qos(ref);
        boolean change = clear || iops != null || readIops != null || writeIops != null || bps != null
                || burst != null;
        if (change) {
            QosLimits base = clear ? QosLimits.NONE : now;
            QosLimits next = new QosLimits(
                    iops != null ? iops : base.iops(),
                    readIops != null ? readIops : base.readIops(),
                    writeIops != null ? writeIops : base.writeIops(),
                    bps != null ? parseRate(bps) : base.bps(),
                    burst != null ? burst : base.burstSeconds());
            io.setQos(ref, next);
            now = io.qos(ref);
        }
        return new Text.KeyValues()
                .put("volume", ref)
                .put("iops", now.iops())
                .put("read-iops", now.readIops())
                .put("write-iops", now.writeIops())
                .put("bps", now.bps())
                .put("burst-seconds", now.burstSeconds())
                .toString();
    }

    private static long parseRate(String text) {
        if (text.equals("0")) {
            return 0;
        }
        try {
            return Sizes.parse(text);
        } catch (StorageException e) {
            throw new StorageException(ErrorCode.INVALID_ARGUMENT, "--bps " + text + ": " + e.getMessage());
        }
    }

    /** One line: the limits set, or {@code unlimited}. */
    static String describe(QosLimits q) {
        if (!q.limited()) {
            return "unlimited";
        }
        List<String> parts = new ArrayList<>();
        if (q.iops() > 0) {
            parts.add("iops=" + q.iops());
        }
        if (q.readIops() > 0) {
            parts.add("read-iops=" + q.readIops());
        }
        if (q.writeIops() > 0) {
            parts.add("write-iops=" + q.writeIops());
        }
        if (q.bps() > 0) {
            parts.add("bps=" + q.bps());
        }
        parts.add("burst=" + q.burstSeconds() + "s");
        return String.join(",", parts);
    }
}

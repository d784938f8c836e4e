package io.strata.shell.internal;

import io.strata.api.service.IoStats;
import io.strata.api.service.VolumeIoService;
import io.strata.api.service.VolumeRef;
import io.strata.api.service.VolumeStats;
import io.strata.shell.internal.completers.VolumeRefCompleter;
import java.util.Locale;
import org.apache.karaf.shell.api.action.Argument;
import org.apache.karaf.shell.api.action.Command;
import org.apache.karaf.shell.api.action.Completion;
import org.apache.karaf.shell.api.action.Option;
import org.apache.karaf.shell.api.action.lifecycle.Reference;
import org.apache.karaf.shell.api.action.lifecycle.Service;

/** A volume's I/O statistics as {@code key: value} lines. */
@Command(scope = "storage", name = "volume-stats",
        description = "Shows a volume's I/O: IOPS, bytes/s, latency percentiles and queue depth, reads and writes apart")
@Service
public class VolumeStatsCommand extends StorageCommand {

    @Reference
    VolumeIoService io;

    @Option(name = "--reset", description = "Start the statistics afresh after printing them")
    boolean reset;

    @Argument(index = 0, name = "volume", description = "The volume as <datastore>/<volume>", required = true)
    @Completion(VolumeRefCompleter.class)
    String volume;

    @Override
    String run() {
        VolumeRef ref = VolumeRef.parse(volume);
        VolumeStats s = io.stats(ref);
        Text.KeyValues kv = new Text.KeyValues()
                .put("volume", s.volume())
                .put("since", Text.time(s.since()))
                .put("window-seconds", s.window());
        direction(kv, "read", s.read());
        direction(kv, "write", s.write());
        kv.put("flushes", s.flushes())
                .put("queue-depth", s.queueDepth())
                .put("queue-depth-avg", num(s.avgQueueDepth()))
                .put("throttled-ms", s.throttledMillis())
                .put("qos", VolumeQosCommand.describe(s.qos()));
        if (reset) {
            io.reset(ref);
        }
        return kv.toString();
    }

    private static void direction(Text.KeyValues kv, String d, IoStats s) {
        kv.put(d + "-ops", s.ops())
                .put(d + "-bytes", s.bytes())
                .put(d + "-iops", num(s.iops()))
                .put(d + "-bytes-per-second", num(s.bytesPerSecond()))
                .put(d + "-latency-p50-us", num(s.p50Micros()))
                .put(d + "-latency-p99-us", num(s.p99Micros()))
                .put(d + "-latency-p999-us", num(s.p999Micros()))
                .put(d + "-latency-max-us", num(s.maxMicros()));
    }

    static String num(double v) {
        return String.format(Locale.ROOT, "%.1f", v);
    }
}

package io.strata.shell.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.service.IoStats;
import io.strata.api.service.QosLimits;
import io.strata.api.service.VolumeIoService;
import io.strata.api.service.VolumeRef;
import io.strata.api.service.VolumeStats;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class VolumeIoCommandsTest {
    static final class FakeIo implements VolumeIoService {
        final Map<VolumeRef, QosLimits> qos = new HashMap<>();
        int resets;

        private void check(VolumeRef v) {
            if (!v.volume().equals("vm1")) {
                throw new StorageException(ErrorCode.VOLUME_NOT_FOUND, "volume " + v + " does not exist");
            }
        }

        @Override
        public VolumeStats stats(VolumeRef v) {
            check(v);
            return new VolumeStats(v, Instant.parse("2026-12-01T10:00:00Z"), 10,
                    new IoStats(1200, 4915200, 120, 491520, 85.2, 310.7, 900.1, 1500),
                    new IoStats(40, 163840, 4, 16384, 120, 2000, 2100.5, 2200), 3, 1, 0.25, 1234, qos(v));
        }

        @Override
        public List<VolumeStats> all() {
            return List.of();
        }

        @Override
        public void reset(VolumeRef v) {
            resets++;
        }

        @Override
        public QosLimits qos(VolumeRef v) {
            check(v);
            return qos.getOrDefault(v, QosLimits.NONE);
        }

        @Override
        public void setQos(VolumeRef v, QosLimits l) {
            check(v);
            qos.put(v, l);
        }
    }

    final FakeIo io = new FakeIo();

    @Test
    void statsPrintBothDirectionsAndCanReset() {
        VolumeStatsCommand c = new VolumeStatsCommand();
        c.io = io;
        c.volume = "local/vm1";
        c.reset = true;
        assertEquals(""
                + "volume: local/vm1\nsince: 2026-12-01T10:00:00Z\nwindow-seconds: 10\n"
                + "read-ops: 1200\nread-bytes: 4915200\nread-iops: 120.0\nread-bytes-per-second: 491520.0\n"
                + "read-latency-p50-us: 85.2\nread-latency-p99-us: 310.7\nread-latency-p999-us: 900.1\n"
                + "read-latency-max-us: 1500.0\n"
                + "write-ops: 40\nwrite-bytes: 163840\nwrite-iops: 4.0\nwrite-bytes-per-second: 16384.0\n"
                + "write-latency-p50-us: 120.0\nwrite-latency-p99-us: 2000.0\nwrite-latency-p999-us: 2100.5\n"
                + "write-latency-max-us: 2200.0\n"
                + "flushes: 3\nqueue-depth: 1\nqueue-depth-avg: 0.3\nthrottled-ms: 1234\nqos: unlimited\n", c.run());
        assertEquals(1, io.resets);
    }

    @Test
    void qosShowsSetsKeepsAndClearsLimits() {
        VolumeQosCommand set = new VolumeQosCommand();
        set.io = io;
        set.volume = "local/vm1";
        set.iops = 500L;
        set.bps = "100M";
        assertEquals("volume: local/vm1\niops: 500\nread-iops: 0\nwrite-iops: 0\nbps: 104857600\n"
                + "burst-seconds: 0.1\n", set.run());
        VolumeQosCommand more = new VolumeQosCommand();
        more.io = io;
        more.volume = "local/vm1";
        more.writeIops = 50L;
        more.burst = 2.0;
        assertEquals("volume: local/vm1\niops: 500\nread-iops: 0\nwrite-iops: 50\nbps: 104857600\n"
                + "burst-seconds: 2.0\n", more.run());
        assertEquals("iops=500,write-iops=50,bps=104857600,burst=2.0s",
                VolumeQosCommand.describe(io.qos(VolumeRef.parse("local/vm1"))));
        VolumeQosCommand bad = new VolumeQosCommand();
        bad.io = io;
        bad.volume = "local/vm1";
        bad.burst = 0.0;
        assertEquals("Error executing command: INVALID_ARGUMENT: the burst must be more than 0 and at most 60 "
                + "seconds, not 0.0\n", Shell.errorOutput(bad));
        VolumeQosCommand clear = new VolumeQosCommand();
        clear.io = io;
        clear.volume = "local/vm1";
        clear.clear = true;
        assertEquals("volume: local/vm1\niops: 0\nread-iops: 0\nwrite-iops: 0\nbps: 0\nburst-seconds: 0.1\n",
                clear.run());
        VolumeQosCommand missing = new VolumeQosCommand();
        missing.io = io;
        missing.volume = "local/nope";
        assertEquals("Error executing command: VOLUME_NOT_FOUND: volume local/nope does not exist\n",
                Shell.errorOutput(missing));
    }
}

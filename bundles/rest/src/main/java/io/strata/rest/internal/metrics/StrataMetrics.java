package io.strata.rest.internal.metrics;

import static java.util.Objects.requireNonNull;

import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.model.snapshots.CounterSnapshot;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot;
import io.prometheus.metrics.model.snapshots.InfoSnapshot;
import io.prometheus.metrics.model.snapshots.Labels;
import io.prometheus.metrics.model.snapshots.MetricSnapshot;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;
import io.strata.api.device.DeviceInfo;
import io.strata.api.device.DeviceState;
import io.strata.api.device.PathInfo;
import io.strata.api.service.Availability;
import io.strata.api.service.DatastoreInfo;
import io.strata.api.service.DatastoreService;
import io.strata.api.service.HostInfo;
import io.strata.api.service.HostService;
import io.strata.api.service.IoStats;
import io.strata.api.service.ResourceInfo;
import io.strata.api.service.ResourcePath;
import io.strata.api.service.ResourceService;
import io.strata.api.service.VolumeIoService;
import io.strata.api.service.VolumeStats;
import java.io.IOException;
import java.io.OutputStream;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;
import java.util.function.ToDoubleFunction;

/**
 * This host's metrics in Prometheus' text exposition format (0.0.4): per-volume I/O, datastores,
 * resources, devices, multipath paths and the host's shared datastores. Every {@link #write} asks
 * the services afresh; nothing is cached and no thread runs in the background, so a scrape shows
 * the state at the moment it was made. {@code METRICS.md} beside the bundle lists the metrics.
 *
 * <p>A service call that fails (a resource whose device went away, a {@code StorageException})
 * costs only the items it would have given: the rest of the scrape is written, and
 * {@code strata_scrape_errors{part}} says how many calls or items were skipped.
 *
 * <p>Safe for concurrent scrapes: it keeps no state between calls.
 */
public final class StrataMetrics {
    private static final System.Logger LOG = System.getLogger(StrataMetrics.class.getName());

    /** The parts a scrape is made of, as {@code strata_scrape_errors} names them. */
    enum Part {
        VOLUMES, DATASTORES, RESOURCES, DEVICES, PATHS, HOST;

        String label() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    private static final String[] QUANTILES = {"0.5", "0.99", "0.999", "1"};

    /** The states {@link HostInfo.Member#state()} names, lower case: each is written, 0 when no host is in it. */
    private static final List<String> MEMBER_STATES = List.of("live", "dead", "free", "unknown");

    private final VolumeIoService volumes;
    private final DatastoreService datastores;
    private final ResourceService resources;
    private final HostService host;
    private final PrometheusTextFormatWriter writer = PrometheusTextFormatWriter.create();

    /**
     * @param volumes per-volume I/O statistics
     * @param datastores datastores and their space
     * @param resources resources, their devices and paths
     * @param host this host and the shared datastores it joined
     */
    public StrataMetrics(VolumeIoService volumes, DatastoreService datastores, ResourceService resources,
            HostService host) {
        this.volumes = requireNonNull(volumes, "volumes");
        this.datastores = requireNonNull(datastores, "datastores");
        this.resources = requireNonNull(resources, "resources");
        this.host = requireNonNull(host, "host");
    }

    /** @return the media type of what {@link #write} writes: {@code text/plain; version=0.0.4; charset=utf-8} */
    public String contentType() {
        return writer.getContentType();
    }

    /**
     * Collects the metrics now and writes them. The stream is flushed, not closed.
     *
     * @param out where the exposition text goes (UTF-8)
     * @throws IOException when the stream fails
     */
    public void write(OutputStream out) throws IOException {
        writer.write(out, collect());
    }

    /** @return a snapshot of every metric, taken now */
    MetricSnapshots collect() {
        Scrape s = new Scrape();
        part(s, Part.VOLUMES, this::collectVolumes);
        part(s, Part.DATASTORES, this::collectDatastores);
        part(s, Part.RESOURCES, this::collectResources);
        part(s, Part.HOST, this::collectHost);
        return s.snapshots();
    }

    /** Runs one part; what it did not expect (a service answering null) costs only the rest of that part. */
    private static void part(Scrape s, Part part, Consumer<Scrape> collector) {
        try {
            collector.accept(s);
        } catch (RuntimeException e) {
            s.failed(part, "the rest of the " + part.label(), e);
        }
    }

    private void collectVolumes(Scrape s) {
        Family ops = s.counter("strata_volume_ops_total",
                "Requests completed since the statistics were last reset (trim and write-zeroes count as writes)");
        Family bytes = s.counter("strata_volume_bytes_total",
                "Bytes read or written since the statistics were last reset");
        Family iops = s.gauge("strata_volume_iops", "Requests per second over the last rate window (10 s)");
        Family bps = s.gauge("strata_volume_bytes_per_second", "Bytes per second over the last rate window (10 s)");
        Family latency = s.gauge("strata_volume_latency_seconds",
                "Request latency quantiles since the statistics were last reset (quantile 1 is the slowest request)");
        Family queue = s.gauge("strata_volume_queue_depth", "Requests in progress now");
        Family queueAvg = s.gauge("strata_volume_queue_depth_average",
                "Requests in progress on average over the rate window");
        Family flushes = s.counter("strata_volume_flushes_total",
                "Flushes completed since the statistics were last reset");
        Family throttled = s.counter("strata_volume_throttled_seconds_total",
                "Time requests waited for QoS tokens since the statistics were last reset");
        Family qos = s.gauge("strata_volume_qos_limit", "QoS limits in force (0: unlimited)");
        Family since = s.gauge("strata_volume_stats_reset_timestamp_seconds",
                "When the volume's statistics were last reset or first collected, Unix time");
        List<VolumeStats> all;
        try {
            all = volumes.all();
        } catch (RuntimeException e) {
            s.failed(Part.VOLUMES, "the volumes' statistics", e);
            return;
        }
        for (VolumeStats v : all) {
            s.item(Part.VOLUMES, "a volume's statistics", () -> {
                Labels id = Labels.of("datastore", v.volume().datastore(), "volume", v.volume().volume());
                Labels read = id.add("direction", "read");
                Labels write = id.add("direction", "write");
                both(ops, read, write, v, IoStats::ops);
                both(bytes, read, write, v, IoStats::bytes);
                both(iops, read, write, v, IoStats::iops);
                both(bps, read, write, v, IoStats::bytesPerSecond);
                double[][] micros = {
                    {v.read().p50Micros(), v.read().p99Micros(), v.read().p999Micros(), v.read().maxMicros()},
                    {v.write().p50Micros(), v.write().p99Micros(), v.write().p999Micros(), v.write().maxMicros()},
                };
                for (int q = 0; q < QUANTILES.length; q++) {
                    latency.add(read.add("quantile", QUANTILES[q]), micros[0][q] / 1e6);
                    latency.add(write.add("quantile", QUANTILES[q]), micros[1][q] / 1e6);
                }
                queue.add(id, v.queueDepth());
                queueAvg.add(id, v.avgQueueDepth());
                flushes.add(id, v.flushes());
                throttled.add(id, v.throttledMillis() / 1000.0);
                qos.add(id.add("limit", "iops"), v.qos().iops());
                qos.add(id.add("limit", "read_iops"), v.qos().readIops());
                qos.add(id.add("limit", "write_iops"), v.qos().writeIops());
                qos.add(id.add("limit", "bytes_per_second"), v.qos().bps());
                since.add(id, v.since().toEpochMilli() / 1000.0);
            });
        }
    }

    private static void both(Family f, Labels read, Labels write, VolumeStats v, ToDoubleFunction<IoStats> field) {
        f.add(read, field.applyAsDouble(v.read()));
        f.add(write, field.applyAsDouble(v.write()));
    }

    private void collectDatastores(Scrape s) {
        Family online = s.gauge("strata_datastore_online", "1 while the datastore is ONLINE (mounted), 0 otherwise");
        Family capacity = s.gauge("strata_datastore_capacity_bytes",
                "Total bytes of the datastore (only while it is ONLINE and its space is known)");
        Family free = s.gauge("strata_datastore_free_bytes",
                "Free bytes of the datastore (only while it is ONLINE and its space is known)");
        Family provisioned = s.gauge("strata_datastore_provisioned_bytes",
                "Sum of the virtual sizes of the datastore's volumes");
        Family allocated = s.gauge("strata_datastore_allocated_bytes", "Bytes the datastore's volumes occupy");
        Family count = s.gauge("strata_datastore_volumes", "Number of volumes in the datastore");
        List<DatastoreInfo> list;
        try {
            list = datastores.list();
        } catch (RuntimeException e) {
            s.failed(Part.DATASTORES, "the datastores", e);
            return;
        }
        for (DatastoreInfo d : list) {
            s.item(Part.DATASTORES, "a datastore", () -> {
                Labels id = Labels.of("datastore", d.name());
                boolean up = d.state() == Availability.ONLINE;
                online.add(id.add("filesystem", d.filesystem()), up ? 1 : 0);
                if (up && d.capacity() > 0) {
                    capacity.add(id, d.capacity());
                    free.add(id, d.free());
                }
                provisioned.add(id, d.provisioned());
                allocated.add(id, d.allocated());
                count.add(id, d.volumes());
            });
        }
    }

    private void collectResources(Scrape s) {
        Family online = s.gauge("strata_resource_online", "1 while the resource is ONLINE (attached), 0 otherwise");
        Family size = s.gauge("strata_device_size_bytes", "Size of a device of an ONLINE resource");
        Family state = s.gauge("strata_path_state",
                "1 for the state a multipath path is in (online, degraded, offline), 0 for the others");
        Family enabled = s.gauge("strata_path_enabled", "0 while an administrator has set the path offline, else 1");
        Family active = s.gauge("strata_path_active", "1 while the path selector sends I/O to the path, else 0");
        Family ios = s.counter("strata_path_ios_total", "I/Os completed on the path");
        Family errors = s.counter("strata_path_errors_total", "I/Os and checks that failed on the path");
        Family inFlight = s.gauge("strata_path_in_flight", "I/Os on the path now");
        List<ResourceInfo> list;
        try {
            list = resources.resources();
        } catch (RuntimeException e) {
            s.failed(Part.RESOURCES, "the resources", e);
            return;
        }
        for (ResourceInfo r : list) {
            boolean kept = s.item(Part.RESOURCES, "a resource", () -> online.add(
                    Labels.of("resource", r.name(), "driver", r.driver()), r.state() == Availability.ONLINE ? 1 : 0));
            if (!kept || r.state() != Availability.ONLINE) {
                // An unavailable resource has no devices; asking would only count an error each scrape.
                continue;
            }
            List<DeviceInfo> devices;
            try {
                devices = resources.devices(r.name());
            } catch (RuntimeException e) {
                s.failed(Part.DEVICES, "the devices of resource " + r.name(), e);
                continue;
            }
            for (DeviceInfo d : devices) {
                String ref = r.name() + "/" + d.id();
                boolean device = s.item(Part.DEVICES, "device " + ref, () -> {
                    if (d.size() >= 0) {
                        size.add(Labels.of("resource", d.resource(), "device", d.id()), d.size());
                    }
                });
                if (!device) {
                    continue;
                }
                List<ResourcePath> paths;
                try {
                    paths = resources.paths(r.name(), d.id());
                } catch (RuntimeException e) {
                    s.failed(Part.PATHS, "the paths of device " + ref, e);
                    continue;
                }
                for (ResourcePath rp : paths) {
                    s.item(Part.PATHS, "a path of device " + ref, () -> {
                        PathInfo p = rp.path();
                        Labels id = Labels.of("resource", rp.resource(), "device", p.device(), "path", p.id(),
                                "transport", p.transport());
                        for (DeviceState st : DeviceState.values()) {
                            state.add(id.add("state", st.name().toLowerCase(Locale.ROOT)), p.state() == st ? 1 : 0);
                        }
                        enabled.add(id, p.enabled() ? 1 : 0);
                        active.add(id, p.active() ? 1 : 0);
                        ios.add(id, p.ios());
                        errors.add(id, p.errors());
                        inFlight.add(id, p.inFlight());
                    });
                }
            }
        }
    }

    private void collectHost(Scrape s) {
        Family info = s.info("strata_host", "This host's identity (value always 1)");
        Family shared = s.gauge("strata_host_shared_datastores", "Shared datastores this host has joined");
        Family valid = s.gauge("strata_shared_datastore_lease_valid",
                "1 while this host's lease on the shared datastore is renewed in time, 0 once it fenced itself");
        Family members = s.gauge("strata_shared_datastore_hosts",
                "Hosts with a slot in the shared datastore's lockspace, by the state this host sees them in");
        HostInfo h;
        try {
            h = host.host();
        } catch (RuntimeException e) {
            s.failed(Part.HOST, "this host", e);
            return;
        }
        boolean kept = s.item(Part.HOST, "this host", () -> {
            info.add(Labels.of("host_id", h.id().toString(), "host_name", h.name()), 1);
            shared.add(Labels.EMPTY, h.shared().size());
        });
        if (!kept) {
            return;
        }
        for (HostInfo.Shared sd : h.shared()) {
            s.item(Part.HOST, "shared datastore " + sd.datastore(), () -> {
                Labels id = Labels.of("datastore", sd.datastore());
                valid.add(id, sd.valid() ? 1 : 0);
                Map<String, Integer> byState = new LinkedHashMap<>();
                for (String st : MEMBER_STATES) {
                    byState.put(st, 0);
                }
                for (HostInfo.Member m : sd.hosts()) {
                    byState.merge(m.state().toLowerCase(Locale.ROOT), 1, Integer::sum);
                }
                byState.forEach((st, n) -> members.add(id.add("state", st), n));
            });
        }
    }

    /**
     * One scrape's families and the errors met while filling them. Samples are added one item
     * (a volume, a path, ...) at a time through {@link #item}: an item that fails midway leaves
     * none of its samples behind.
     */
    private static final class Scrape {
        private final List<Family> families = new ArrayList<>();
        private final Map<Part, Integer> errors = new EnumMap<>(Part.class);
        private final List<Sample> pending = new ArrayList<>();

        Scrape() {
            for (Part p : Part.values()) {
                errors.put(p, 0);
            }
        }

        Family counter(String name, String help) {
            return add(new Family(this, Family.Kind.COUNTER, name, help));
        }

        Family gauge(String name, String help) {
            return add(new Family(this, Family.Kind.GAUGE, name, help));
        }

        /** @param name the name without the {@code _info} the library appends */
        Family info(String name, String help) {
            return add(new Family(this, Family.Kind.INFO, name, help));
        }

        private Family add(Family f) {
            families.add(f);
            return f;
        }

        /**
         * Runs {@code samples}, which adds one item's samples, and keeps them only when it
         * completes.
         *
         * @return whether the item was kept
         */
        boolean item(Part part, String what, Runnable samples) {
            pending.clear();
            try {
                samples.run();
            } catch (RuntimeException e) {
                pending.clear();
                failed(part, what, e);
                return false;
            }
            for (Sample p : pending) {
                if (p.family().seen.contains(p.labels())) {
                    // A service listing an item twice: the library would reject the whole scrape.
                    pending.clear();
                    failed(part, what, new IllegalStateException("listed twice: " + p.family().name + p.labels()));
                    return false;
                }
            }
            for (Sample p : pending) {
                p.family().keep(p.labels(), p.value());
            }
            pending.clear();
            return true;
        }

        void failed(Part part, String what, RuntimeException e) {
            errors.merge(part, 1, Integer::sum);
            LOG.log(System.Logger.Level.DEBUG, () -> "metrics: skipped " + what + ": " + e, e);
        }

        MetricSnapshots snapshots() {
            MetricSnapshots.Builder b = MetricSnapshots.builder();
            for (Family f : families) {
                if (!f.isEmpty()) {
                    b.metricSnapshot(f.snapshot());
                }
            }
            GaugeSnapshot.Builder e = GaugeSnapshot.builder().name("strata_scrape_errors")
                    .help("Service calls or items this scrape skipped because they failed, by part of the scrape");
            errors.forEach((part, n) -> e.dataPoint(GaugeSnapshot.GaugeDataPointSnapshot.builder()
                    .labels(Labels.of("part", part.label())).value(n).build()));
            b.metricSnapshot(e.build());
            return b.build();
        }
    }

    /** A sample waiting for its item to complete. */
    private record Sample(Family family, Labels labels, double value) {
    }

    /** The samples of one metric family. */
    private static final class Family {
        enum Kind { COUNTER, GAUGE, INFO }

        private final Scrape scrape;
        private final Kind kind;
        private final String name;
        private final String help;
        private final List<Labels> labels = new ArrayList<>();
        private final List<Double> values = new ArrayList<>();
        private final Set<Labels> seen = new HashSet<>();

        Family(Scrape scrape, Kind kind, String name, String help) {
            this.scrape = scrape;
            this.kind = kind;
            this.name = name;
            this.help = help;
        }

        /** Adds a sample to the item being collected ({@link Scrape#item}). */
        void add(Labels l, double value) {
            scrape.pending.add(new Sample(this, l, value));
        }

        private void keep(Labels l, double value) {
            seen.add(l);
            labels.add(l);
            values.add(value);
        }

        boolean isEmpty() {
            return labels.isEmpty();
        }

        MetricSnapshot snapshot() {
            switch (kind) {
                case COUNTER: {
                    CounterSnapshot.Builder b = CounterSnapshot.builder().name(name).help(help);
                    for (int i = 0; i < labels.size(); i++) {
                        b.dataPoint(CounterSnapshot.CounterDataPointSnapshot.builder().labels(labels.get(i))
                                .value(values.get(i)).build());
                    }
                    return b.build();
                }
                case INFO: {
                    InfoSnapshot.Builder b = InfoSnapshot.builder().name(name).help(help);
                    for (Labels l : labels) {
                        b.dataPoint(InfoSnapshot.InfoDataPointSnapshot.builder().labels(l).build());
                    }
                    return b.build();
                }
                default: {
                    GaugeSnapshot.Builder b = GaugeSnapshot.builder().name(name).help(help);
                    for (int i = 0; i < labels.size(); i++) {
                        b.dataPoint(GaugeSnapshot.GaugeDataPointSnapshot.builder().labels(labels.get(i))
                                .value(values.get(i)).build());
                    }
                    return b.build();
                }
            }
        }
    }
}

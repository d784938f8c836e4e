package io.strata.core.internal;

import static java.util.Objects.requireNonNull;

import io.strata.api.service.IoStats;
import io.strata.api.service.VolumeIoService;
import io.strata.api.service.VolumeStats;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Locale;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.metatype.annotations.Designate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code GET /metrics} in Prometheus' text exposition format (version 0.0.4) on
 * 127.0.0.1:9464 by default: every volume with I/O since the core started. A minimal
 * HTTP/1.0 responder on one thread (a scrape every few seconds needs no more), so the
 * host needs no web container for it.
 */
@Component(service = MetricsEndpoint.class, configurationPid = "io.strata.metrics", immediate = true)
@Designate(ocd = MetricsConfig.class)
public final class MetricsEndpoint {
    private static final Logger LOG = LoggerFactory.getLogger(MetricsEndpoint.class);
    private final VolumeIoService volumes;
    private final ServerSocket server;
    private final Thread thread;

    @Activate
    public MetricsEndpoint(@Reference VolumeIoService volumes, MetricsConfig config) throws IOException {
        this(volumes, config.enabled(), config.address(), config.port());
    }

    MetricsEndpoint(VolumeIoService volumes, boolean enabled, String address, int port) throws IOException {
        this.volumes = requireNonNull(volumes, "volumes");
        if (!enabled) {
            server = null;
            thread = null;
            return;
        }
        server = new ServerSocket(port, 16, InetAddress.getByName(address));
        thread = new Thread(this::serve, "strata-metrics");
        thread.setDaemon(true);
        thread.start();
        LOG.info("metrics: Prometheus endpoint on http://{}:{}/metrics", address, server.getLocalPort());
    }

    int port() {
        return server.getLocalPort();
    }

    @Deactivate
    void close() {
        if (server != null) {
            try {
                server.close();
            } catch (IOException e) {
                // closing anyway
            }
        }
    }

    private void serve() {
        while (!server.isClosed()) {
            try (Socket s = server.accept()) {
                s.setSoTimeout(5000);
                BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(),
                        StandardCharsets.ISO_8859_1));
                String request = in.readLine();
                String line;
                while ((line = in.readLine()) != null && !line.isEmpty()) {
                    // headers are not needed
                }
                OutputStream out = s.getOutputStream();
                if (request != null && (request.startsWith("GET /metrics ") || request.equals("GET /metrics"))) {
                    byte[] body = render(volumes.all()).getBytes(StandardCharsets.UTF_8);
                    out.write(("HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
                            + "Content-Length: " + body.length + "\r\nConnection: close\r\n\r\n")
                            .getBytes(StandardCharsets.ISO_8859_1));
                    out.write(body);
                } else {
                    out.write("HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                            .getBytes(StandardCharsets.ISO_8859_1));
                }
                out.flush();
            } catch (SocketException e) {
                if (server.isClosed()) {
                    return;
                }
            } catch (IOException | RuntimeException e) {
                LOG.debug("metrics: request failed: {}", e.toString());
            }
        }
    }

    /** The exposition text for these volumes. */
    static String render(List<VolumeStats> all) {
        StringBuilder b = new StringBuilder();
        family(b, "strata_volume_ops_total", "counter", "Requests completed (trim and write-zeroes count as writes)");
        for (VolumeStats v : all) {
            both(b, "strata_volume_ops_total", v, "", s -> s.ops());
        }
        family(b, "strata_volume_bytes_total", "counter", "Bytes read or written");
        for (VolumeStats v : all) {
            both(b, "strata_volume_bytes_total", v, "", s -> s.bytes());
        }
        family(b, "strata_volume_iops", "gauge", "Requests per second over the last 10 seconds");
        for (VolumeStats v : all) {
            both(b, "strata_volume_iops", v, "", IoStats::iops);
        }
        family(b, "strata_volume_bytes_per_second", "gauge", "Bytes per second over the last 10 seconds");
        for (VolumeStats v : all) {
            both(b, "strata_volume_bytes_per_second", v, "", IoStats::bytesPerSecond);
        }
        family(b, "strata_volume_latency_seconds", "gauge", "Request latency quantiles since the last reset");
        for (VolumeStats v : all) {
            both(b, "strata_volume_latency_seconds", v, ",quantile=\"0.5\"", s -> s.p50Micros() / 1e6);
            both(b, "strata_volume_latency_seconds", v, ",quantile=\"0.99\"", s -> s.p99Micros() / 1e6);
            both(b, "strata_volume_latency_seconds", v, ",quantile=\"0.999\"", s -> s.p999Micros() / 1e6);
            both(b, "strata_volume_latency_seconds", v, ",quantile=\"1\"", s -> s.maxMicros() / 1e6);
        }
        family(b, "strata_volume_queue_depth", "gauge", "Requests in progress");
        for (VolumeStats v : all) {
            sample(b, "strata_volume_queue_depth", v, "", v.queueDepth());
        }
        family(b, "strata_volume_queue_depth_average", "gauge", "Requests in progress on average over 10 seconds");
        for (VolumeStats v : all) {
            sample(b, "strata_volume_queue_depth_average", v, "", v.avgQueueDepth());
        }
        family(b, "strata_volume_flushes_total", "counter", "Flushes completed");
        for (VolumeStats v : all) {
            sample(b, "strata_volume_flushes_total", v, "", v.flushes());
        }
        family(b, "strata_volume_throttled_seconds_total", "counter", "Time requests waited for QoS tokens");
        for (VolumeStats v : all) {
            sample(b, "strata_volume_throttled_seconds_total", v, "", v.throttledMillis() / 1000.0);
        }
        family(b, "strata_volume_qos_limit", "gauge", "QoS limits in force (0: unlimited)");
        for (VolumeStats v : all) {
            sample(b, "strata_volume_qos_limit", v, ",limit=\"iops\"", v.qos().iops());
            sample(b, "strata_volume_qos_limit", v, ",limit=\"read_iops\"", v.qos().readIops());
            sample(b, "strata_volume_qos_limit", v, ",limit=\"write_iops\"", v.qos().writeIops());
            sample(b, "strata_volume_qos_limit", v, ",limit=\"bytes_per_second\"", v.qos().bps());
        }
        return b.toString();
    }

    private interface Field {
        double of(IoStats s);
    }

    private static void family(StringBuilder b, String name, String type, String help) {
        b.append("# HELP ").append(name).append(' ').append(help).append('\n');
        b.append("# TYPE ").append(name).append(' ').append(type).append('\n');
    }

    private static void both(StringBuilder b, String name, VolumeStats v, String extra, Field f) {
        sample(b, name, v, ",direction=\"read\"" + extra, f.of(v.read()));
        sample(b, name, v, ",direction=\"write\"" + extra, f.of(v.write()));
    }

    private static void sample(StringBuilder b, String name, VolumeStats v, String labels, double value) {
        // Datastore and volume names are [A-Za-z0-9._+-]: nothing to escape in a label value.
        b.append(name).append("{datastore=\"").append(v.volume().datastore()).append("\",volume=\"")
                .append(v.volume().volume()).append('"').append(labels).append("} ");
        if (value == Math.rint(value) && Math.abs(value) < 1e15) {
            b.append((long) value);
        } else {
            b.append(String.format(Locale.ROOT, "%.6g", value));
        }
        b.append('\n');
    }
}

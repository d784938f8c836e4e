package io.strata.rest.internal.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.device.DeviceInfo;
import io.strata.api.device.DeviceKind;
import io.strata.api.device.DeviceState;
import io.strata.api.device.PathInfo;
import io.strata.api.fs.Datastore;
import io.strata.api.service.Availability;
import io.strata.api.service.DatastoreInfo;
import io.strata.api.service.DatastoreService;
import io.strata.api.service.HostInfo;
import io.strata.api.service.HostService;
import io.strata.api.service.IoStats;
import io.strata.api.service.PluginInfo;
import io.strata.api.service.QosLimits;
import io.strata.api.service.ResourceInfo;
import io.strata.api.service.ResourcePath;
import io.strata.api.service.ResourceService;
import io.strata.api.service.VolumeIoService;
import io.strata.api.service.VolumeRef;
import io.strata.api.service.VolumeStats;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * {@link StrataMetrics} against fake services: what it writes must parse as the text format,
 * carry the services' values, and lose only the part a failing service would have given.
 */
class StrataMetricsTest {
    private static final UUID HOST_ID = UUID.fromString("6f1c1e0a-8a51-4a44-9d1e-0f6b7c1d2e3f");

    private final FakeVolumes volumes = new FakeVolumes();
    private final FakeDatastores datastores = new FakeDatastores();
    private final FakeResources resources = new FakeResources();
    private final FakeHost host = new FakeHost();
    private final StrataMetrics metrics = new StrataMetrics(volumes, datastores, resources, host);

    StrataMetricsTest() {
        volumes.all.add(new VolumeStats(new VolumeRef("local", "vm1"),
                Instant.ofEpochSecond(1_700_000_000, 500_000_000), 10,
                new IoStats(1200, 4_915_200, 120.5, 493_568, 250, 1800, 4200, 9100),
                new IoStats(300, 1_228_800, 30, 122_880, 400, 2500, 7000, 12_000), 17, 3, 1.25, 1500,
                new QosLimits(400, 0, 100, 10_485_760, 0.1)));
        volumes.all.add(new VolumeStats(new VolumeRef("san1", "db"), Instant.ofEpochSecond(1_700_000_100), 10,
                new IoStats(0, 0, 0, 0, 0, 0, 0, 0), new IoStats(5, 20_480, 0.5, 2048, 90, 90, 90, 90), 2, 0, 0, 0,
                QosLimits.NONE));
        datastores.list.add(new DatastoreInfo("local", "dir", "disk/root", Availability.ONLINE, "", 100_000_000_000L,
                40_000_000_000L, 250_000_000_000L, 30_000_000_000L, 7, "/var/lib/strata/local", Map.of()));
        datastores.list.add(new DatastoreInfo("san1", "vims", "array/lun0", Availability.UNAVAILABLE,
                "its device array/lun0 is unavailable", 0, 0, 5_000_000_000L, 2_000_000_000L, 3, "", Map.of()));
        resources.resources.add(new ResourceInfo("array", "iscsi", Map.of(), Availability.ONLINE, ""));
        resources.resources.add(new ResourceInfo("disk", "local", Map.of(), Availability.ONLINE, ""));
        resources.resources.add(new ResourceInfo("nas", "nas", Map.of(), Availability.UNAVAILABLE, "server down"));
        resources.devices.put("array", List.of(
                new DeviceInfo("array", "lun0", DeviceKind.BLOCK, 1L << 40, 512, "LUN 0"),
                new DeviceInfo("array", "lun1", DeviceKind.BLOCK, -1, 512, "LUN 1")));
        resources.devices.put("disk", List.of(new DeviceInfo("disk", "root", DeviceKind.FILE_SHARE, 1L << 30, 0, "/")));
        resources.paths.put("array/lun0", List.of(
                new ResourcePath("array", new PathInfo("lun0", "p0", "iscsi 10.0.0.1:3260", DeviceState.ONLINE, true,
                        true, 9000, 0, 4)),
                new ResourcePath("array", new PathInfo("lun0", "p1", "iscsi 10.0.1.1:3260", DeviceState.DEGRADED, false,
                        false, 12, 3, 0))));
        resources.paths.put("array/lun1", List.of(
                new ResourcePath("array", new PathInfo("lun1", "p2", "iscsi 10.0.0.1:3260", DeviceState.OFFLINE, true,
                        false, 1, 1, 0))));
        host.info = new HostInfo(HOST_ID, "esx1", List.of(new HostInfo.Shared("san1", 2, 7, true, List.of(
                new HostInfo.Member(2, HOST_ID, "esx1", 7, "LIVE", 10),
                new HostInfo.Member(0, UUID.randomUUID(), "esx2", 4, "LIVE", 20),
                new HostInfo.Member(1, UUID.randomUUID(), "esx3", 9, "DEAD", 90_000)))));
    }

    @Test
    void contentTypeIsTheTextFormat004() {
        assertEquals("text/plain; version=0.0.4; charset=utf-8", metrics.contentType());
    }

    @Test
    void volumesKeepTheMetricsOfTheOldEndpoint() throws IOException {
        Exposition e = scrape();
        Map<String, String> read = Map.of("datastore", "local", "volume", "vm1", "direction", "read");
        Map<String, String> write = Map.of("datastore", "local", "volume", "vm1", "direction", "write");
        Map<String, String> vm1 = Map.of("datastore", "local", "volume", "vm1");
        assertEquals("counter", e.types.get("strata_volume_ops_total"));
        assertEquals(1200, e.value("strata_volume_ops_total", read));
        assertEquals(300, e.value("strata_volume_ops_total", write));
        assertEquals("counter", e.types.get("strata_volume_bytes_total"));
        assertEquals(1_228_800, e.value("strata_volume_bytes_total", write));
        assertEquals(120.5, e.value("strata_volume_iops", read));
        assertEquals(122_880, e.value("strata_volume_bytes_per_second", write));
        assertEquals("gauge", e.types.get("strata_volume_latency_seconds"));
        assertEquals(0.00025, e.value("strata_volume_latency_seconds", with(read, "quantile", "0.5")), 1e-12);
        assertEquals(0.0018, e.value("strata_volume_latency_seconds", with(read, "quantile", "0.99")), 1e-12);
        assertEquals(0.007, e.value("strata_volume_latency_seconds", with(write, "quantile", "0.999")), 1e-12);
        assertEquals(0.012, e.value("strata_volume_latency_seconds", with(write, "quantile", "1")), 1e-12);
        assertEquals(3, e.value("strata_volume_queue_depth", vm1));
        assertEquals(1.25, e.value("strata_volume_queue_depth_average", vm1));
        assertEquals("counter", e.types.get("strata_volume_flushes_total"));
        assertEquals(17, e.value("strata_volume_flushes_total", vm1));
        assertEquals("counter", e.types.get("strata_volume_throttled_seconds_total"));
        assertEquals(1.5, e.value("strata_volume_throttled_seconds_total", vm1));
        assertEquals(400, e.value("strata_volume_qos_limit", with(vm1, "limit", "iops")));
        assertEquals(0, e.value("strata_volume_qos_limit", with(vm1, "limit", "read_iops")));
        assertEquals(100, e.value("strata_volume_qos_limit", with(vm1, "limit", "write_iops")));
        assertEquals(10_485_760, e.value("strata_volume_qos_limit", with(vm1, "limit", "bytes_per_second")));
        assertEquals(1_700_000_000.5, e.value("strata_volume_stats_reset_timestamp_seconds", vm1));
        assertEquals(5, e.value("strata_volume_ops_total", Map.of("datastore", "san1", "volume", "db",
                "direction", "write")));
        // 2 volumes x 2 directions x 4 quantiles, and nothing else
        assertEquals(16, e.samples("strata_volume_latency_seconds").size());
        assertEquals(8, e.samples("strata_volume_qos_limit").size());
    }

    @Test
    void datastoresShowStateAndSpace() throws IOException {
        Exposition e = scrape();
        assertEquals(1, e.value("strata_datastore_online", Map.of("datastore", "local", "filesystem", "dir")));
        assertEquals(0, e.value("strata_datastore_online", Map.of("datastore", "san1", "filesystem", "vims")));
        Map<String, String> local = Map.of("datastore", "local");
        Map<String, String> san1 = Map.of("datastore", "san1");
        assertEquals(100_000_000_000.0, e.value("strata_datastore_capacity_bytes", local));
        assertEquals(40_000_000_000.0, e.value("strata_datastore_free_bytes", local));
        assertEquals(250_000_000_000.0, e.value("strata_datastore_provisioned_bytes", local));
        assertEquals(30_000_000_000.0, e.value("strata_datastore_allocated_bytes", local));
        assertEquals(7, e.value("strata_datastore_volumes", local));
        // unknown space is left out rather than written as 0 (which would look full)
        assertNull(e.find("strata_datastore_capacity_bytes", san1));
        assertNull(e.find("strata_datastore_free_bytes", san1));
        assertEquals(5_000_000_000.0, e.value("strata_datastore_provisioned_bytes", san1));
        assertEquals(3, e.value("strata_datastore_volumes", san1));
    }

    @Test
    void resourcesDevicesAndPaths() throws IOException {
        Exposition e = scrape();
        assertEquals(1, e.value("strata_resource_online", Map.of("resource", "array", "driver", "iscsi")));
        assertEquals(0, e.value("strata_resource_online", Map.of("resource", "nas", "driver", "nas")));
        assertEquals(List.of("array", "disk"), resources.devicesAsked, "an unavailable resource is not asked");
        assertEquals(1L << 40, e.value("strata_device_size_bytes", Map.of("resource", "array", "device", "lun0")));
        assertNull(e.find("strata_device_size_bytes", Map.of("resource", "array", "device", "lun1")), "size unknown");

        Map<String, String> p0 = Map.of("resource", "array", "device", "lun0", "path", "p0",
                "transport", "iscsi 10.0.0.1:3260");
        Map<String, String> p1 = Map.of("resource", "array", "device", "lun0", "path", "p1",
                "transport", "iscsi 10.0.1.1:3260");
        Map<String, String> p2 = Map.of("resource", "array", "device", "lun1", "path", "p2",
                "transport", "iscsi 10.0.0.1:3260");
        assertEquals(1, e.value("strata_path_state", with(p0, "state", "online")));
        assertEquals(0, e.value("strata_path_state", with(p0, "state", "degraded")));
        assertEquals(0, e.value("strata_path_state", with(p0, "state", "offline")));
        assertEquals(0, e.value("strata_path_state", with(p1, "state", "online")));
        assertEquals(1, e.value("strata_path_state", with(p1, "state", "degraded")));
        assertEquals(1, e.value("strata_path_state", with(p2, "state", "offline")));
        assertEquals(9, e.samples("strata_path_state").size());
        assertEquals(1, e.value("strata_path_enabled", p0));
        assertEquals(0, e.value("strata_path_enabled", p1));
        assertEquals(1, e.value("strata_path_active", p0));
        assertEquals(0, e.value("strata_path_active", p1));
        assertEquals("counter", e.types.get("strata_path_ios_total"));
        assertEquals(9000, e.value("strata_path_ios_total", p0));
        assertEquals(3, e.value("strata_path_errors_total", p1));
        assertEquals(4, e.value("strata_path_in_flight", p0));
    }

    @Test
    void hostAndItsSharedDatastores() throws IOException {
        Exposition e = scrape();
        assertEquals("gauge", e.types.get("strata_host_info"));
        assertEquals(1, e.value("strata_host_info", Map.of("host_id", HOST_ID.toString(), "host_name", "esx1")));
        assertEquals(1, e.value("strata_host_shared_datastores", Map.of()));
        assertEquals(1, e.value("strata_shared_datastore_lease_valid", Map.of("datastore", "san1")));
        assertEquals(2, e.value("strata_shared_datastore_hosts", Map.of("datastore", "san1", "state", "live")));
        assertEquals(1, e.value("strata_shared_datastore_hosts", Map.of("datastore", "san1", "state", "dead")));
        assertEquals(0, e.value("strata_shared_datastore_hosts", Map.of("datastore", "san1", "state", "free")));
    }

    @Test
    void noErrorsIsZeroForEveryPart() throws IOException {
        Exposition e = scrape();
        assertEquals("gauge", e.types.get("strata_scrape_errors"));
        for (String part : List.of("volumes", "datastores", "resources", "devices", "paths", "host")) {
            assertEquals(0, e.value("strata_scrape_errors", Map.of("part", part)), part);
        }
    }

    @Test
    void labelValuesAreEscaped() throws IOException {
        // The host's name and a path's transport are free text: quotes, backslashes, new lines.
        String name = "esx \"blue\" C:\\vm\nrack 2";
        String transport = "fc host3 \"a\\b\" -> 0x50060e8005f4c010";
        host.info = new HostInfo(HOST_ID, name, List.of());
        resources.paths.put("array/lun1", List.of(new ResourcePath("array",
                new PathInfo("lun1", "p2", transport, DeviceState.ONLINE, true, true, 5, 0, 0))));
        String text = text();
        assertTrue(text.contains("host_name=\"esx \\\"blue\\\" C:\\\\vm\\nrack 2\""), text);
        assertTrue(text.contains("transport=\"fc host3 \\\"a\\\\b\\\" -> 0x50060e8005f4c010\""), text);
        Exposition e = Exposition.parse(text);
        assertEquals(1, e.value("strata_host_info", Map.of("host_id", HOST_ID.toString(), "host_name", name)));
        assertEquals(5, e.value("strata_path_ios_total", Map.of("resource", "array", "device", "lun1", "path", "p2",
                "transport", transport)));
    }

    @Test
    void aDeviceThatFailsCostsOnlyItsPaths() throws IOException {
        resources.failingPaths.add("array/lun0");
        Exposition e = scrape();
        assertTrue(e.samples("strata_path_ios_total").stream().noneMatch(s -> s.labels.get("device").equals("lun0")));
        assertEquals(1, e.value("strata_path_ios_total", Map.of("resource", "array", "device", "lun1", "path", "p2",
                "transport", "iscsi 10.0.0.1:3260")));
        assertEquals(1, e.value("strata_scrape_errors", Map.of("part", "paths")));
        assertEquals(0, e.value("strata_scrape_errors", Map.of("part", "devices")));
        assertEquals(1L << 40, e.value("strata_device_size_bytes", Map.of("resource", "array", "device", "lun0")));
        assertEquals(1200, e.value("strata_volume_ops_total", Map.of("datastore", "local", "volume", "vm1",
                "direction", "read")));
    }

    @Test
    void aResourceWhoseDevicesFailCostsOnlyItsDevices() throws IOException {
        resources.failingDevices.add("array");
        Exposition e = scrape();
        assertTrue(e.samples("strata_path_state").isEmpty());
        assertNull(e.find("strata_device_size_bytes", Map.of("resource", "array", "device", "lun0")));
        assertEquals(1L << 30, e.value("strata_device_size_bytes", Map.of("resource", "disk", "device", "root")));
        assertEquals(1, e.value("strata_resource_online", Map.of("resource", "array", "driver", "iscsi")));
        assertEquals(1, e.value("strata_scrape_errors", Map.of("part", "devices")));
        assertEquals(0, e.value("strata_scrape_errors", Map.of("part", "paths")));
    }

    @Test
    void failingListsCostOnlyTheirPart() throws IOException {
        volumes.fail = true;
        datastores.fail = true;
        host.fail = true;
        Exposition e = scrape();
        assertTrue(e.samples("strata_volume_ops_total").isEmpty());
        assertFalse(e.types.containsKey("strata_volume_ops_total"), "a family without samples is not declared");
        assertTrue(e.samples("strata_datastore_online").isEmpty());
        assertTrue(e.samples("strata_host_info").isEmpty());
        assertEquals(9000, e.value("strata_path_ios_total", Map.of("resource", "array", "device", "lun0", "path", "p0",
                "transport", "iscsi 10.0.0.1:3260")));
        assertEquals(1, e.value("strata_scrape_errors", Map.of("part", "volumes")));
        assertEquals(1, e.value("strata_scrape_errors", Map.of("part", "datastores")));
        assertEquals(1, e.value("strata_scrape_errors", Map.of("part", "host")));
        assertEquals(0, e.value("strata_scrape_errors", Map.of("part", "resources")));

        resources.fail = true;
        e = scrape();
        assertTrue(e.samples("strata_resource_online").isEmpty());
        assertEquals(1, e.value("strata_scrape_errors", Map.of("part", "resources")));
    }

    @Test
    void anItemListedTwiceIsWrittenOnce() throws IOException {
        // The library refuses a family with two samples of the same labels: without care one
        // bad listing would fail the whole scrape.
        datastores.list.add(datastores.list.get(0));
        Exposition e = scrape();
        assertEquals(1, e.samples("strata_datastore_capacity_bytes").stream()
                .filter(s -> s.labels.get("datastore").equals("local")).count());
        assertEquals(1, e.value("strata_scrape_errors", Map.of("part", "datastores")));
        assertEquals(2, e.samples("strata_datastore_volumes").size());
    }

    @Test
    void anItemListedTwiceLosesAllOfItsSecondCopy() throws IOException {
        // Same name, other filesystem: its strata_datastore_online labels are new, but the
        // item as a whole clashes, so none of it is written.
        datastores.list.add(new DatastoreInfo("local", "ext4", "disk/other", Availability.ONLINE, "", 1, 1, 1, 1, 1,
                "", Map.of()));
        Exposition e = scrape();
        assertNull(e.find("strata_datastore_online", Map.of("datastore", "local", "filesystem", "ext4")));
        assertEquals(1, e.value("strata_datastore_online", Map.of("datastore", "local", "filesystem", "dir")));
        assertEquals(7, e.value("strata_datastore_volumes", Map.of("datastore", "local")));
        assertEquals(1, e.value("strata_scrape_errors", Map.of("part", "datastores")));
    }

    @Test
    void anItemThatFailsHalfwayLeavesNothingBehind() throws IOException {
        // Instant.MAX has no epoch milliseconds: the last sample of this volume fails after
        // the others were made.
        volumes.all.add(new VolumeStats(new VolumeRef("local", "odd"), Instant.MAX, 10,
                new IoStats(1, 1, 0, 0, 0, 0, 0, 0), new IoStats(0, 0, 0, 0, 0, 0, 0, 0), 0, 0, 0, 0, QosLimits.NONE));
        Exposition e = scrape();
        assertTrue(e.samples.stream().noneMatch(s -> "odd".equals(s.labels.get("volume"))));
        assertEquals(1200, e.value("strata_volume_ops_total", Map.of("datastore", "local", "volume", "vm1",
                "direction", "read")));
        assertEquals(1, e.value("strata_scrape_errors", Map.of("part", "volumes")));
    }

    @Test
    void aNullInAListCostsOnlyThatItem() throws IOException {
        List<ResourcePath> paths = new ArrayList<>(resources.paths.get("array/lun0"));
        paths.add(1, null);
        resources.paths.put("array/lun0", paths);
        Exposition e = scrape();
        assertEquals(3, e.samples("strata_path_ios_total").size());
        assertEquals(1, e.value("strata_scrape_errors", Map.of("part", "paths")));
    }

    @Test
    void aServiceAnsweringNullCostsOnlyItsPart() throws IOException {
        volumes.all.add(null);
        host.info = null;
        Exposition e = scrape();
        assertEquals(1, e.value("strata_scrape_errors", Map.of("part", "volumes")));
        assertEquals(1, e.value("strata_scrape_errors", Map.of("part", "host")));
        assertEquals(4, e.samples("strata_volume_ops_total").size(), "the other volumes are written");
        assertEquals(1, e.value("strata_datastore_online", Map.of("datastore", "local", "filesystem", "dir")));
    }

    @Test
    void everyScrapeAsksAfresh() throws IOException {
        assertEquals(1200, scrape().value("strata_volume_ops_total", Map.of("datastore", "local", "volume", "vm1",
                "direction", "read")));
        volumes.all.clear();
        datastores.list.remove(1);
        Exposition e = scrape();
        assertTrue(e.samples("strata_volume_ops_total").isEmpty());
        assertEquals(1, e.samples("strata_datastore_online").size());
        assertEquals(2, volumes.calls);
    }

    // --- helpers

    private String text() throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        metrics.write(out);
        return out.toString(StandardCharsets.UTF_8);
    }

    private Exposition scrape() throws IOException {
        return Exposition.parse(text());
    }

    private static Map<String, String> with(Map<String, String> labels, String name, String value) {
        Map<String, String> m = new HashMap<>(labels);
        m.put(name, value);
        return m;
    }

    /** One sample line. */
    record Sample(String name, Map<String, String> labels, double value) {
    }

    /**
     * A strict reader of the text format 0.0.4: fails the test on a line it does not
     * understand, a sample whose family was not declared by a # TYPE line before it, a family
     * declared twice or with its samples apart, a bad escape, or two samples with the same labels.
     */
    static final class Exposition {
        private static final Pattern NAME = Pattern.compile("[a-zA-Z_:][a-zA-Z0-9_:]*");
        private static final Pattern LABEL = Pattern.compile("[a-zA-Z_][a-zA-Z0-9_]*");
        private static final Set<String> TYPES = Set.of("counter", "gauge", "summary", "histogram", "untyped");
        final Map<String, String> types = new LinkedHashMap<>();
        final List<Sample> samples = new ArrayList<>();

        static Exposition parse(String text) {
            Exposition e = new Exposition();
            assertTrue(text.endsWith("\n"), "ends with a new line");
            Set<String> helped = new HashSet<>();
            Set<String> keys = new HashSet<>();
            String current = null;
            for (String line : text.split("\n", -1)) {
                if (line.isEmpty()) {
                    continue;
                }
                if (line.startsWith("# HELP ")) {
                    String name = line.substring(7).split(" ", 2)[0];
                    assertTrue(NAME.matcher(name).matches(), line);
                    assertTrue(helped.add(name), "HELP twice: " + line);
                    String help = line.substring(7 + name.length());
                    for (int i = 0; i < help.length(); i++) {
                        if (help.charAt(i) == '\\') {
                            i++;
                            assertTrue(i < help.length() && (help.charAt(i) == '\\' || help.charAt(i) == 'n'),
                                    "bad HELP escape: " + line);
                        }
                    }
                    continue;
                }
                if (line.startsWith("# TYPE ")) {
                    String[] f = line.substring(7).split(" ");
                    assertEquals(2, f.length, line);
                    assertTrue(NAME.matcher(f[0]).matches(), line);
                    assertTrue(TYPES.contains(f[1]), line);
                    assertFalse(e.types.containsKey(f[0]), "TYPE twice: " + line);
                    e.types.put(f[0], f[1]);
                    current = f[0];
                    continue;
                }
                assertFalse(line.startsWith("#"), "unexpected comment: " + line);
                Sample s = sample(line);
                assertTrue(s.name.equals(current), "sample of a family not declared just before it: " + line);
                assertTrue(keys.add(s.name + new TreeMap<>(s.labels)), "duplicate sample: " + line);
                e.samples.add(s);
            }
            return e;
        }

        private static Sample sample(String line) {
            Matcher m = NAME.matcher(line);
            assertTrue(m.lookingAt(), line);
            String name = m.group();
            int i = m.end();
            Map<String, String> labels = new LinkedHashMap<>();
            if (i < line.length() && line.charAt(i) == '{') {
                i++;
                while (line.charAt(i) != '}') {
                    Matcher l = LABEL.matcher(line).region(i, line.length());
                    assertTrue(l.lookingAt(), "label name at " + i + ": " + line);
                    i = l.end();
                    assertEquals('=', line.charAt(i), line);
                    assertEquals('"', line.charAt(i + 1), line);
                    i += 2;
                    StringBuilder v = new StringBuilder();
                    while (line.charAt(i) != '"') {
                        char c = line.charAt(i++);
                        if (c == '\\') {
                            char n = line.charAt(i++);
                            switch (n) {
                                case '\\' -> v.append('\\');
                                case '"' -> v.append('"');
                                case 'n' -> v.append('\n');
                                default -> fail("bad escape \\" + n + ": " + line);
                            }
                        } else {
                            v.append(c);
                        }
                    }
                    i++;
                    assertTrue(labels.put(l.group(), v.toString()) == null, "label twice: " + line);
                    if (line.charAt(i) == ',') {
                        i++;
                    }
                }
                i++;
            }
            assertEquals(' ', line.charAt(i), line);
            String[] rest = line.substring(i + 1).split(" ");
            assertTrue(rest.length <= 2, line);
            return new Sample(name, labels, Double.parseDouble(rest[0]));
        }

        List<Sample> samples(String name) {
            return samples.stream().filter(s -> s.name.equals(name)).toList();
        }

        Sample find(String name, Map<String, String> labels) {
            return samples.stream().filter(s -> s.name.equals(name) && s.labels.equals(labels)).findFirst()
                    .orElse(null);
        }

        double value(String name, Map<String, String> labels) {
            Sample s = find(name, labels);
            if (s == null) {
                fail("no " + name + labels + " among " + samples(name));
            }
            return s.value;
        }
    }

    // --- fake services

    private static final class FakeVolumes implements VolumeIoService {
        final List<VolumeStats> all = new ArrayList<>();
        boolean fail;
        int calls;

        @Override
        public List<VolumeStats> all() {
            calls++;
            if (fail) {
                throw new IllegalStateException("statistics are gone");
            }
            return new ArrayList<>(all);
        }

        @Override
        public VolumeStats stats(VolumeRef volume) {
            throw new UnsupportedOperationException();
        }

        @Override
        public void reset(VolumeRef volume) {
            throw new UnsupportedOperationException();
        }

        @Override
        public QosLimits qos(VolumeRef volume) {
            throw new UnsupportedOperationException();
        }

        @Override
        public void setQos(VolumeRef volume, QosLimits limits) {
            throw new UnsupportedOperationException();
        }
    }

    private static final class FakeDatastores implements DatastoreService {
        final List<DatastoreInfo> list = new ArrayList<>();
        boolean fail;

        @Override
        public List<DatastoreInfo> list() {
            if (fail) {
                throw new StorageException(ErrorCode.DEVICE_UNAVAILABLE, "catalog unreadable");
            }
            return List.copyOf(list);
        }

        @Override
        public DatastoreInfo info(String name) {
            throw new UnsupportedOperationException();
        }

        @Override
        public DatastoreInfo create(String name, String filesystem, String device, Map<String, String> options,
                boolean force) {
            throw new UnsupportedOperationException();
        }

        @Override
        public void remove(String name) {
            throw new UnsupportedOperationException();
        }

        @Override
        public Datastore datastore(String name) {
            throw new UnsupportedOperationException();
        }
    }

    private static final class FakeResources implements ResourceService {
        final List<ResourceInfo> resources = new ArrayList<>();
        final Map<String, List<DeviceInfo>> devices = new HashMap<>();
        final Map<String, List<ResourcePath>> paths = new HashMap<>();
        final Set<String> failingDevices = new HashSet<>();
        final Set<String> failingPaths = new HashSet<>();
        final List<String> devicesAsked = new ArrayList<>();
        boolean fail;

        @Override
        public List<ResourceInfo> resources() {
            if (fail) {
                throw new StorageException(ErrorCode.DEVICE_UNAVAILABLE, "no");
            }
            return List.copyOf(resources);
        }

        @Override
        public List<DeviceInfo> devices(String resource) {
            devicesAsked.add(resource);
            if (resource == null) {
                throw new AssertionError("devices are asked per resource");
            }
            if (failingDevices.contains(resource)) {
                throw new StorageException(ErrorCode.DEVICE_UNAVAILABLE, resource + " does not answer");
            }
            return devices.getOrDefault(resource, List.of());
        }

        @Override
        public List<ResourcePath> paths(String resource, String device) {
            String ref = resource + "/" + device;
            if (failingPaths.contains(ref)) {
                throw new StorageException(ErrorCode.DEVICE_NOT_FOUND, ref + " is gone");
            }
            return paths.getOrDefault(ref, List.of());
        }

        @Override
        public List<PluginInfo> plugins() {
            throw new UnsupportedOperationException();
        }

        @Override
        public ResourceInfo resource(String name) {
            throw new UnsupportedOperationException();
        }

        @Override
        public ResourceInfo add(String name, String driver, Map<String, String> parameters) {
            throw new UnsupportedOperationException();
        }

        @Override
        public void remove(String name) {
            throw new UnsupportedOperationException();
        }
    }

    private static final class FakeHost implements HostService {
        HostInfo info;
        boolean fail;

        @Override
        public HostInfo host() {
            if (fail) {
                throw new StorageException(ErrorCode.DEVICE_UNAVAILABLE, "no lockspace");
            }
            return info;
        }
    }
}

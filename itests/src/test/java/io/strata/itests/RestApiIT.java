package io.strata.itests;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotEquals;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.strata.itests.RestClient.Answer;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.AfterClass;
import org.junit.BeforeClass;
import org.junit.Test;

/**
 * The REST API of a real distribution over real HTTPS, as management software drives it:
 * Java's HTTP client trusting the certificate the instance made at first start, and curl
 * for TLS versions, the failed-login limit from another client address, and the event
 * stream. Users of every role come from the JAAS realm (users.properties), tokens from
 * {@code storage:token-create}.
 */
public class RestApiIT {
    private static KarafProcess karaf;
    private static RestClient anonymous;
    private static RestClient admin;
    private static RestClient operator;
    private static RestClient viewer;
    private static Path cert;
    private static Path work;
    private static int httpPort;

    @BeforeClass
    public static void setUp() throws Exception {
        karaf = new KarafProcess("rest");
        // The plain HTTP port it would use if plain HTTP were on (it is off by default).
        httpPort = KarafProcess.freePort();
        karaf.configure("etc/org.ops4j.pax.web.cfg", "org.osgi.service.http.port", Integer.toString(httpPort));
        Path users = karaf.home().resolve("etc/users.properties");
        Files.writeString(users, Files.readString(users) + "\nopal = opal-pw,operator\nvera = vera-pw,viewer\n"
                + "norole = norole-pw,somethingelse\n");
        karaf.start();
        cert = karaf.data().resolve("strata/tls/https-cert.pem");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
        RestClient probe = null;
        while (System.nanoTime() < deadline) {
            if (Files.exists(cert)) {
                try {
                    probe = RestClient.trusting(karaf.apiBase(), cert);
                    if (probe.get("/openapi.json").status() == 200) {
                        break;
                    }
                } catch (RuntimeException e) {
                    // the connector is not open yet
                }
            }
            KarafProcess.sleep(500);
        }
        assertNotNull("no HTTPS at " + karaf.apiBase(), probe);
        anonymous = probe.anonymous();
        // From here every answer is checked against the document the server itself serves.
        RestClient.contract = io.strata.testing.OpenApiCheck.of(probe.get("/openapi.json").body());
        admin = probe.basic("karaf", "karaf");
        operator = probe.bearer(token("opal", "operator"));
        viewer = probe.basic("vera", "vera-pw");
        work = karaf.home().resolve("rest-work");
        Files.createDirectories(work);
    }

    @AfterClass
    public static void tearDown() {
        RestClient.contract = null;
        if (karaf != null) {
            karaf.close();
        }
    }

    /** @return the secret of a token made with storage:token-create */
    private static String token(String user, String role, String... more) {
        String out = karaf.ok("storage:token-create --role " + role + " " + String.join(" ", more) + " " + user);
        for (String line : out.split("\n")) {
            if (line.startsWith("strata_")) {
                return line.strip();
            }
        }
        throw new AssertionError("no token in: " + out);
    }

    private static Answer expect(int status, Answer a) {
        assertEquals(a.toString(), status, a.status());
        assertFalse("a stack trace in " + a.body(), a.body().contains("\tat ") || a.body().contains("Exception"));
        return a;
    }

    private static JsonNode waitTask(RestClient c, Answer accepted) {
        expect(202, accepted);
        String id = accepted.json().get("id").asText();
        assertEquals("tasks/" + id, accepted.header("Location").replaceFirst(".*/api/v1/", ""));
        for (int i = 0; i < 6; i++) {
            JsonNode t = expect(200, c.get("/tasks/" + id + "?wait=20")).json();
            String state = t.get("state").asText();
            if (!state.equals("QUEUED") && !state.equals("RUNNING")) {
                return t;
            }
        }
        throw new AssertionError("task " + id + " did not end");
    }

    private static Set<String> volumeNames(String ds) {
        Set<String> names = new TreeSet<>();
        for (JsonNode v : expect(200, admin.get("/datastores/" + ds + "/volumes?limit=1000")).json().get("items")) {
            names.add(v.get("name").asText());
        }
        return names;
    }

    /** Everything a refused request could have changed. */
    private static String state() {
        return admin.get("/resources").body() + admin.get("/datastores").body().replaceAll("\"free\":\\d+", "")
                        .replaceAll("\"allocated\":\\d+", "").replaceAll("\"capacity\":\\d+", "")
                + volumeNames("local") + admin.get("/exports").body() + admin.get("/tokens").body()
                        .replaceAll("\"lastUsed\":\"[^\"]*\"", "");
    }

    @Test
    public void aManagementSystemsWholeWorkflowEndToEnd() throws Exception {
        Path store = work.resolve("store1");
        Answer res = expect(201, admin.post("/resources", Map.of("name", "wf", "driver", "local",
                "parameters", Map.of("kind", "directory", "path", store.toString()))));
        assertEquals("resources/wf", res.header("Location").replaceFirst(".*/api/v1/", ""));
        assertEquals("ONLINE", expect(200, admin.get("/resources/wf")).json().get("state").asText());
        assertTrue(expect(200, admin.get("/resources/wf/devices")).json().isArray());
        JsonNode ds = expect(201, admin.post("/datastores", Map.of("name", "wfds", "filesystem", "dir",
                "device", "wf"))).json();
        assertEquals("ONLINE", ds.get("state").asText());
        assertTrue(expect(200, admin.get("/datastores/wfds")).json().get("capacity").asLong() > 0);

        // The operator creates a volume; a retry with the same key makes no second one.
        Map<String, Object> spec = Map.of("name", "vm1", "size", 64L << 20, "format", "qcow2",
                "provisioning", "thin");
        Answer created = expect(201, operator.send("POST", "/datastores/wfds/volumes", spec,
                Map.of("Idempotency-Key", "wf-create-1")));
        Answer again = expect(201, operator.send("POST", "/datastores/wfds/volumes", spec,
                Map.of("Idempotency-Key", "wf-create-1")));
        assertEquals("true", again.header("Idempotent-Replayed"));
        assertEquals(created.json(), again.json());
        assertEquals("ALREADY_EXISTS", expect(409, operator.post("/datastores/wfds/volumes", spec)).code());
        assertEquals(Set.of("vm1"), volumeNames("wfds"));
        assertNotNull(created.header("ETag"));

        expect(201, operator.post("/datastores/wfds/volumes/vm1/snapshots", Map.of("name", "base")));
        assertEquals("base", expect(200, operator.get("/datastores/wfds/volumes/vm1/snapshots/base"))
                .json().get("name").asText());
        expect(201, operator.post("/datastores/wfds/volumes/vm1/clone", Map.of("name", "lc1", "snapshot", "base",
                "linked", true)));
        JsonNode full = waitTask(operator, operator.post("/datastores/wfds/volumes/vm1/clone",
                Map.of("name", "fc1")));
        assertEquals(full.toString(), "SUCCEEDED", full.get("state").asText());
        assertEquals("fc1", full.get("result").get("name").asText());

        // Export the clone; QEMU writes and reads through it.
        JsonNode export = expect(201, operator.post("/exports", Map.of("name", "wf-fc1", "datastore", "wfds",
                "volume", "fc1"))).json();
        String uri = export.get("uri").asText();
        HostTools.run(List.of("qemu-io", "-f", "raw", "-c", "write -P 0x5a 0 1M", "-c", "flush", uri));
        String read = HostTools.run(List.of("qemu-io", "-f", "raw", "-c", "read -P 0x5a 0 1M", uri));
        assertFalse(read, read.contains("Pattern verification failed"));
        assertEquals(uri, expect(200, viewer.get("/exports/wf-fc1")).json().get("uri").asText());
        expect(204, operator.delete("/exports/wf-fc1"));
        assertFalse(expect(200, operator.get("/exports")).body().contains("wf-fc1"));
        assertEquals("EXPORT_NOT_FOUND", expect(404, operator.get("/exports/wf-fc1")).code());

        JsonNode check = waitTask(operator, operator.post("/datastores/wfds/volumes/fc1/check", Map.of()));
        assertEquals(check.toString(), "SUCCEEDED", check.get("state").asText());
        assertEquals(0, check.get("result").get(0).get("errors").size());

        expect(204, operator.delete("/datastores/wfds/volumes/lc1"));
        JsonNode merged = waitTask(operator, operator.delete("/datastores/wfds/volumes/vm1/snapshots/base"));
        assertEquals(merged.toString(), "SUCCEEDED", merged.get("state").asText());
        expect(204, operator.delete("/datastores/wfds/volumes/fc1"));
        expect(204, operator.delete("/datastores/wfds/volumes/vm1"));
        assertEquals(Set.of(), volumeNames("wfds"));
        expect(204, admin.delete("/datastores/wfds"));
        expect(204, admin.delete("/resources/wf"));
        assertEquals("RESOURCE_NOT_FOUND", expect(404, admin.get("/resources/wf")).code());
    }

    @Test
    public void theOtherOperationsAnswerAsDocumented() throws Exception {
        // Import: an image QEMU made in the datastore's directory becomes a volume; nothing
        // outside the datastore can be named.
        Path dsDir = Path.of(expect(200, admin.get("/datastores/local")).json().get("path").asText());
        Files.createDirectories(dsDir.resolve("incoming"));
        HostTools.run(List.of("qemu-img", "create", "-q", "-f", "qcow2",
                dsDir.resolve("incoming/img.qcow2").toString(), "16M"));
        HostTools.run(List.of("qemu-io", "-f", "qcow2", "-c", "write -P 0x33 0 64k",
                dsDir.resolve("incoming/img.qcow2").toString()));
        JsonNode imported = waitTask(operator, operator.post("/datastores/local/imports",
                Map.of("name", "imp1", "file", "incoming/img.qcow2")));
        assertEquals(imported.toString(), "SUCCEEDED", imported.get("state").asText());
        assertEquals("imp1", imported.get("result").get("name").asText());
        assertEquals("INVALID_NAME", expect(400, operator.post("/datastores/local/imports",
                Map.of("name", "imp2", "file", "../../etc/passwd"))).code());
        assertEquals("INVALID_NAME", expect(400, operator.post("/datastores/local/imports",
                Map.of("name", "imp2", "file", "/etc/passwd"))).code());
        assertEquals("FILE_NOT_FOUND", expect(404, operator.post("/datastores/local/imports",
                Map.of("name", "imp2", "file", "incoming/none.qcow2"))).code());
        assertFalse(volumeNames("local").contains("imp2"));

        // Snapshot, revert, reclaim, check, usage, statistics.
        expect(201, operator.post("/datastores/local/volumes/imp1/snapshots", Map.of("name", "before")));
        JsonNode reverted = expect(200, operator.post("/datastores/local/volumes/imp1/snapshots/before/revert",
                null)).json();
        assertEquals("imp1", reverted.get("name").asText());
        assertEquals("SNAPSHOT_NOT_FOUND", expect(404, operator.post(
                "/datastores/local/volumes/imp1/snapshots/nope/revert", null)).code());
        // A task that fails carries its error as the API's errors do.
        JsonNode refused = waitTask(operator, operator.post("/datastores/local/volumes/imp1/reclaim", null));
        assertEquals(refused.toString(), "FAILED", refused.get("state").asText());
        assertEquals("UNSUPPORTED", refused.get("error").get("code").asText());
        expect(201, operator.post("/datastores/local/volumes", Map.of("name", "rc1", "size", 8 << 20,
                "format", "vhd")));
        JsonNode reclaimed = waitTask(operator, operator.post("/datastores/local/volumes/rc1/reclaim", null));
        assertEquals(reclaimed.toString(), "SUCCEEDED", reclaimed.get("state").asText());
        assertTrue(reclaimed.get("result").has("freedBytes"));
        expect(204, operator.delete("/datastores/local/volumes/rc1"));
        expect(200, viewer.get("/datastores/local/volumes/imp1/usage"));
        expect(204, operator.delete("/datastores/local/volumes/imp1/stats"));
        JsonNode dsCheck = waitTask(admin, admin.post("/datastores/local/check", Map.of("repair", false)));
        assertTrue(dsCheck.toString(), Set.of("SUCCEEDED", "FAILED").contains(dsCheck.get("state").asText()));
        // A finished task is cancelled by nobody: the answer is its end.
        String taskId = dsCheck.get("id").asText();
        expect(200, operator.post("/tasks/" + taskId + "/cancel", null));
        assertEquals("TASK_NOT_FOUND", expect(404, viewer.get("/tasks/task-999999")).code());
        // Filters.
        for (JsonNode v : expect(200, viewer.get("/volumes?format=qcow2&state=READY&name=imp*")).json()
                .get("items")) {
            assertEquals("qcow2", v.get("format").asText());
        }
        assertEquals("INVALID_ARGUMENT", expect(400, viewer.get("/volumes?state=SLEEPING")).code());

        // A resource with a device, its paths, a change with If-Match, a raw device mapping.
        Path lun = work.resolve("rdm.img");
        Answer res = expect(201, admin.post("/resources", Map.of("name", "rdm", "driver", "local",
                "parameters", Map.of("kind", "file-lun", "path", lun.toString(), "size", "64M"))));
        JsonNode devices = expect(200, admin.get("/resources/rdm/devices")).json();
        assertEquals(1, devices.size());
        String device = devices.get(0).get("id").asText();
        expect(200, viewer.get("/resources/rdm/paths"));
        Answer stale = expect(412, admin.send("PATCH", "/resources/rdm", Map.of("parameters", Map.of("size", "64M")),
                Map.of("If-Match", "\"stale\"")));
        assertEquals("PRECONDITION_FAILED", stale.code());
        Answer patched = admin.send("PATCH", "/resources/rdm", Map.of("parameters", Map.of("size", "64M")),
                Map.of("If-Match", res.header("ETag")));
        assertTrue(patched.toString(), patched.status() == 200 || patched.status() == 501);
        Answer path = admin.send("PUT", "/resources/rdm/paths/nope", Map.of("enabled", false), Map.of());
        assertTrue(path.toString(), path.status() >= 400 && path.code() != null);
        assertEquals("PERMISSION_DENIED", expect(403, operator.post("/datastores/local/mappings",
                Map.of("name", "rdm1", "resource", "rdm", "device", device))).code());
        JsonNode mapped = expect(201, admin.post("/datastores/local/mappings",
                Map.of("name", "rdm1", "resource", "rdm", "device", device))).json();
        assertEquals(64L << 20, mapped.get("virtualSize").asLong());
        assertEquals("RESOURCE_IN_USE", expect(409, admin.post("/datastores/local/mappings",
                Map.of("name", "rdm2", "resource", "rdm", "device", device))).code());
        expect(204, operator.delete("/datastores/local/volumes/rdm1"));
        expect(204, admin.delete("/resources/rdm"));
        Answer grow = admin.post("/datastores/local/grow", null);
        assertTrue(grow.toString(), grow.status() == 200 || grow.status() == 501);
        expect(400, admin.delete("/tokens/000000000000"));

        expect(204, operator.delete("/datastores/local/volumes/imp1"));
    }

    @Test
    public void everyRoleMayDoOnlyItsShareAndARefusalChangesNothing() throws Exception {
        expect(201, admin.post("/datastores/local/volumes", Map.of("name", "keep", "size", 1L << 20,
                "format", "qcow2")));
        String before = state();
        RestClient noRole = anonymous.basic("norole", "norole-pw");
        // viewer: reads pass, every change is 403
        for (String p : List.of("/host", "/drivers", "/resources", "/datastores", "/datastores/local",
                "/datastores/local/volumes", "/volumes", "/datastores/local/volumes/keep", "/exports", "/tasks",
                "/stats", "/metrics", "/datastores/local/volumes/keep/qos", "/datastores/local/volumes/keep/usage")) {
            expect(200, viewer.get(p));
            expect(401, anonymous.get(p));
            expect(403, noRole.get(p));
        }
        List<Object[]> operatorOps = List.of(
                new Object[] {"POST", "/datastores/local/volumes", Map.of("name", "x1", "size", 1 << 20)},
                new Object[] {"DELETE", "/datastores/local/volumes/keep", null},
                new Object[] {"PATCH", "/datastores/local/volumes/keep", Map.of("size", 2 << 20)},
                new Object[] {"POST", "/datastores/local/volumes/keep/snapshots", Map.of("name", "s")},
                new Object[] {"POST", "/datastores/local/volumes/keep/clone", Map.of("name", "c", "linked", true)},
                new Object[] {"PUT", "/datastores/local/volumes/keep/qos", Map.of("iops", 100)},
                new Object[] {"POST", "/exports", Map.of("datastore", "local", "volume", "keep")});
        List<Object[]> adminOps = List.of(
                new Object[] {"POST", "/resources", Map.of("name", "r9", "driver", "local",
                        "parameters", Map.of("kind", "directory", "path", work.resolve("r9").toString()))},
                new Object[] {"DELETE", "/datastores/local", null},
                new Object[] {"POST", "/datastores", Map.of("name", "d9", "filesystem", "dir", "device", "local")},
                new Object[] {"POST", "/tokens", Map.of("user", "x", "role", "admin")},
                new Object[] {"GET", "/tokens", null},
                new Object[] {"GET", "/audit", null});
        for (Object[] op : operatorOps) {
            expect(403, viewer.send((String) op[0], (String) op[1], op[2], Map.of()));
            expect(401, anonymous.send((String) op[0], (String) op[1], op[2], Map.of()));
        }
        for (Object[] op : adminOps) {
            expect(403, viewer.send((String) op[0], (String) op[1], op[2], Map.of()));
            Answer a = expect(403, operator.send((String) op[0], (String) op[1], op[2], Map.of()));
            assertEquals("PERMISSION_DENIED", a.code());
            assertEquals("admin", a.json().get("details").get("needed").asText());
            expect(401, anonymous.send((String) op[0], (String) op[1], op[2], Map.of()));
        }
        assertEquals(before, state());
        // Every denial is in the audit log, with who and what.
        JsonNode audit = expect(200, admin.get("/audit?limit=10000")).json();
        int denied403 = 0;
        int denied401 = 0;
        for (JsonNode e : audit) {
            if (e.get("status").asInt() == 403 && e.get("user").asText().equals("vera")) {
                denied403++;
            }
            if (e.get("status").asInt() == 401 && e.get("user").asText().equals("-")) {
                denied401++;
            }
        }
        assertTrue(audit.toString(), denied403 >= operatorOps.size() + adminOps.size());
        assertTrue(audit.toString(), denied401 >= operatorOps.size() + adminOps.size());
        String shell = karaf.ok("storage:audit-list --denied --user vera -n 1000");
        assertTrue(shell, shell.contains("POST /datastores/{ds}/volumes"));
        // The operator may do its share.
        expect(201, operator.post("/datastores/local/volumes/keep/snapshots", Map.of("name", "s")));
        expect(200, operator.send("PUT", "/datastores/local/volumes/keep/qos", Map.of("iops", 100), Map.of()));
        expect(204, operator.delete("/datastores/local/volumes/keep"));
        JsonNode mine = expect(200, admin.get("/audit?limit=50&user=opal")).json();
        assertTrue(mine.toString(), mine.toString().contains("\"action\":\"DELETE /datastores/{ds}/volumes/{vol}\""));
    }

    @Test
    public void tokensAreHashedAndRevokedOrExpiredOnesAreRefused() throws Exception {
        String t = token("robot", "operator", "--description", "ci");
        RestClient robot = anonymous.bearer(t);
        expect(200, robot.get("/host"));
        String id = t.split("_")[1];
        String file = Files.readString(karaf.data().resolve("strata/rest/tokens.json"));
        assertTrue(file, file.contains(id));
        assertFalse("the secret is stored", file.contains(t.split("_")[2]));
        JsonNode listed = expect(200, admin.get("/tokens")).json();
        assertFalse(listed.toString(), listed.toString().contains(t.split("_")[2]));
        karaf.ok("storage:token-revoke " + id);
        assertEquals("UNAUTHENTICATED", expect(401, robot.get("/host")).code());
        assertTrue(karaf.ok("storage:token-list").contains("opal"));
        assertFalse(karaf.ok("storage:token-list").contains(id));

        String shortLived = token("robot2", "viewer", "--expires", "2s");
        expect(200, anonymous.bearer(shortLived).get("/host"));
        KarafProcess.sleep(3000);
        expect(401, anonymous.bearer(shortLived).get("/host"));
        // A token made through the API works at once and shows its secret only in that answer.
        JsonNode made = expect(201, admin.post("/tokens", Map.of("user", "api", "role", "viewer"))).json();
        expect(200, anonymous.bearer(made.get("secret").asText()).get("/volumes"));
        expect(403, anonymous.bearer(made.get("secret").asText()).post("/datastores/local/volumes",
                Map.of("name", "nope", "size", 1 << 20)));
        expect(204, admin.delete("/tokens/" + made.get("token").get("id").asText()));
        expect(401, anonymous.bearer(made.get("secret").asText()).get("/volumes"));
    }

    @Test
    public void badInputIsRefusedWithACodeAndChangesNothing() throws Exception {
        String before = state();
        String create = "/datastores/local/volumes";
        assertEquals("INVALID_NAME", expect(400, operator.post(create, Map.of("name", "../etc", "size", 1 << 20)))
                .code());
        assertEquals("INVALID_NAME", expect(400, operator.post(create, Map.of("name", "a/b", "size", 1 << 20)))
                .code());
        assertEquals("INVALID_NAME", expect(400, operator.post(create, Map.of("name", "a\u0001b", "size", 1 << 20)))
                .code());
        expect(400, operator.get("/datastores/local/volumes/a%01b"));
        expect(400, operator.get("/datastores/local/volumes/..%2Fx"));
        Answer malformed = expect(400, operator.post(create, "{\"name\": \"x\", "));
        assertEquals("INVALID_ARGUMENT", malformed.code());
        Answer wrongType = expect(400, operator.post(create, "{\"name\":\"x\",\"size\":\"big\"}"));
        assertEquals("size", wrongType.json().get("details").get("field").asText());
        Answer unknown = expect(400, operator.post(create, "{\"name\":\"x\",\"size\":1048576,\"sise\":1}"));
        assertEquals("sise", unknown.json().get("details").get("field").asText());
        Answer missing = expect(400, operator.post(create, "{\"name\":\"x\"}"));
        assertEquals("size", missing.json().get("details").get("field").asText());
        byte[] big = new byte[2 << 20];
        java.util.Arrays.fill(big, (byte) ' ');
        big[0] = '{';
        big[big.length - 1] = '}';
        assertEquals("PAYLOAD_TOO_LARGE", expect(413, operator.send("POST", create, big, Map.of())).code());
        assertEquals("INVALID_SIZE", expect(400, operator.post(create, Map.of("name", "odd", "size", 1000))).code());
        assertEquals("NOT_FOUND", expect(404, operator.get("/no/such/path")).code());
        assertEquals("METHOD_NOT_ALLOWED", expect(405, operator.send("PUT", "/host", "{}", Map.of())).code());
        assertEquals("UNSUPPORTED_MEDIA_TYPE", expect(415, operator.send("POST", create, "name=x",
                Map.of("Content-Type", "text/plain"))).code());
        assertEquals("VOLUME_NOT_FOUND", expect(404, operator.get("/datastores/local/volumes/nope")).code());
        assertEquals("INVALID_ARGUMENT", expect(400, operator.get("/volumes?limit=abc")).code());
        assertEquals(before, state());
    }

    @Test
    public void ifMatchStopsABlindOverwriteAndIdempotencyKeysAreChecked() throws Exception {
        Answer v = expect(201, operator.post("/datastores/local/volumes", Map.of("name", "etag1", "size", 1 << 20,
                "format", "raw")));
        String tag = v.header("ETag");
        assertEquals(tag, expect(200, operator.get("/datastores/local/volumes/etag1")).header("ETag"));
        Answer stale = expect(412, operator.send("PATCH", "/datastores/local/volumes/etag1", Map.of("size", 2 << 20),
                Map.of("If-Match", "\"0000\"")));
        assertEquals("PRECONDITION_FAILED", stale.code());
        assertEquals(1 << 20, expect(200, operator.get("/datastores/local/volumes/etag1")).json()
                .get("virtualSize").asLong());
        Answer grown = expect(200, operator.send("PATCH", "/datastores/local/volumes/etag1", Map.of("size", 2 << 20),
                Map.of("If-Match", tag)));
        assertNotEquals(tag, grown.header("ETag"));
        expect(412, operator.send("DELETE", "/datastores/local/volumes/etag1", null, Map.of("If-Match", tag)));
        expect(201, operator.send("POST", "/datastores/local/volumes", Map.of("name", "etag2", "size", 1 << 20),
                Map.of("Idempotency-Key", "k-reused")));
        assertEquals("IDEMPOTENCY_KEY_REUSED", expect(422, operator.send("POST", "/datastores/local/volumes",
                Map.of("name", "etag3", "size", 1 << 20), Map.of("Idempotency-Key", "k-reused"))).code());
        assertFalse(volumeNames("local").contains("etag3"));
        // The same key from another user is that user's own.
        expect(201, admin.send("POST", "/datastores/local/volumes", Map.of("name", "etag3", "size", 1 << 20),
                Map.of("Idempotency-Key", "k-reused")));
        expect(204, operator.delete("/datastores/local/volumes/etag2"));
        expect(204, operator.delete("/datastores/local/volumes/etag3"));
        expect(204, operator.send("DELETE", "/datastores/local/volumes/etag1", null,
                Map.of("If-Match", grown.header("ETag"))));
    }

    @Test
    public void tlsIsOnlyWhatIsConfiguredAndTheCertificateVerifies() throws Exception {
        String url = karaf.apiBase() + "/openapi.json";
        // Verified against the PEM the instance made (no -k): the certificate names 127.0.0.1.
        assertEquals("200", curl("-o", "/dev/null", "-w", "%{http_code}", "--cacert", cert.toString(), url).strip());
        assertEquals("200", curl("-o", "/dev/null", "-w", "%{http_code}", "--cacert", cert.toString(),
                "--tlsv1.2", "--tls-max", "1.2", url).strip());
        assertEquals("200", curl("-o", "/dev/null", "-w", "%{http_code}", "--cacert", cert.toString(),
                "--tlsv1.3", url).strip());
        HostTools.Result old = curlResult("-o", "/dev/null", "--cacert", cert.toString(), "--tlsv1.1", "--tls-max",
                "1.1", url);
        assertNotEquals("TLS 1.1 was accepted", 0, old.exit());
        HostTools.Result plain = curlResult("-o", "/dev/null", "http://127.0.0.1:" + karaf.httpsPort()
                + "/api/v1/openapi.json");
        assertNotEquals("plain HTTP on the TLS port", "200", plain.out().strip());
        HostTools.Result http = curlResult("-o", "/dev/null", "--max-time", "5",
                "http://127.0.0.1:" + httpPort + "/api/v1/openapi.json");
        assertEquals("plain HTTP answered: " + http.out(), 7, http.exit());
        String keystoreMode = Files.getPosixFilePermissions(karaf.data().resolve("strata/tls/https.p12")).toString();
        assertEquals("[OWNER_READ, OWNER_WRITE]", keystoreMode.replace("OWNER_WRITE, OWNER_READ",
                "OWNER_READ, OWNER_WRITE"));
    }

    @Test
    public void failedLoginsAreLimitedPerClient() throws Exception {
        String url = karaf.apiBase() + "/host";
        for (int i = 0; i < 5; i++) {
            assertEquals("401", curl("--interface", "127.0.0.2", "-o", "/dev/null", "-w", "%{http_code}", "--cacert",
                    cert.toString(), "-u", "karaf:wrong" + i, url).strip());
        }
        String limited = curl("--interface", "127.0.0.2", "-s", "-D", "-", "--cacert", cert.toString(),
                "-u", "karaf:karaf", url);
        assertTrue(limited, limited.startsWith("HTTP/1.1 429"));
        assertTrue(limited, limited.toLowerCase().contains("retry-after:"));
        assertTrue(limited, limited.contains("TOO_MANY_REQUESTS"));
        // Another client is not affected.
        expect(200, admin.get("/host"));
        JsonNode audit = expect(200, admin.get("/audit?limit=200")).json();
        int fromThere = 0;
        for (JsonNode e : audit) {
            if (e.get("client").asText().equals("127.0.0.2")) {
                fromThere++;
            }
        }
        assertTrue(audit.toString(), fromThere >= 6);
    }

    @Test
    public void tasksAreAwaitedAndChangesArriveAsEvents() throws Exception {
        expect(201, operator.post("/datastores/local/volumes", Map.of("name", "ev1", "size", 4 << 20,
                "format", "qcow2")));
        expect(201, operator.post("/datastores/local/volumes/ev1/snapshots", Map.of("name", "s1")));
        long last = expect(200, viewer.get("/events")).json().get("last").asLong();
        // The SSE stream, read by curl.
        Process sse = new ProcessBuilder("curl", "-sN", "--max-time", "60", "--cacert", cert.toString(), "-u",
                "vera:vera-pw", "-H", "Accept: text/event-stream", karaf.apiBase() + "/events")
                .redirectErrorStream(true).start();
        try {
            BufferedReader lines = new BufferedReader(new InputStreamReader(sse.getInputStream(),
                    StandardCharsets.UTF_8));
            String first = lines.readLine();
            assertTrue(first, first != null && first.startsWith(":"));
            JsonNode task = waitTask(operator, operator.delete("/datastores/local/volumes/ev1/snapshots/s1"));
            assertEquals("SUCCEEDED", task.get("state").asText());
            JsonNode page = expect(200, viewer.get("/events?after=" + last + "&wait=20")).json();
            boolean seen = false;
            for (JsonNode e : page.get("events")) {
                seen |= e.get("type").asText().equals("task") && e.get("id").asText().equals(task.get("id").asText());
            }
            assertTrue(page.toString(), seen);
            List<String> got = new ArrayList<>();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            String line;
            while (System.nanoTime() < deadline && (line = lines.readLine()) != null) {
                got.add(line);
                if (line.startsWith("data:") && line.contains(task.get("id").asText())) {
                    break;
                }
            }
            assertTrue(got.toString(), got.contains("event: task") || got.contains("event:task"));
        } finally {
            sse.destroyForcibly();
            sse.waitFor(10, TimeUnit.SECONDS);
        }
        expect(204, operator.delete("/datastores/local/volumes/ev1"));
    }

    @Test
    public void aHundredClientsCreateListAndDeleteWithoutLossOrDuplicates() throws Exception {
        int clients = 100;
        ExecutorService pool = Executors.newFixedThreadPool(clients);
        ConcurrentLinkedQueue<String> errors = new ConcurrentLinkedQueue<>();
        CountDownLatch go = new CountDownLatch(1);
        List<Future<?>> done = new ArrayList<>();
        try {
            for (int i = 0; i < clients; i++) {
                String name = String.format("par%03d", i);
                done.add(pool.submit(() -> {
                    go.await();
                    Map<String, Object> spec = Map.of("name", name, "size", 1 << 20, "format", "raw");
                    Map<String, String> key = Map.of("Idempotency-Key", "par-" + name);
                    Answer a = operator.send("POST", "/datastores/local/volumes", spec, key);
                    Answer retry = operator.send("POST", "/datastores/local/volumes", spec, key);
                    if (a.status() != 201 || retry.status() != 201) {
                        errors.add(name + ": " + a + " / " + retry);
                    }
                    Answer list = viewer.get("/datastores/local/volumes?limit=1000&name=par*");
                    if (list.status() != 200) {
                        errors.add(name + " list: " + list);
                    }
                    int n = Integer.parseInt(name.substring(3));
                    if (n % 2 == 0) {
                        Answer d = operator.delete("/datastores/local/volumes/" + name);
                        if (d.status() != 204) {
                            errors.add(name + " delete: " + d);
                        }
                    }
                    return null;
                }));
            }
            go.countDown();
            for (Future<?> f : done) {
                f.get(5, TimeUnit.MINUTES);
            }
        } finally {
            pool.shutdownNow();
        }
        assertEquals(errors.toString(), List.of(), new ArrayList<>(errors));
        Set<String> expected = new TreeSet<>();
        for (int i = 1; i < clients; i += 2) {
            expected.add(String.format("par%03d", i));
        }
        Set<String> listed = new TreeSet<>();
        List<String> all = new ArrayList<>();
        for (JsonNode v : expect(200, viewer.get("/datastores/local/volumes?limit=1000&name=par*")).json()
                .get("items")) {
            listed.add(v.get("name").asText());
            all.add(v.get("name").asText());
        }
        assertEquals(expected, listed);
        assertEquals("duplicates", listed.size(), all.size());
        Collections.sort(all);
        // Paging walks the same set.
        Set<String> paged = new TreeSet<>();
        for (int offset = 0; offset < 50; offset += 7) {
            for (JsonNode v : expect(200, viewer.get("/datastores/local/volumes?name=par*&limit=7&offset=" + offset))
                    .json().get("items")) {
                assertTrue("a page repeats " + v, paged.add(v.get("name").asText()));
            }
        }
        assertEquals(expected, paged);
        for (String n : expected) {
            expect(204, operator.delete("/datastores/local/volumes/" + n));
        }
    }

    @Test
    public void theRestBundleIsStoppedAndStartedAloneAndKeepsItsTokens() throws Exception {
        String t = token("redeploy", "viewer");
        expect(200, anonymous.bearer(t).get("/host"));
        io.strata.testing.OpenApiCheck contract = RestClient.contract;
        // While the bundle is stopped the answers are the container's, not the API's.
        RestClient.contract = null;
        int status = 200;
        try {
            // The bundle alone: uninstalling the feature would also take the HTTP runtime (Pax
            // Web, CXF) that only it needs, and the refresh that follows restarts the SSH shell.
            karaf.ok("bundle:stop io.strata.rest");
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (System.nanoTime() < deadline && status == 200) {
                status = anonymous.bearer(t).get("/host").status();
                KarafProcess.sleep(200);
            }
            assertEquals("the API still answers without its bundle", 404, status);
            // The storage stack does not notice: the shell still works, and the token commands
            // say what is missing.
            assertTrue(karaf.ok("storage:datastore-list").contains("local"));
            String missing = karaf.error("storage:token-list");
            assertTrue(missing, missing.contains("UNSUPPORTED") && missing.contains("strata-rest"));
        } finally {
            RestClient.contract = contract;
            karaf.exec("bundle:start io.strata.rest");
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (System.nanoTime() < deadline && status != 200) {
            try {
                RestClient.contract = null;
                status = anonymous.bearer(t).get("/host").status();
            } catch (RuntimeException e) {
                status = -1;
            } finally {
                RestClient.contract = contract;
            }
            KarafProcess.sleep(200);
        }
        assertEquals("the API did not come back", 200, status);
        expect(200, anonymous.bearer(t).get("/host"));
        expect(200, operator.get("/volumes"));
    }

    private static String curl(String... args) throws Exception {
        HostTools.Result r = curlResult(args);
        assertEquals(r.out(), 0, r.exit());
        return r.out();
    }

    private static HostTools.Result curlResult(String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("curl", "-s", "--max-time", "30"));
        cmd.addAll(List.of(args));
        return HostTools.result(cmd, Duration.ofSeconds(60));
    }
}

package io.strata.rest.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.strata.api.Capability;
import io.strata.api.ErrorCode;
import io.strata.api.device.DeviceInfo;
import io.strata.api.device.DeviceKind;
import io.strata.api.device.DeviceState;
import io.strata.api.device.PathInfo;
import io.strata.api.format.CheckReport;
import io.strata.api.format.Provisioning;
import io.strata.api.service.Availability;
import io.strata.api.service.DatastoreInfo;
import io.strata.api.service.ExportInfo;
import io.strata.api.service.HostInfo;
import io.strata.api.service.IoStats;
import io.strata.api.service.PluginInfo;
import io.strata.api.service.PluginKind;
import io.strata.api.service.QosLimits;
import io.strata.api.service.ResourceInfo;
import io.strata.api.service.ResourcePath;
import io.strata.api.service.SnapshotInfo;
import io.strata.api.service.TaskInfo;
import io.strata.api.service.TaskState;
import io.strata.api.service.VolumeInfo;
import io.strata.api.service.VolumeRef;
import io.strata.api.service.VolumeState;
import io.strata.api.service.VolumeStats;
import io.strata.api.service.VolumeUsage;
import io.strata.rest.internal.security.AuditEntry;
import io.strata.testing.OpenApiCheck;
import java.io.IOException;
import java.io.InputStream;
import java.lang.annotation.Annotation;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.Parameter;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.RecordComponent;
import java.lang.reflect.Type;
import java.lang.reflect.TypeVariable;
import java.lang.reflect.WildcardType;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import javax.ws.rs.BeanParam;
import javax.ws.rs.CookieParam;
import javax.ws.rs.FormParam;
import javax.ws.rs.HeaderParam;
import javax.ws.rs.HttpMethod;
import javax.ws.rs.MatrixParam;
import javax.ws.rs.PathParam;
import javax.ws.rs.QueryParam;
import javax.ws.rs.core.Context;
import javax.ws.rs.core.Response;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Keeps {@code openapi.json} true to the resource classes: every resource method is an
 * operation of the document and every operation a resource method, with the method's role,
 * parameters and request body; every schema of a Java record has the record's fields with
 * matching types; and real answers, written by {@link Json#mapper()}, fit the schemas.
 * A resource method added without documenting it fails here.
 */
class OpenApiContractTest {
    /** Every class the application serves; {@link #theResourceListIsComplete} keeps it so. */
    private static final List<Class<?>> RESOURCES = List.of(StorageApi.class, VolumeApi.class, TaskApi.class,
            SecurityApi.class, MetricsApi.class, OpenApiDoc.class);

    /** Schemas that describe a Java record (or a record with its type argument). */
    private static final Map<String, Type> RECORDS = new LinkedHashMap<>();
    /** Schemas that describe a Java enum, as {@link Json} writes it (its toString). */
    private static final Map<String, Class<? extends Enum<?>>> ENUMS = new LinkedHashMap<>();
    /** Schemas of answers that Java builds as maps: name and why. */
    private static final Map<String, String> OTHER_SCHEMAS = Map.of(
            "ReclaimResult", "VolumeApi.reclaim's task result, a Map with freedBytes");
    /**
     * The fields each request body must have, as the resource methods check them with
     * {@code Requests.required(...)}; a body the method may go without is in
     * {@link #OPTIONAL_BODIES}.
     */
    private static final Map<Class<?>, Set<String>> REQUIRED = new LinkedHashMap<>();
    private static final Set<Class<?>> OPTIONAL_BODIES = Set.of(Requests.DatastoreCheck.class,
            Requests.VolumeCheck.class);
    private static final Set<String> AUTHENTICATED_ERRORS = Set.of("401", "403", "413", "429", "500");
    private static final Set<String> PARAM_ANNOTATIONS = Set.of(PathParam.class.getName(),
            QueryParam.class.getName(), HeaderParam.class.getName(), Context.class.getName(),
            CookieParam.class.getName(), MatrixParam.class.getName(), FormParam.class.getName(),
            BeanParam.class.getName());

    static {
        RECORDS.put("ApiError", ApiError.class);
        RECORDS.put("VolumeRef", VolumeRef.class);
        RECORDS.put("HostInfo", HostInfo.class);
        RECORDS.put("HostShared", HostInfo.Shared.class);
        RECORDS.put("HostMember", HostInfo.Member.class);
        RECORDS.put("PluginInfo", PluginInfo.class);
        RECORDS.put("ResourceInfo", ResourceInfo.class);
        RECORDS.put("DeviceInfo", DeviceInfo.class);
        RECORDS.put("PathInfo", PathInfo.class);
        RECORDS.put("ResourcePath", ResourcePath.class);
        RECORDS.put("DatastoreInfo", DatastoreInfo.class);
        RECORDS.put("ExportInfo", ExportInfo.class);
        RECORDS.put("VolumeInfo", VolumeInfo.class);
        RECORDS.put("VolumePage", parameterized(Page.class, VolumeInfo.class));
        RECORDS.put("SnapshotInfo", SnapshotInfo.class);
        RECORDS.put("VolumeUsage", io.strata.api.service.VolumeUsage.class);
        RECORDS.put("QosLimits", QosLimits.class);
        RECORDS.put("IoStats", IoStats.class);
        RECORDS.put("VolumeStats", VolumeStats.class);
        RECORDS.put("CheckReport", CheckReport.class);
        RECORDS.put("TaskView", TaskView.class);
        RECORDS.put("Event", EventHub.Event.class);
        RECORDS.put("EventPage", TaskApi.EventPage.class);
        RECORDS.put("TokenView", SecurityApi.TokenView.class);
        RECORDS.put("NewToken", SecurityApi.NewToken.class);
        RECORDS.put("AuditEntry", AuditEntry.class);
        RECORDS.put("ResourceCreate", Requests.ResourceCreate.class);
        RECORDS.put("ResourceUpdate", Requests.ResourceUpdate.class);
        RECORDS.put("PathUpdate", Requests.PathUpdate.class);
        RECORDS.put("DatastoreCreate", Requests.DatastoreCreate.class);
        RECORDS.put("DatastoreCheck", Requests.DatastoreCheck.class);
        RECORDS.put("VolumeCreate", Requests.VolumeCreate.class);
        RECORDS.put("VolumeUpdate", Requests.VolumeUpdate.class);
        RECORDS.put("VolumeClone", Requests.VolumeClone.class);
        RECORDS.put("VolumeCheck", Requests.VolumeCheck.class);
        RECORDS.put("VolumeImport", Requests.VolumeImport.class);
        RECORDS.put("VolumeMap", Requests.VolumeMap.class);
        RECORDS.put("SnapshotCreate", Requests.SnapshotCreate.class);
        RECORDS.put("ExportCreate", Requests.ExportCreate.class);
        RECORDS.put("QosUpdate", Requests.QosUpdate.class);
        RECORDS.put("TokenCreate", Requests.TokenCreate.class);

        ENUMS.put("Availability", Availability.class);
        ENUMS.put("VolumeState", VolumeState.class);
        ENUMS.put("TaskState", TaskState.class);
        ENUMS.put("Provisioning", Provisioning.class);
        ENUMS.put("DeviceKind", DeviceKind.class);
        ENUMS.put("DeviceState", DeviceState.class);
        ENUMS.put("PluginKind", PluginKind.class);
        ENUMS.put("Capability", Capability.class);

        REQUIRED.put(Requests.ResourceCreate.class, Set.of("name", "driver"));
        REQUIRED.put(Requests.ResourceUpdate.class, Set.of("parameters"));
        REQUIRED.put(Requests.PathUpdate.class, Set.of("enabled"));
        REQUIRED.put(Requests.DatastoreCreate.class, Set.of("name", "filesystem"));
        REQUIRED.put(Requests.DatastoreCheck.class, Set.of());
        REQUIRED.put(Requests.VolumeCreate.class, Set.of("name", "size"));
        REQUIRED.put(Requests.VolumeUpdate.class, Set.of("size"));
        REQUIRED.put(Requests.VolumeClone.class, Set.of("name"));
        REQUIRED.put(Requests.VolumeCheck.class, Set.of());
        REQUIRED.put(Requests.VolumeImport.class, Set.of("name", "file"));
        REQUIRED.put(Requests.VolumeMap.class, Set.of("name", "resource", "device"));
        REQUIRED.put(Requests.SnapshotCreate.class, Set.of("name"));
        REQUIRED.put(Requests.ExportCreate.class, Set.of("datastore", "volume"));
        REQUIRED.put(Requests.QosUpdate.class, Set.of());
        REQUIRED.put(Requests.TokenCreate.class, Set.of("user", "role"));
    }

    private static String text;
    private static JsonNode doc;
    private static OpenApiCheck check;
    private static final ObjectMapper JSON = Json.mapper();

    /** One resource method: its HTTP method (upper case) and full path template. */
    private record JavaOp(String method, String path, Method java) {
        String key() {
            return method + " " + path;
        }
    }

    @BeforeAll
    static void read() throws IOException {
        try (InputStream in = OpenApiDoc.class.getResourceAsStream(OpenApiDoc.RESOURCE)) {
            assertNotNull(in, OpenApiDoc.RESOURCE);
            text = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        doc = new ObjectMapper().readTree(text);
        check = OpenApiCheck.of(text);
    }

    // ---------------------------------------------------------------- operations

    private static List<JavaOp> javaOps() {
        List<JavaOp> out = new ArrayList<>();
        for (Class<?> c : RESOURCES) {
            javax.ws.rs.Path base = c.getAnnotation(javax.ws.rs.Path.class);
            for (Method m : c.getMethods()) {
                String http = httpMethod(m);
                if (http == null) {
                    continue;
                }
                javax.ws.rs.Path sub = m.getAnnotation(javax.ws.rs.Path.class);
                out.add(new JavaOp(http, template((base == null ? "" : base.value()) + "/"
                        + (sub == null ? "" : sub.value())), m));
            }
        }
        out.sort((a, b) -> a.key().compareTo(b.key()));
        return out;
    }

    private static Map<String, List<JavaOp>> javaOpsByKey() {
        Map<String, List<JavaOp>> byKey = new TreeMap<>();
        for (JavaOp op : javaOps()) {
            byKey.computeIfAbsent(op.key(), k -> new ArrayList<>()).add(op);
        }
        return byKey;
    }

    private static String httpMethod(Method m) {
        for (Annotation a : m.getAnnotations()) {
            HttpMethod h = a.annotationType().getAnnotation(HttpMethod.class);
            if (h != null) {
                return h.value().toUpperCase(Locale.ROOT);
            }
        }
        return null;
    }

    /** {@code //a/{id: [0-9]+}/} as {@code /a/{id}}. */
    static String template(String path) {
        String p = path.replaceAll("\\{\\s*([^}:\\s]+)\\s*(:[^}]*)?}", "{$1}").replaceAll("/+", "/");
        if (!p.startsWith("/")) {
            p = "/" + p;
        }
        while (p.length() > 1 && p.endsWith("/")) {
            p = p.substring(0, p.length() - 1);
        }
        return p;
    }

    private static Map<String, JsonNode> docOps() {
        Map<String, JsonNode> out = new TreeMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> paths = doc.path("paths").fields(); paths.hasNext();) {
            Map.Entry<String, JsonNode> p = paths.next();
            for (Iterator<Map.Entry<String, JsonNode>> ops = p.getValue().fields(); ops.hasNext();) {
                Map.Entry<String, JsonNode> o = ops.next();
                if (Set.of("get", "put", "post", "delete", "options", "head", "patch", "trace").contains(o.getKey())) {
                    out.put(o.getKey().toUpperCase(Locale.ROOT) + " " + p.getKey(), o.getValue());
                }
            }
        }
        return out;
    }

    private static JsonNode pathItem(String key) {
        return doc.path("paths").path(key.substring(key.indexOf(' ') + 1));
    }

    private static JsonNode deref(JsonNode n) {
        JsonNode at = n;
        int hops = 0;
        while (at != null && at.has("$ref")) {
            String ref = at.get("$ref").asText();
            assertTrue(ref.startsWith("#/"), "only local references: " + ref);
            at = doc.at(ref.substring(1));
            assertTrue(!at.isMissingNode(), "the reference " + ref + " names nothing");
            assertTrue(++hops < 10, "a reference loop at " + ref);
        }
        return at;
    }

    @Test
    void theResourceListIsComplete() throws IOException, URISyntaxException {
        Path classes = Path.of(OpenApiDoc.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        assertTrue(Files.isDirectory(classes), "the main classes are a directory: " + classes);
        Set<String> found = new TreeSet<>();
        try (Stream<Path> files = Files.walk(classes)) {
            for (Path f : (Iterable<Path>) files.filter(p -> p.toString().endsWith(".class"))::iterator) {
                String name = classes.relativize(f).toString().replace('/', '.').replace('\\', '.');
                name = name.substring(0, name.length() - ".class".length());
                boolean served;
                try {
                    Class<?> c = Class.forName(name, false, OpenApiDoc.class.getClassLoader());
                    served = c.isAnnotationPresent(javax.ws.rs.Path.class)
                            || Arrays.stream(c.getDeclaredMethods()).anyMatch(m -> httpMethod(m) != null);
                } catch (ClassNotFoundException | LinkageError e) {
                    continue;
                }
                if (served) {
                    found.add(name);
                }
            }
        }
        Set<String> listed = RESOURCES.stream().map(Class::getName).collect(Collectors.toCollection(TreeSet::new));
        assertEquals(listed, found, "classes with @Path or HTTP method annotations; add a new one to RESOURCES "
                + "and document its operations");
    }

    @Test
    void everyResourceMethodIsDocumentedAndNothingElse() {
        Set<String> java = javaOpsByKey().keySet();
        Set<String> documented = docOps().keySet();
        Set<String> undocumented = new TreeSet<>(java);
        undocumented.removeAll(documented);
        Set<String> invented = new TreeSet<>(documented);
        invented.removeAll(java);
        assertTrue(undocumented.isEmpty() && invented.isEmpty(), "resource methods missing from openapi.json: "
                + undocumented + "; operations in openapi.json that no resource method serves: " + invented);
    }

    @Test
    void rolesAreTheMethodsRoles() {
        List<String> wrong = new ArrayList<>();
        Map<String, JsonNode> ops = docOps();
        for (Map.Entry<String, List<JavaOp>> e : javaOpsByKey().entrySet()) {
            JsonNode op = ops.get(e.getKey());
            if (op == null) {
                continue;
            }
            for (JavaOp j : e.getValue()) {
                Allowed allowed = j.java().getAnnotation(Allowed.class);
                String path = e.getKey().substring(e.getKey().indexOf(' ') + 2);
                if (allowed == null) {
                    if (!Filters.PUBLIC.contains(path)) {
                        wrong.add(e.getKey() + ": " + j.java() + " has no @Allowed and is not public");
                    }
                    if (op.has("x-strata-role") || !op.path("security").isArray() || op.path("security").size() != 0) {
                        wrong.add(e.getKey() + ": a public operation has security: [] and no x-strata-role");
                    }
                    continue;
                }
                String role = op.path("x-strata-role").asText(null);
                if (!allowed.value().id().equals(role)) {
                    wrong.add(e.getKey() + ": x-strata-role " + role + ", the method needs " + allowed.value().id());
                }
                if (op.has("security") && op.get("security").size() == 0) {
                    wrong.add(e.getKey() + ": needs a role, but is documented without security");
                }
            }
        }
        assertTrue(wrong.isEmpty(), String.join("\n", wrong));
    }

    @Test
    void securitySchemesAreBasicAndBearer() {
        JsonNode schemes = doc.path("components").path("securitySchemes");
        assertEquals("http", schemes.path("basicAuth").path("type").asText());
        assertEquals("basic", schemes.path("basicAuth").path("scheme").asText());
        assertEquals("http", schemes.path("bearerAuth").path("type").asText());
        assertEquals("bearer", schemes.path("bearerAuth").path("scheme").asText());
        Set<String> global = new TreeSet<>();
        doc.path("security").forEach(r -> r.fieldNames().forEachRemaining(global::add));
        assertEquals(Set.of("basicAuth", "bearerAuth"), global);
        assertEquals("/api/v1", doc.path("servers").path(0).path("url").asText());
    }

    @Test
    void parametersAreTheMethodsParameters() {
        List<String> wrong = new ArrayList<>();
        Map<String, JsonNode> ops = docOps();
        for (Map.Entry<String, List<JavaOp>> e : javaOpsByKey().entrySet()) {
            JsonNode op = ops.get(e.getKey());
            if (op == null) {
                continue;
            }
            Map<String, Set<String>> java = new TreeMap<>();
            for (String in : List.of("path", "query", "header")) {
                java.put(in, new TreeSet<>());
            }
            for (JavaOp j : e.getValue()) {
                for (Parameter p : j.java().getParameters()) {
                    if (p.isAnnotationPresent(PathParam.class)) {
                        java.get("path").add(p.getAnnotation(PathParam.class).value());
                    } else if (p.isAnnotationPresent(QueryParam.class)) {
                        java.get("query").add(p.getAnnotation(QueryParam.class).value());
                    } else if (p.isAnnotationPresent(HeaderParam.class)) {
                        java.get("header").add(p.getAnnotation(HeaderParam.class).value());
                    } else if (p.isAnnotationPresent(CookieParam.class) || p.isAnnotationPresent(MatrixParam.class)
                            || p.isAnnotationPresent(FormParam.class) || p.isAnnotationPresent(BeanParam.class)) {
                        wrong.add(e.getKey() + ": this test does not know " + p + " of " + j.java());
                    }
                }
            }
            Map<String, Set<String>> documented = new TreeMap<>();
            for (String in : List.of("path", "query", "header")) {
                documented.put(in, new TreeSet<>());
            }
            List<JsonNode> params = new ArrayList<>();
            pathItem(e.getKey()).path("parameters").forEach(params::add);
            op.path("parameters").forEach(params::add);
            for (JsonNode raw : params) {
                JsonNode p = deref(raw);
                String in = p.path("in").asText();
                if (!documented.containsKey(in)) {
                    wrong.add(e.getKey() + ": a parameter in " + in);
                    continue;
                }
                if (!documented.get(in).add(p.path("name").asText())) {
                    wrong.add(e.getKey() + ": the parameter " + p.path("name").asText() + " twice");
                }
                if (in.equals("path") && !p.path("required").asBoolean(false)) {
                    wrong.add(e.getKey() + ": the path parameter " + p.path("name").asText() + " is not required");
                }
            }
            if (!java.equals(documented)) {
                wrong.add(e.getKey() + ": documented " + documented + ", the code takes " + java);
            }
            Set<String> inTemplate = new TreeSet<>();
            Matcher m = Pattern.compile("\\{([^}]+)}").matcher(e.getKey());
            while (m.find()) {
                inTemplate.add(m.group(1));
            }
            if (!inTemplate.equals(documented.get("path"))) {
                wrong.add(e.getKey() + ": the template names " + inTemplate + ", the path parameters are "
                        + documented.get("path"));
            }
        }
        assertTrue(wrong.isEmpty(), String.join("\n", wrong));
    }

    private static Parameter entity(Method m) {
        Parameter found = null;
        for (Parameter p : m.getParameters()) {
            boolean annotated = Arrays.stream(p.getAnnotations())
                    .anyMatch(a -> PARAM_ANNOTATIONS.contains(a.annotationType().getName()));
            if (!annotated) {
                assertTrue(found == null, m + " has two entity parameters");
                found = p;
            }
        }
        return found;
    }

    @Test
    void requestBodiesAreTheRequestRecords() {
        List<String> wrong = new ArrayList<>();
        Map<String, JsonNode> ops = docOps();
        Set<Class<?>> used = new java.util.HashSet<>();
        for (Map.Entry<String, List<JavaOp>> e : javaOpsByKey().entrySet()) {
            JsonNode op = ops.get(e.getKey());
            if (op == null) {
                continue;
            }
            Parameter body = null;
            for (JavaOp j : e.getValue()) {
                Parameter p = entity(j.java());
                body = p != null ? p : body;
            }
            JsonNode requestBody = op.has("requestBody") ? deref(op.get("requestBody")) : null;
            if (body == null) {
                if (requestBody != null) {
                    wrong.add(e.getKey() + ": documents a body, but the method takes none");
                }
                continue;
            }
            Class<?> type = body.getType();
            used.add(type);
            if (requestBody == null) {
                wrong.add(e.getKey() + ": takes a " + type.getSimpleName() + " body, which is not documented");
                continue;
            }
            Set<String> media = new TreeSet<>();
            requestBody.path("content").fieldNames().forEachRemaining(media::add);
            if (!media.equals(Set.of("application/json"))) {
                wrong.add(e.getKey() + ": the body's media types are " + media);
            }
            String ref = requestBody.path("content").path("application/json").path("schema").path("$ref").asText("");
            String name = ref.substring(ref.lastIndexOf('/') + 1);
            if (!type.equals(RECORDS.get(name))) {
                wrong.add(e.getKey() + ": the body schema is '" + ref + "', the method takes " + type.getName());
                continue;
            }
            boolean required = !OPTIONAL_BODIES.contains(type);
            if (requestBody.path("required").asBoolean(false) != required) {
                wrong.add(e.getKey() + ": requestBody.required should be " + required);
            }
            JsonNode schema = doc.path("components").path("schemas").path(name);
            Set<String> documentedRequired = new TreeSet<>();
            schema.path("required").forEach(r -> documentedRequired.add(r.asText()));
            Set<String> codeRequired = REQUIRED.get(type);
            if (codeRequired == null) {
                wrong.add(e.getKey() + ": add " + type.getName() + " to REQUIRED in this test");
            } else if (!documentedRequired.equals(codeRequired)) {
                wrong.add(name + ": required " + documentedRequired + ", the code requires " + codeRequired);
            }
            for (String status : List.of("400", "415")) {
                if (!op.path("responses").has(status)) {
                    wrong.add(e.getKey() + ": takes a body but does not document " + status);
                }
            }
        }
        for (Class<?> nested : Requests.class.getDeclaredClasses()) {
            if (nested.isRecord() && !used.contains(nested)) {
                wrong.add(nested.getName() + " is taken by no resource method");
            }
            if (nested.isRecord() && !REQUIRED.containsKey(nested)) {
                wrong.add(nested.getName() + " is missing from REQUIRED");
            }
        }
        assertTrue(wrong.isEmpty(), String.join("\n", wrong));
    }

    // ---------------------------------------------------------------- schemas

    @Test
    void everySchemaIsMapped() {
        Set<String> names = new TreeSet<>();
        doc.path("components").path("schemas").fieldNames().forEachRemaining(names::add);
        Set<String> mapped = new TreeSet<>(RECORDS.keySet());
        mapped.addAll(ENUMS.keySet());
        mapped.addAll(OTHER_SCHEMAS.keySet());
        assertEquals(mapped, names, "schemas in openapi.json vs. the Java types this test maps them to");
    }

    @Test
    void recordSchemasHaveTheRecordsFields() {
        List<String> wrong = new ArrayList<>();
        for (Map.Entry<String, Type> e : RECORDS.entrySet()) {
            JsonNode schema = doc.path("components").path("schemas").path(e.getKey());
            Class<?> raw = raw(e.getValue());
            assertTrue(raw.isRecord(), raw + " is a record");
            Map<String, Type> components = new LinkedHashMap<>();
            for (RecordComponent rc : raw.getRecordComponents()) {
                components.put(rc.getName(), resolve(rc.getGenericType(), e.getValue()));
            }
            Set<String> props = new TreeSet<>();
            schema.path("properties").fieldNames().forEachRemaining(props::add);
            if (!props.equals(new TreeSet<>(components.keySet()))) {
                wrong.add(e.getKey() + ": properties " + props + ", " + raw.getSimpleName() + " has "
                        + new TreeSet<>(components.keySet()));
                continue;
            }
            if (!"object".equals(schema.path("type").asText()) || !schema.path("additionalProperties").isBoolean()
                    || schema.path("additionalProperties").asBoolean()) {
                wrong.add(e.getKey() + ": should be type object with additionalProperties false");
            }
            if (raw.getEnclosingClass() != Requests.class) {
                Set<String> required = new TreeSet<>();
                schema.path("required").forEach(r -> required.add(r.asText()));
                if (!required.equals(props)) {
                    wrong.add(e.getKey() + ": every field is written (null where empty), so all are required; "
                            + "documented " + required);
                }
            }
            for (Map.Entry<String, Type> c : components.entrySet()) {
                typeProblems(schema.path("properties").path(c.getKey()), c.getValue(), e.getKey() + "." + c.getKey(),
                        wrong);
            }
        }
        assertTrue(wrong.isEmpty(), String.join("\n", wrong));
    }

    @Test
    void enumSchemasHaveTheEnumsValues() {
        for (Map.Entry<String, Class<? extends Enum<?>>> e : ENUMS.entrySet()) {
            JsonNode schema = doc.path("components").path("schemas").path(e.getKey());
            assertEquals("string", schema.path("type").asText(), e.getKey());
            assertEquals(written(e.getValue()), texts(schema.path("enum")), e.getKey());
        }
        JsonNode role = doc.path("components").path("schemas").path("TokenView").path("properties").path("role");
        assertEquals(Arrays.stream(Role.values()).map(Role::id).collect(Collectors.toList()), texts(role.path("enum")));
    }

    @Test
    void answersOfTypedMethodsHaveTheirSchemas() {
        List<String> wrong = new ArrayList<>();
        Map<String, JsonNode> ops = docOps();
        for (JavaOp j : javaOps()) {
            Type returns = j.java().getGenericReturnType();
            Class<?> raw = raw(returns);
            if (raw == Response.class || raw == void.class || raw == Object.class || raw == byte[].class) {
                continue;
            }
            JsonNode op = ops.get(j.key());
            if (op == null) {
                continue;
            }
            JsonNode ok = deref(op.path("responses").path("200"));
            JsonNode schema = ok.path("content").path("application/json").path("schema");
            if (schema.isMissingNode()) {
                wrong.add(j.key() + ": " + j.java().getName() + " answers 200 with JSON, which is not documented");
                continue;
            }
            typeProblems(schema, returns, j.key() + " 200", wrong);
        }
        assertTrue(wrong.isEmpty(), String.join("\n", wrong));
    }

    @Test
    void everyOperationListsTheAnswersEveryRequestCanGet() {
        List<String> wrong = new ArrayList<>();
        for (Map.Entry<String, JsonNode> e : docOps().entrySet()) {
            JsonNode op = e.getValue();
            JsonNode responses = op.path("responses");
            boolean isPublic = op.has("security") && op.get("security").size() == 0;
            if (!isPublic) {
                for (String status : AUTHENTICATED_ERRORS) {
                    if (!responses.has(status)) {
                        wrong.add(e.getKey() + ": does not document " + status);
                    }
                }
            }
            Set<String> headers = new TreeSet<>();
            op.path("parameters").forEach(p -> {
                JsonNode d = deref(p);
                if (d.path("in").asText().equals("header")) {
                    headers.add(d.path("name").asText());
                }
            });
            if (headers.contains("If-Match") && !responses.has("412")) {
                wrong.add(e.getKey() + ": takes If-Match but does not document 412");
            }
            if (headers.contains("Idempotency-Key") && !responses.has("422")) {
                wrong.add(e.getKey() + ": takes Idempotency-Key but does not document 422");
            }
            for (Iterator<Map.Entry<String, JsonNode>> it = responses.fields(); it.hasNext();) {
                Map.Entry<String, JsonNode> r = it.next();
                JsonNode answer = deref(r.getValue());
                if (r.getKey().equals("202") || r.getKey().equals("201")) {
                    if (!answer.path("headers").has("Location")) {
                        wrong.add(e.getKey() + " " + r.getKey() + ": no Location header");
                    }
                }
                if (r.getKey().startsWith("4") || r.getKey().startsWith("5")) {
                    String ref = answer.path("content").path("application/json").path("schema").path("$ref").asText();
                    if (!ref.equals("#/components/schemas/ApiError")) {
                        wrong.add(e.getKey() + " " + r.getKey() + ": an error answer is not an ApiError");
                    }
                }
            }
        }
        assertTrue(wrong.isEmpty(), String.join("\n", wrong));
    }

    @Test
    void theErrorSchemaListsEveryCodeWithItsStatus() throws IllegalAccessException {
        String description = doc.path("components").path("schemas").path("ApiError").path("description").asText();
        Map<String, Set<Integer>> statuses = new HashMap<>();
        Matcher line = Pattern.compile("(?m)^- (\\d{3}) (.*?): ").matcher(description);
        while (line.find()) {
            Matcher code = Pattern.compile("`([A-Z_]+)`").matcher(line.group(2));
            while (code.find()) {
                statuses.computeIfAbsent(code.group(1), k -> new TreeSet<>()).add(Integer.parseInt(line.group(1)));
            }
        }
        List<String> wrong = new ArrayList<>();
        for (ErrorCode c : ErrorCode.values()) {
            if (!Set.of(c.httpStatus()).equals(statuses.get(c.name()))) {
                wrong.add(c.name() + " is " + c.httpStatus() + ", described as " + statuses.get(c.name()));
            }
        }
        for (Field f : ApiException.class.getFields()) {
            if (Modifier.isStatic(f.getModifiers()) && f.getType() == String.class) {
                String code = (String) f.get(null);
                if (!statuses.containsKey(code)) {
                    wrong.add(code + " (ApiException." + f.getName() + ") is not described");
                }
            }
        }
        assertTrue(wrong.isEmpty(), String.join("\n", wrong));
    }

    // ---------------------------------------------------------------- Java types against schemas

    private static void typeProblems(JsonNode schemaOrRef, Type type, String where, List<String> out) {
        JsonNode schema = schemaOrRef;
        if (schema.has("allOf") && schema.get("allOf").size() == 1 && !schema.has("type")) {
            schema = schema.get("allOf").get(0);
        }
        Class<?> raw = raw(type);
        if (raw == Object.class) {
            return;
        }
        if (schema.has("$ref")) {
            String ref = schema.get("$ref").asText();
            String name = ref.substring(ref.lastIndexOf('/') + 1);
            if (raw.isRecord()) {
                Type mapped = RECORDS.get(name);
                if (mapped == null || !sameType(mapped, type)) {
                    out.add(where + ": refers to " + name + ", the Java type is " + type.getTypeName());
                }
                return;
            }
            if (raw.isEnum() && ENUMS.get(name) != raw) {
                out.add(where + ": refers to " + name + ", the Java type is " + raw.getName());
                return;
            }
            schema = deref(schema);
        }
        if (raw.isRecord()) {
            out.add(where + ": a " + raw.getSimpleName() + " inline; refer to its schema instead");
            return;
        }
        String t = schema.path("type").asText("");
        String format = schema.path("format").asText("");
        if (raw == String.class) {
            expect(where, t, "string", format, null, out);
            if (!format.isEmpty()) {
                out.add(where + ": a Java String documented with format " + format);
            }
        } else if (raw == Instant.class) {
            expect(where, t, "string", format, "date-time", out);
        } else if (raw == UUID.class) {
            expect(where, t, "string", format, "uuid", out);
        } else if (raw == long.class || raw == Long.class) {
            expect(where, t, "integer", format, "int64", out);
        } else if (raw == int.class || raw == Integer.class) {
            expect(where, t, "integer", format, "int32", out);
        } else if (raw == double.class || raw == Double.class) {
            expect(where, t, "number", format, "double", out);
        } else if (raw == boolean.class || raw == Boolean.class) {
            expect(where, t, "boolean", format, null, out);
        } else if (raw.isEnum()) {
            expect(where, t, "string", format, null, out);
            @SuppressWarnings("unchecked")
            List<String> values = written((Class<? extends Enum<?>>) raw);
            if (!values.equals(texts(schema.path("enum")))) {
                out.add(where + ": enum " + texts(schema.path("enum")) + ", Java writes " + values);
            }
        } else if (Collection.class.isAssignableFrom(raw)) {
            expect(where, t, "array", format, null, out);
            typeProblems(schema.path("items"), argument(type, 0), where + "[]", out);
        } else if (Map.class.isAssignableFrom(raw)) {
            expect(where, t, "object", format, null, out);
            Type value = argument(type, 1);
            JsonNode additional = schema.path("additionalProperties");
            if (raw(value) == Object.class) {
                if (!additional.isMissingNode() && !(additional.isBoolean() && additional.asBoolean())) {
                    out.add(where + ": a map of any values needs additionalProperties true");
                }
            } else if (!additional.isObject()) {
                out.add(where + ": a map needs an additionalProperties schema");
            } else {
                typeProblems(additional, value, where + "{}", out);
            }
        } else {
            out.add(where + ": this test does not know the Java type " + type.getTypeName());
        }
        boolean primitive = raw.isPrimitive();
        if (primitive && schema.path("nullable").asBoolean(false)) {
            out.add(where + ": a primitive " + raw + " cannot be null");
        }
    }

    private static void expect(String where, String type, String wanted, String format, String wantedFormat,
            List<String> out) {
        if (!type.equals(wanted)) {
            out.add(where + ": type '" + type + "', the Java type is written as " + wanted);
        }
        if (wantedFormat != null && !wantedFormat.equals(format)) {
            out.add(where + ": format '" + format + "', expected " + wantedFormat);
        }
    }

    private static boolean sameType(Type a, Type b) {
        if (raw(a) != raw(b)) {
            return false;
        }
        if (a instanceof ParameterizedType pa && b instanceof ParameterizedType pb) {
            return Arrays.equals(pa.getActualTypeArguments(), pb.getActualTypeArguments(), (x, y) ->
                    sameType(x, y) ? 0 : 1);
        }
        return true;
    }

    private static Class<?> raw(Type t) {
        if (t instanceof Class<?> c) {
            return c;
        }
        if (t instanceof ParameterizedType p) {
            return (Class<?>) p.getRawType();
        }
        if (t instanceof WildcardType w) {
            return raw(w.getUpperBounds()[0]);
        }
        if (t instanceof TypeVariable<?> v) {
            return raw(v.getBounds()[0]);
        }
        return Object.class;
    }

    private static Type argument(Type t, int i) {
        return t instanceof ParameterizedType p ? p.getActualTypeArguments()[i] : Object.class;
    }

    /** {@code type} with the type variables of {@code owner}'s class replaced by its arguments. */
    private static Type resolve(Type type, Type owner) {
        if (!(owner instanceof ParameterizedType p)) {
            return type;
        }
        TypeVariable<?>[] vars = ((Class<?>) p.getRawType()).getTypeParameters();
        if (type instanceof TypeVariable<?> v) {
            for (int i = 0; i < vars.length; i++) {
                if (vars[i].getName().equals(v.getName())) {
                    return p.getActualTypeArguments()[i];
                }
            }
            return type;
        }
        if (type instanceof ParameterizedType pt) {
            Type[] args = pt.getActualTypeArguments().clone();
            for (int i = 0; i < args.length; i++) {
                args[i] = resolve(args[i], owner);
            }
            return parameterized((Class<?>) pt.getRawType(), args);
        }
        return type;
    }

    private static ParameterizedType parameterized(Class<?> raw, Type... args) {
        return new ParameterizedType() {
            @Override
            public Type[] getActualTypeArguments() {
                return args.clone();
            }

            @Override
            public Type getRawType() {
                return raw;
            }

            @Override
            public Type getOwnerType() {
                return null;
            }

            @Override
            public String getTypeName() {
                return raw.getName() + Arrays.stream(args).map(Type::getTypeName)
                        .collect(Collectors.joining(", ", "<", ">"));
            }
        };
    }

    private static List<String> written(Class<? extends Enum<?>> type) {
        return Arrays.stream(type.getEnumConstants()).map(Object::toString).collect(Collectors.toList());
    }

    private static List<String> texts(JsonNode array) {
        List<String> out = new ArrayList<>();
        array.forEach(n -> out.add(n.asText()));
        return out;
    }

    // ---------------------------------------------------------------- real JSON against the schemas

    private static final Instant T0 = Instant.parse("2026-01-31T12:00:00Z");
    private static final VolumeInfo VOLUME = new VolumeInfo("local", "vm1", "qcow2", Provisioning.THICK_LAZY,
            1L << 30, 4096, "vm1.qcow2", "/srv/local/vm1.qcow2", VolumeState.READY, T0);
    private static final CheckReport REPORT = new CheckReport("vm1.qcow2", List.of("cluster 7 is used twice"),
            List.of(), List.of(), 0);

    private static String json(Object value) {
        try {
            return JSON.writeValueAsString(value);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void answer(String method, String concretePath, int status, Object value) {
        String template = check.template(method, concretePath);
        check.check(method, template, status, "application/json", json(value));
    }

    private static TaskInfo task(TaskState state, String kind, String message) {
        boolean done = state == TaskState.SUCCEEDED || state == TaskState.FAILED || state == TaskState.CANCELLED;
        return new TaskInfo("t-1", kind, "local/vm1", state, done ? 1.0 : 0.25, message, T0,
                done ? T0.plusSeconds(3) : null);
    }

    @Test
    void volumesAsWrittenFitTheDocument() {
        answer("GET", "/datastores/local/volumes/vm1", 200, VOLUME);
        answer("POST", "/datastores/local/volumes", 201, VOLUME);
        answer("PATCH", "/api/v1/datastores/local/volumes/vm1", 200, VOLUME);
        answer("GET", "/volumes", 200, Page.of(List.of(VOLUME, VOLUME), 0, 10));
        answer("GET", "/datastores/local/volumes?limit=1", 200, Page.of(List.of(), null, null));
        answer("GET", "/datastores/local/volumes/vm1/usage", 200,
                new VolumeUsage(VOLUME.ref(), 10, 20, "local/base@s1", List.of("local/vm2")));
        answer("GET", "/datastores/local/volumes/vm1/qos", 200, QosLimits.NONE);
        answer("PUT", "/datastores/local/volumes/vm1/qos", 200, new QosLimits(100, 0, 50, 1 << 20, 0.5));
        IoStats io = new IoStats(10, 40960, 1.5, 6144.0, 80.0, 900.0, 1200.0, 1500.0);
        VolumeStats stats = new VolumeStats(VOLUME.ref(), T0, 10, io, io, 3, 1, 0.5, 12, QosLimits.NONE);
        answer("GET", "/datastores/local/volumes/vm1/stats", 200, stats);
        answer("GET", "/stats", 200, List.of(stats));
        SnapshotInfo snap = new SnapshotInfo(VOLUME.ref(), "s1", "", "vm1-s1.qcow2", T0, 65536, true);
        answer("GET", "/datastores/local/volumes/vm1/snapshots", 200, List.of(snap));
        answer("POST", "/datastores/local/volumes/vm1/snapshots", 201, snap);
        answer("GET", "/datastores/local/volumes/vm1/snapshots/s1", 200, snap);
        answer("POST", "/datastores/local/volumes/vm1/snapshots/s1/revert", 200, VOLUME);
        answer("POST", "/datastores/local/volumes/vm1/clone", 201, VOLUME);
    }

    @Test
    void tasksAsWrittenFitTheDocument() {
        answer("POST", "/datastores/local/volumes/vm1/clone", 202,
                TaskView.of(task(TaskState.QUEUED, "volume-clone", ""), null));
        answer("POST", "/datastores/local/imports", 202, TaskView.of(task(TaskState.RUNNING, "volume-import", ""),
                null));
        answer("GET", "/tasks/t-1", 200, TaskView.of(task(TaskState.SUCCEEDED, "volume-clone", "cloned"), VOLUME));
        answer("GET", "/tasks/t-1", 200, TaskView.of(task(TaskState.SUCCEEDED, "volume-check", "1 images"),
                List.of(REPORT, REPORT)));
        answer("GET", "/tasks/t-1", 200, TaskView.of(task(TaskState.SUCCEEDED, "datastore-check", "0 errors"),
                REPORT));
        answer("GET", "/tasks/t-1", 200, TaskView.of(task(TaskState.SUCCEEDED, "volume-reclaim", "freed"),
                Map.of("freedBytes", 8192L)));
        answer("GET", "/tasks/t-1", 200, TaskView.of(task(TaskState.SUCCEEDED, "snapshot-delete", "merged"), null));
        answer("DELETE", "/tasks/t-1", 200, TaskView.of(task(TaskState.FAILED, "volume-clone",
                "DATASTORE_FULL: no space"), null));
        answer("POST", "/tasks/t-1/cancel", 200, TaskView.of(task(TaskState.CANCELLED, "volume-clone", "cancelled"),
                null));
        answer("GET", "/tasks", 200, List.of(TaskView.of(task(TaskState.RUNNING, "volume-check", ""), null)));
        answer("GET", "/events?after=3&wait=10", 200, new TaskApi.EventPage(List.of(
                new EventHub.Event(4, "task", "t-1", "RUNNING", null, "", T0),
                new EventHub.Event(5, "datastore", "local", "UNAVAILABLE", "ONLINE", "device failed", T0)), 5));
        check.check("GET", "/events", 200, "text/event-stream", "event: task\nid: 4\ndata: {}\n\n");
    }

    @Test
    void storageAsWrittenFitsTheDocument() {
        UUID id = UUID.fromString("0f8fad5b-d9cb-469f-a165-70867728950e");
        answer("GET", "/host", 200, new HostInfo(id, "host1", List.of(new HostInfo.Shared("shared1", 2, 7, true,
                List.of(new HostInfo.Member(2, id, "host1", 7, "LIVE", 1500))))));
        answer("GET", "/drivers", 200, List.of(new PluginInfo(PluginKind.FORMAT, "qcow2", "QEMU copy-on-write",
                Set.of(Capability.THIN, Capability.BACKING_CHAIN), "io.strata.format.qcow2")));
        ResourceInfo res = new ResourceInfo("san1", "iscsi", Map.of("portal", "127.0.0.1:3260"),
                Availability.ONLINE, "");
        answer("GET", "/resources", 200, List.of(res));
        answer("POST", "/resources", 201, res);
        answer("PATCH", "/resources/san1", 200, res);
        answer("GET", "/resources/san1/devices", 200, List.of(new DeviceInfo("san1", "lun0", DeviceKind.BLOCK,
                1L << 30, 512, "LIO lun 0", "naa.6001405")));
        List<ResourcePath> paths = List.of(new ResourcePath("san1", new PathInfo("lun0", "p1",
                "iscsi 127.0.0.1:3260", DeviceState.DEGRADED, true, false, 10, 1, 0)));
        answer("GET", "/resources/san1/paths?device=lun0", 200, paths);
        answer("PUT", "/resources/san1/paths/p1", 200, paths);
        DatastoreInfo ds = new DatastoreInfo("local", "dir", "local/root", Availability.ONLINE, "", 100, 50, 200, 40,
                3, "/srv/local", Map.of("mode", "0750"), Map.of("mount", "/srv/local"));
        answer("GET", "/datastores", 200, List.of(ds));
        answer("POST", "/datastores", 201, ds);
        answer("GET", "/datastores/local", 200, ds);
        answer("POST", "/datastores/local/grow", 200, ds);
        ExportInfo export = new ExportInfo("vm1", VOLUME.ref(), false, Availability.ONLINE, "",
                List.of("127.0.0.1:50000"), "nbd://127.0.0.1:10809/vm1");
        answer("GET", "/exports", 200, List.of(export));
        answer("POST", "/exports", 201, export);
        answer("GET", "/exports/vm1", 200, export);
    }

    @Test
    void securityAsWrittenFitsTheDocument() {
        SecurityApi.TokenView token = new SecurityApi.TokenView("a1b2c3", "ops", "operator", T0, null, false, null,
                null);
        answer("GET", "/tokens", 200, List.of(token, new SecurityApi.TokenView("d4", "ann", "admin", T0,
                T0.plusSeconds(60), true, T0, "ci")));
        answer("POST", "/tokens", 201, new SecurityApi.NewToken(token, "c2VjcmV0"));
        answer("GET", "/audit?limit=5", 200, List.of(new AuditEntry(T0, "ann", "basic", "127.0.0.1",
                "POST /datastores/{ds}/volumes", "/datastores/local/volumes", 201, "OK")));
        check.check("GET", "/metrics", 200, "text/plain; version=0.0.4; charset=utf-8", "# HELP x\n");
        check.check("DELETE", "/tokens/{id}", 204, null, null);
    }

    @Test
    void errorsAsWrittenFitTheDocument() {
        answer("GET", "/datastores/local/volumes/nope", 404, new ApiError("VOLUME_NOT_FOUND", "no volume", null));
        answer("POST", "/datastores/local/volumes", 400, new ApiError(ApiException.BAD_REQUEST,
                "unknown field 'sise'", Map.of("field", "sise", "known", List.of("name", "size"), "line", 1)));
        answer("GET", "/host", 401, new ApiError(ApiException.UNAUTHENTICATED, "wrong user or password", null));
        answer("GET", "/host", 429, new ApiError(ApiException.TOO_MANY, "slow down",
                Map.of("retryAfterSeconds", 30)));
        answer("PATCH", "/datastores/local/volumes/vm1", 412, new ApiError(ApiException.PRECONDITION_FAILED,
                "changed", Map.of("etag", "\"abc\"")));
        // as ErrorMapper makes it (its Response needs a JAX-RS runtime, which unit tests lack)
        answer("GET", "/tasks", 500, new ApiError(ErrorCode.INTERNAL.name(), "internal error; the server log has "
                + "incident 1", Map.of("incident", UUID.randomUUID().toString())));
        AssertionError undocumented = assertThrows(AssertionError.class, () ->
                answer("GET", "/host", 418, new ApiError("TEAPOT", "no", null)));
        assertTrue(undocumented.getMessage().contains("418"), undocumented.getMessage());
        AssertionError bad = assertThrows(AssertionError.class, () -> check.check("GET", "/host", 401,
                "application/json", "{\"code\": \"X\", \"message\": \"m\"}"));
        assertTrue(bad.getMessage().contains("details"), bad.getMessage());
    }

    /**
     * Each request record with every field set, written as JSON: it fits the document, and the
     * API reads it back. The same body with an unknown field fits neither.
     */
    @Test
    void requestBodiesAsClientsWriteThemFitTheDocumentAndTheCode() throws Exception {
        Map<String, JsonNode> ops = docOps();
        for (Map.Entry<String, List<JavaOp>> e : javaOpsByKey().entrySet()) {
            Parameter body = entity(e.getValue().get(0).java());
            if (body == null) {
                continue;
            }
            Class<?> type = body.getType();
            String name = RECORDS.entrySet().stream().filter(r -> r.getValue().equals(type)).findFirst()
                    .orElseThrow().getKey();
            JsonNode props = doc.path("components").path("schemas").path(name).path("properties");
            RecordComponent[] components = type.getRecordComponents();
            Object[] args = new Object[components.length];
            Class<?>[] types = new Class<?>[components.length];
            for (int i = 0; i < components.length; i++) {
                types[i] = components[i].getType();
                args[i] = sample(components[i].getType(), props.path(components[i].getName()));
            }
            var constructor = type.getDeclaredConstructor(types);
            constructor.setAccessible(true);
            String written = json(constructor.newInstance(args));
            String[] parts = e.getKey().split(" ", 2);
            check.checkRequest(parts[0], parts[1], "application/json", written);
            assertEquals(written, json(JSON.readValue(written, type)), name + " reads back");
            String typo = "{\"unknownField\": 1, " + written.substring(1);
            assertThrows(AssertionError.class, () -> check.checkRequest(parts[0], parts[1], "application/json",
                    typo), name);
            assertThrows(IOException.class, () -> JSON.readValue(typo, type), name);
            assertTrue(ops.containsKey(e.getKey()));
        }
    }

    private static Object sample(Class<?> type, JsonNode schema) {
        if (schema.has("enum")) {
            return schema.get("enum").get(0).asText();
        }
        if (type == String.class) {
            return "x1";
        }
        if (type == Long.class) {
            return 1L << 20;
        }
        if (type == Boolean.class) {
            return Boolean.TRUE;
        }
        if (type == Double.class) {
            return 0.5;
        }
        if (type == Map.class) {
            return Map.of("k", "v");
        }
        fail("no sample for " + type);
        return null;
    }
}

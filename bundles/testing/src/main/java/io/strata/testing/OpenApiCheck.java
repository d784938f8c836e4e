package io.strata.testing;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.ByteArrayOutputStream;
import java.math.BigDecimal;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * Checks HTTP answers (and request bodies) against an OpenAPI 3.0 document: the status must
 * be one the operation lists, the content type one the response lists, and a JSON body must
 * fit the response's schema. Failures are {@link AssertionError}s that name the operation and
 * every place in the body that does not fit, so it serves JUnit 4 and 5 tests alike.
 *
 * <p>The schema language understood is the subset an API description needs: {@code type}
 * (object, array, string, integer, number, boolean), {@code nullable}, {@code properties},
 * {@code required}, {@code additionalProperties} (true, false or a schema), {@code items},
 * {@code enum}, {@code $ref} into the same document, {@code allOf}, {@code oneOf},
 * {@code anyOf}, {@code not}, the bounds {@code minimum}/{@code maximum} (with the 3.0
 * boolean {@code exclusiveMinimum}/{@code exclusiveMaximum}), {@code minLength},
 * {@code maxLength}, {@code pattern}, {@code minItems}, {@code maxItems}, and the formats
 * {@code date-time} (any ISO-8601 date-time with an offset), {@code uuid}, {@code int32} and
 * {@code int64}. Other keywords are ignored.
 */
public final class OpenApiCheck {
    private static final Set<String> METHODS = Set.of("get", "put", "post", "delete", "options", "head", "patch",
            "trace");
    private static final Pattern UUID = Pattern.compile(
            "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}");
    private static final int MAX_DEPTH = 64;
    private static final int MAX_REPORTED = 25;

    private final JsonNode doc;
    private final ObjectMapper mapper;
    private final String basePath;

    private OpenApiCheck(JsonNode doc, ObjectMapper mapper) {
        this.doc = doc;
        this.mapper = mapper;
        this.basePath = basePath(doc);
    }

    /**
     * @param documentText the OpenAPI 3.0 document as JSON
     * @return a checker for it
     * @throws IllegalArgumentException when the text is not JSON or not an OpenAPI 3.0 document
     */
    public static OpenApiCheck of(String documentText) {
        ObjectMapper mapper = JsonMapper.builder()
                .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
                .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
                .build();
        JsonNode doc;
        try {
            doc = mapper.readTree(documentText);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("the OpenAPI document is not JSON: " + e.getOriginalMessage(), e);
        }
        if (doc == null || !doc.path("openapi").asText("").startsWith("3.0") || !doc.path("paths").isObject()) {
            throw new IllegalArgumentException("not an OpenAPI 3.0 document (no \"openapi\": \"3.0.x\" and paths)");
        }
        return new OpenApiCheck(doc, mapper);
    }

    /** @return the document as read */
    public JsonNode document() {
        return doc;
    }

    /**
     * The documented path template a concrete request path falls under, e.g.
     * {@code /datastores/{ds}/volumes} for {@code /datastores/local/volumes}. A query string is
     * ignored, as is the path of the first server's URL (so {@code /api/v1/host} works too).
     * Where several templates match, the one with more literal text wins.
     *
     * @param method the HTTP method, any case
     * @param concretePath the request's path
     * @return the template, as the document spells it
     * @throws AssertionError when no documented path with that method matches
     */
    public String template(String method, String concretePath) {
        String m = method.toLowerCase(Locale.ROOT);
        String path = concretePath;
        int cut = indexOfAny(path, '?', '#');
        if (cut >= 0) {
            path = path.substring(0, cut);
        }
        if (!basePath.isEmpty() && (path.equals(basePath) || path.startsWith(basePath + "/"))) {
            path = path.substring(basePath.length());
        }
        if (path.isEmpty()) {
            path = "/";
        }
        List<String> segments = segments(path, true);
        String best = null;
        int bestScore = -1;
        List<String> otherMethods = new ArrayList<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = doc.path("paths").fields(); it.hasNext();) {
            Map.Entry<String, JsonNode> e = it.next();
            int score = match(e.getKey(), segments);
            if (score < 0) {
                continue;
            }
            if (!e.getValue().has(m)) {
                otherMethods.add(e.getKey() + " " + methodsOf(e.getValue()));
                continue;
            }
            if (score > bestScore) {
                best = e.getKey();
                bestScore = score;
            }
        }
        if (best == null) {
            throw new AssertionError(otherMethods.isEmpty()
                    ? "no documented path matches " + method.toUpperCase(Locale.ROOT) + " " + concretePath
                    : method.toUpperCase(Locale.ROOT) + " " + concretePath + " is documented only for other methods: "
                    + otherMethods);
        }
        return best;
    }

    /**
     * Checks one answer.
     *
     * @param method the request's HTTP method, any case
     * @param pathTemplate the documented path (see {@link #template})
     * @param status the answer's status
     * @param contentType the answer's {@code Content-Type}, or null when it had none
     * @param body the answer's body, or null or empty when it had none
     * @throws AssertionError when the operation is not documented, the status or content type is
     *         not documented for it, or a JSON body does not fit the documented schema
     */
    public void check(String method, String pathTemplate, int status, String contentType, String body) {
        String what = method.toUpperCase(Locale.ROOT) + " " + pathTemplate + " " + status;
        JsonNode op = operation(method, pathTemplate);
        JsonNode responses = op.path("responses");
        JsonNode response = responses.get(Integer.toString(status));
        if (response == null) {
            response = responses.get(status / 100 + "XX");
        }
        if (response == null) {
            response = responses.get("default");
        }
        if (response == null) {
            List<String> listed = new ArrayList<>();
            responses.fieldNames().forEachRemaining(listed::add);
            throw new AssertionError(what + ": the status is not documented for this operation (documented: "
                    + listed + ")" + excerpt(body));
        }
        response = deref(response);
        if ("head".equalsIgnoreCase(method)) {
            return;
        }
        checkContent(what, response.get("content"), contentType, body, false);
    }

    /**
     * Checks a request body against the operation's {@code requestBody}.
     *
     * @param method the request's HTTP method, any case
     * @param pathTemplate the documented path
     * @param contentType the body's {@code Content-Type}, or null when there is no body
     * @param body the body, or null or empty for none
     * @throws AssertionError when the operation takes no body but one is given, a required body
     *         is missing, or the body does not fit the documented schema
     */
    public void checkRequest(String method, String pathTemplate, String contentType, String body) {
        String what = method.toUpperCase(Locale.ROOT) + " " + pathTemplate + " request";
        JsonNode op = operation(method, pathTemplate);
        JsonNode requestBody = op.get("requestBody");
        if (requestBody == null) {
            if (body != null && !body.isEmpty()) {
                throw new AssertionError(what + ": the operation takes no body" + excerpt(body));
            }
            return;
        }
        requestBody = deref(requestBody);
        if ((body == null || body.isEmpty()) && !requestBody.path("required").asBoolean(false)) {
            return;
        }
        checkContent(what, requestBody.get("content"), contentType, body, true);
    }

    /**
     * Checks JSON against a schema of {@code components/schemas}.
     *
     * @param schemaName the schema's name there
     * @param json the JSON text
     * @return what does not fit, one line each; empty when it fits
     */
    public List<String> problems(String schemaName, String json) {
        JsonNode schema = doc.path("components").path("schemas").get(schemaName);
        if (schema == null) {
            throw new IllegalArgumentException("no schema '" + schemaName + "' in components/schemas");
        }
        List<String> out = new ArrayList<>();
        JsonNode value;
        try {
            value = mapper.readTree(json);
        } catch (JsonProcessingException e) {
            out.add("not JSON: " + e.getOriginalMessage());
            return out;
        }
        validate(schema, value, "", out, 0);
        return out;
    }

    // ---------------------------------------------------------------- operations and content

    private JsonNode operation(String method, String pathTemplate) {
        JsonNode item = doc.path("paths").get(pathTemplate);
        if (item == null) {
            throw new AssertionError("the path " + pathTemplate + " is not documented (use template(...) to map a "
                    + "concrete path to its template)");
        }
        JsonNode op = item.get(method.toLowerCase(Locale.ROOT));
        if (op == null) {
            throw new AssertionError(method.toUpperCase(Locale.ROOT) + " " + pathTemplate
                    + " is not documented; the path takes " + methodsOf(item));
        }
        return op;
    }

    private void checkContent(String what, JsonNode content, String contentType, String body, boolean request) {
        boolean empty = body == null || body.isEmpty();
        if (content == null || content.isEmpty()) {
            if (!empty) {
                throw new AssertionError(what + ": documented without a body, but has one" + excerpt(body));
            }
            return;
        }
        if (empty) {
            throw new AssertionError(what + ": documented with a body (" + names(content) + "), but has none");
        }
        if (contentType == null || contentType.isBlank()) {
            throw new AssertionError(what + ": a body without a Content-Type" + excerpt(body));
        }
        String type = baseType(contentType);
        JsonNode media = null;
        String chosen = null;
        for (Iterator<Map.Entry<String, JsonNode>> it = content.fields(); it.hasNext();) {
            Map.Entry<String, JsonNode> e = it.next();
            String key = baseType(e.getKey());
            if (key.equals(type)) {
                media = e.getValue();
                chosen = key;
                break;
            }
            if (media == null && (key.equals("*/*") || key.endsWith("/*")
                    && type.startsWith(key.substring(0, key.length() - 1)))) {
                media = e.getValue();
                chosen = key;
            }
        }
        if (media == null) {
            throw new AssertionError(what + ": the content type " + contentType + " is not documented (documented: "
                    + names(content) + ")" + excerpt(body));
        }
        if (!isJson(type) || !media.has("schema")) {
            return;
        }
        JsonNode value;
        try {
            value = mapper.readTree(body);
        } catch (JsonProcessingException e) {
            throw new AssertionError(what + ": the body is not JSON (" + e.getOriginalMessage() + ")" + excerpt(body));
        }
        List<String> out = new ArrayList<>();
        validate(media.get("schema"), value, "", out, 0);
        if (!out.isEmpty()) {
            StringBuilder b = new StringBuilder(what).append(": the ").append(request ? "request" : "answer")
                    .append(" body (").append(chosen).append(") does not fit the document:");
            for (int i = 0; i < out.size() && i < MAX_REPORTED; i++) {
                b.append("\n  ").append(out.get(i));
            }
            if (out.size() > MAX_REPORTED) {
                b.append("\n  ... and ").append(out.size() - MAX_REPORTED).append(" more");
            }
            b.append(excerpt(body));
            throw new AssertionError(b.toString());
        }
    }

    private static boolean isJson(String type) {
        return type.equals("application/json") || type.endsWith("+json");
    }

    private static String baseType(String contentType) {
        int semi = contentType.indexOf(';');
        return (semi < 0 ? contentType : contentType.substring(0, semi)).trim().toLowerCase(Locale.ROOT);
    }

    private static String names(JsonNode object) {
        List<String> n = new ArrayList<>();
        object.fieldNames().forEachRemaining(n::add);
        return String.join(", ", n);
    }

    private static String methodsOf(JsonNode pathItem) {
        List<String> m = new ArrayList<>();
        pathItem.fieldNames().forEachRemaining(f -> {
            if (METHODS.contains(f)) {
                m.add(f.toUpperCase(Locale.ROOT));
            }
        });
        return m.toString();
    }

    private static String excerpt(String body) {
        if (body == null || body.isEmpty()) {
            return "";
        }
        return "\n  body: " + (body.length() > 400 ? body.substring(0, 400) + "..." : body);
    }

    // ---------------------------------------------------------------- paths

    private static String basePath(JsonNode doc) {
        String url = doc.path("servers").path(0).path("url").asText("");
        if (url.isEmpty()) {
            return "";
        }
        String path;
        try {
            URI u = new URI(url);
            path = u.getRawPath() == null ? "" : u.getRawPath();
        } catch (URISyntaxException e) {
            path = url.startsWith("/") ? url : "";
        }
        while (path.endsWith("/")) {
            path = path.substring(0, path.length() - 1);
        }
        return path;
    }

    /** @return how specific {@code template} is for {@code segments} (its literal characters), -1 for no match */
    private static int match(String template, List<String> segments) {
        List<String> parts = segments(template, false);
        if (parts.size() != segments.size()) {
            return -1;
        }
        int score = 0;
        for (int i = 0; i < parts.size(); i++) {
            String part = parts.get(i);
            String seg = segments.get(i);
            if (part.indexOf('{') < 0) {
                if (!part.equals(seg)) {
                    return -1;
                }
                score += part.length() + 1;
                continue;
            }
            StringBuilder re = new StringBuilder();
            int literal = 0;
            int at = 0;
            while (at < part.length()) {
                int open = part.indexOf('{', at);
                int close = open < 0 ? -1 : part.indexOf('}', open);
                if (open < 0 || close < 0) {
                    re.append(Pattern.quote(part.substring(at)));
                    literal += part.length() - at;
                    break;
                }
                if (open > at) {
                    re.append(Pattern.quote(part.substring(at, open)));
                    literal += open - at;
                }
                re.append(".+?");
                at = close + 1;
            }
            if (seg.isEmpty() || !Pattern.compile(re.toString(), Pattern.DOTALL).matcher(seg).matches()) {
                return -1;
            }
            score += literal;
        }
        return score;
    }

    private static List<String> segments(String path, boolean decode) {
        List<String> out = new ArrayList<>();
        String p = path.startsWith("/") ? path.substring(1) : path;
        if (p.isEmpty()) {
            return out;
        }
        for (String s : p.split("/", -1)) {
            out.add(decode ? percentDecode(s) : s);
        }
        return out;
    }

    private static String percentDecode(String s) {
        if (s.indexOf('%') < 0) {
            return s;
        }
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        int i = 0;
        while (i < s.length()) {
            int cp = s.codePointAt(i);
            int hi = i + 2 < s.length() ? Character.digit(s.charAt(i + 1), 16) : -1;
            int lo = i + 2 < s.length() ? Character.digit(s.charAt(i + 2), 16) : -1;
            if (cp == '%' && hi >= 0 && lo >= 0) {
                bytes.write(hi * 16 + lo);
                i += 3;
            } else {
                byte[] b = new String(Character.toChars(cp)).getBytes(StandardCharsets.UTF_8);
                bytes.write(b, 0, b.length);
                i += Character.charCount(cp);
            }
        }
        return bytes.toString(StandardCharsets.UTF_8);
    }

    private static int indexOfAny(String s, char a, char b) {
        int i = s.indexOf(a);
        int j = s.indexOf(b);
        return i < 0 ? j : j < 0 ? i : Math.min(i, j);
    }

    // ---------------------------------------------------------------- schemas

    private JsonNode deref(JsonNode node) {
        JsonNode n = node;
        Set<String> seen = new HashSet<>();
        while (n != null && n.has("$ref")) {
            String ref = n.get("$ref").asText();
            if (!seen.add(ref)) {
                throw new IllegalArgumentException("the $ref " + ref + " refers to itself");
            }
            n = resolve(ref);
        }
        return n;
    }

    private JsonNode resolve(String ref) {
        if (!ref.startsWith("#")) {
            throw new IllegalArgumentException("only references into the same document are supported: " + ref);
        }
        JsonNode target = doc.at(ref.substring(1));
        if (target.isMissingNode()) {
            throw new IllegalArgumentException("the $ref " + ref + " names nothing in the document");
        }
        return target;
    }

    private void validate(JsonNode schemaOrRef, JsonNode value, String at, List<String> out, int depth) {
        String where = at.isEmpty() ? "(the body)" : at;
        if (depth > MAX_DEPTH) {
            out.add(where + ": the schema nests deeper than " + MAX_DEPTH + " levels");
            return;
        }
        JsonNode schema = deref(schemaOrRef);
        if (schema == null || !schema.isObject()) {
            return;
        }
        String type = schema.has("type") ? schema.get("type").asText() : null;
        if (value.isNull()) {
            if (schema.path("nullable").asBoolean(false)) {
                return;
            }
            if (type != null) {
                out.add(where + ": null, but " + type + " is required (not nullable)");
                return;
            }
        }
        if (type != null && !hasType(type, value)) {
            out.add(where + ": " + describe(value) + ", but the document says " + type);
            return;
        }
        if (schema.has("enum")) {
            boolean found = false;
            for (JsonNode allowed : schema.get("enum")) {
                if (sameValue(allowed, value)) {
                    found = true;
                    break;
                }
            }
            if (!found) {
                out.add(where + ": " + describe(value) + " is not one of " + schema.get("enum"));
            }
        }
        if (value.isTextual()) {
            text(schema, value.asText(), where, out);
        }
        if (value.isNumber()) {
            number(schema, value, where, out);
        }
        if (value.isObject()) {
            object(schema, value, at, where, out, depth);
        }
        if (value.isArray()) {
            array(schema, value, at, where, out, depth);
        }
        composites(schema, value, at, where, out, depth);
    }

    private void text(JsonNode schema, String s, String where, List<String> out) {
        String format = schema.path("format").asText("");
        if (format.equals("date-time")) {
            try {
                OffsetDateTime.parse(s);
            } catch (DateTimeParseException e) {
                out.add(where + ": '" + s + "' is not an ISO-8601 date-time");
            }
        } else if (format.equals("uuid") && !UUID.matcher(s).matches()) {
            out.add(where + ": '" + s + "' is not a UUID");
        }
        int length = s.codePointCount(0, s.length());
        if (schema.has("minLength") && length < schema.get("minLength").asInt()) {
            out.add(where + ": '" + s + "' is shorter than " + schema.get("minLength").asInt());
        }
        if (schema.has("maxLength") && length > schema.get("maxLength").asInt()) {
            out.add(where + ": a string of " + length + " characters, longer than " + schema.get("maxLength").asInt());
        }
        if (schema.has("pattern")) {
            String p = schema.get("pattern").asText();
            try {
                if (!Pattern.compile(p).matcher(s).find()) {
                    out.add(where + ": '" + s + "' does not match the pattern " + p);
                }
            } catch (PatternSyntaxException e) {
                throw new IllegalArgumentException("the document's pattern " + p + " is not a regular expression", e);
            }
        }
    }

    private static void number(JsonNode schema, JsonNode value, String where, List<String> out) {
        String format = schema.path("format").asText("");
        if (format.equals("int32") && !(value.canConvertToInt() && value.isIntegralNumber())) {
            out.add(where + ": " + value + " does not fit int32");
        }
        if (format.equals("int64") && !(value.canConvertToLong() && value.isIntegralNumber())) {
            out.add(where + ": " + value + " does not fit int64");
        }
        BigDecimal v = value.decimalValue();
        if (schema.has("minimum")) {
            BigDecimal min = schema.get("minimum").decimalValue();
            boolean exclusive = schema.path("exclusiveMinimum").asBoolean(false);
            if (exclusive ? v.compareTo(min) <= 0 : v.compareTo(min) < 0) {
                out.add(where + ": " + value + " is below the " + (exclusive ? "exclusive " : "") + "minimum " + min);
            }
        }
        if (schema.has("maximum")) {
            BigDecimal max = schema.get("maximum").decimalValue();
            boolean exclusive = schema.path("exclusiveMaximum").asBoolean(false);
            if (exclusive ? v.compareTo(max) >= 0 : v.compareTo(max) > 0) {
                out.add(where + ": " + value + " is above the " + (exclusive ? "exclusive " : "") + "maximum " + max);
            }
        }
    }

    private void object(JsonNode schema, JsonNode value, String at, String where, List<String> out, int depth) {
        JsonNode properties = schema.path("properties");
        for (JsonNode r : schema.path("required")) {
            if (!value.has(r.asText())) {
                out.add(where + ": the required property '" + r.asText() + "' is missing");
            }
        }
        JsonNode additional = schema.get("additionalProperties");
        for (Iterator<Map.Entry<String, JsonNode>> it = value.fields(); it.hasNext();) {
            Map.Entry<String, JsonNode> e = it.next();
            String child = at + "/" + e.getKey().replace("~", "~0").replace("/", "~1");
            if (properties.has(e.getKey())) {
                validate(properties.get(e.getKey()), e.getValue(), child, out, depth + 1);
            } else if (additional != null && additional.isBoolean() && !additional.asBoolean()) {
                out.add(where + ": the property '" + e.getKey() + "' is not in the document");
            } else if (additional != null && additional.isObject()) {
                validate(additional, e.getValue(), child, out, depth + 1);
            }
        }
        if (schema.has("minProperties") && value.size() < schema.get("minProperties").asInt()) {
            out.add(where + ": fewer than " + schema.get("minProperties").asInt() + " properties");
        }
        if (schema.has("maxProperties") && value.size() > schema.get("maxProperties").asInt()) {
            out.add(where + ": more than " + schema.get("maxProperties").asInt() + " properties");
        }
    }

    private void array(JsonNode schema, JsonNode value, String at, String where, List<String> out, int depth) {
        if (schema.has("minItems") && value.size() < schema.get("minItems").asInt()) {
            out.add(where + ": fewer than " + schema.get("minItems").asInt() + " items");
        }
        if (schema.has("maxItems") && value.size() > schema.get("maxItems").asInt()) {
            out.add(where + ": more than " + schema.get("maxItems").asInt() + " items");
        }
        if (schema.path("uniqueItems").asBoolean(false)) {
            Set<JsonNode> seen = new HashSet<>();
            for (JsonNode item : value) {
                if (!seen.add(item)) {
                    out.add(where + ": the item " + item + " is there twice");
                }
            }
        }
        if (schema.has("items")) {
            for (int i = 0; i < value.size(); i++) {
                validate(schema.get("items"), value.get(i), at + "/" + i, out, depth + 1);
            }
        }
    }

    private void composites(JsonNode schema, JsonNode value, String at, String where, List<String> out, int depth) {
        for (JsonNode sub : schema.path("allOf")) {
            validate(sub, value, at, out, depth + 1);
        }
        if (schema.has("anyOf")) {
            List<String> first = null;
            boolean any = false;
            for (JsonNode sub : schema.get("anyOf")) {
                List<String> trial = new ArrayList<>();
                validate(sub, value, at, trial, depth + 1);
                if (trial.isEmpty()) {
                    any = true;
                    break;
                }
                if (first == null) {
                    first = trial;
                }
            }
            if (!any) {
                out.add(where + ": fits none of anyOf" + (first == null ? "" : " (the first: " + first + ")"));
            }
        }
        if (schema.has("oneOf")) {
            int fits = 0;
            List<String> why = new ArrayList<>();
            int index = 0;
            for (JsonNode sub : schema.get("oneOf")) {
                List<String> trial = new ArrayList<>();
                validate(sub, value, at, trial, depth + 1);
                if (trial.isEmpty()) {
                    fits++;
                } else {
                    why.add("#" + index + ": " + trial.get(0));
                }
                index++;
            }
            if (fits == 0) {
                out.add(where + ": fits none of oneOf " + why);
            } else if (fits > 1) {
                out.add(where + ": fits " + fits + " of oneOf, but must fit exactly one");
            }
        }
        if (schema.has("not")) {
            List<String> trial = new ArrayList<>();
            validate(schema.get("not"), value, at, trial, depth + 1);
            if (trial.isEmpty()) {
                out.add(where + ": fits the schema of 'not'");
            }
        }
    }

    private static boolean hasType(String type, JsonNode value) {
        switch (type) {
            case "object":
                return value.isObject();
            case "array":
                return value.isArray();
            case "string":
                return value.isTextual();
            case "integer":
                return value.isIntegralNumber();
            case "number":
                return value.isNumber();
            case "boolean":
                return value.isBoolean();
            default:
                throw new IllegalArgumentException("the document names an unknown type '" + type + "'");
        }
    }

    private static boolean sameValue(JsonNode a, JsonNode b) {
        if (a.isNumber() && b.isNumber()) {
            return a.decimalValue().compareTo(b.decimalValue()) == 0;
        }
        return a.equals(b);
    }

    private static String describe(JsonNode value) {
        String kind;
        if (value.isNull()) {
            return "null";
        } else if (value.isObject()) {
            kind = "an object";
        } else if (value.isArray()) {
            kind = "an array";
        } else if (value.isTextual()) {
            kind = "the string";
        } else if (value.isIntegralNumber()) {
            kind = "the integer";
        } else if (value.isNumber()) {
            kind = "the number";
        } else if (value.isBoolean()) {
            kind = "the boolean";
        } else {
            kind = "the value";
        }
        String text = value.toString();
        if (value.isContainerNode()) {
            return kind;
        }
        return kind + " " + (text.length() > 60 ? text.substring(0, 60) + "..." : text);
    }
}

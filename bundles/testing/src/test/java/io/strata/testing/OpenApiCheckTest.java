package io.strata.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** {@link OpenApiCheck} against a small document that uses every keyword it understands. */
class OpenApiCheckTest {
    private static final String DOC = """
            {
              "openapi": "3.0.3",
              "info": {"title": "t", "version": "1"},
              "servers": [{"url": "/api/v1"}],
              "paths": {
                "/things": {
                  "get": {"responses": {
                    "200": {"description": "ok", "content": {"application/json": {"schema": {
                      "type": "array", "items": {"$ref": "#/components/schemas/Thing"}}}}},
                    "4XX": {"$ref": "#/components/responses/Error"}}},
                  "post": {
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {
                      "$ref": "#/components/schemas/NewThing"}}}},
                    "responses": {
                      "201": {"description": "made", "content": {"application/json": {"schema": {
                        "$ref": "#/components/schemas/Thing"}}}},
                      "202": {"description": "later", "content": {"application/json": {"schema": {
                        "$ref": "#/components/schemas/Task"}}}}}}
                },
                "/things/{id}": {
                  "get": {"responses": {"200": {"description": "ok", "content": {"application/json": {"schema": {
                    "$ref": "#/components/schemas/Thing"}}}}}},
                  "delete": {"responses": {"204": {"description": "gone"}}}
                },
                "/things/special": {
                  "get": {"responses": {"200": {"description": "text", "content": {"text/plain": {"schema": {
                    "type": "string"}}}}}}
                },
                "/files/{name}.json": {
                  "get": {"responses": {"200": {"description": "any", "content": {"application/json": {}}}}}
                }
              },
              "components": {
                "schemas": {
                  "Thing": {"type": "object", "additionalProperties": false,
                    "required": ["id", "size", "state", "created", "labels", "owner"],
                    "properties": {
                      "id": {"type": "string", "format": "uuid"},
                      "size": {"type": "integer", "format": "int64", "minimum": 0},
                      "ratio": {"type": "number", "minimum": 0, "maximum": 1, "exclusiveMaximum": true},
                      "state": {"$ref": "#/components/schemas/State"},
                      "created": {"type": "string", "format": "date-time"},
                      "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                      "owner": {"nullable": true, "allOf": [{"$ref": "#/components/schemas/Owner"}]},
                      "count": {"type": "integer", "format": "int32"}
                    }},
                  "State": {"type": "string", "enum": ["READY", "GONE"]},
                  "Owner": {"type": "object", "additionalProperties": false, "required": ["name"],
                    "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 8,
                      "pattern": "^[a-z]+$"}}},
                  "NewThing": {"type": "object", "additionalProperties": false, "required": ["size"],
                    "properties": {"size": {"type": "integer"}, "note": {"type": "string", "nullable": true}}},
                  "Task": {"type": "object", "required": ["result"], "properties": {
                    "result": {"nullable": true, "oneOf": [
                      {"$ref": "#/components/schemas/Owner"},
                      {"type": "array", "items": {"type": "string"}}]}}},
                  "Error": {"type": "object", "required": ["code"], "properties": {"code": {"type": "string"}}}
                },
                "responses": {
                  "Error": {"description": "error", "content": {"application/json": {"schema": {
                    "$ref": "#/components/schemas/Error"}}}}
                }
              }
            }
            """;
    private static final String THING = """
            {"id": "0f8fad5b-d9cb-469f-a165-70867728950e", "size": 10, "ratio": 0.5, "state": "READY",
             "created": "2026-01-31T12:00:00Z", "labels": {"a": "b"}, "owner": {"name": "ann"}, "count": 3}""";

    private final OpenApiCheck check = OpenApiCheck.of(DOC);

    private AssertionError fails(Runnable r) {
        return assertThrows(AssertionError.class, r::run);
    }

    private void thing(String body) {
        check.check("GET", "/things/{id}", 200, "application/json", body);
    }

    @Test
    void aBodyThatFitsPasses() {
        thing(THING);
        thing(THING.replace("{\"name\": \"ann\"}", "null").replace("\"ratio\": 0.5, ", ""));
        check.check("get", "/things", 200, "application/json; charset=UTF-8", "[" + THING + "," + THING + "]");
        check.check("GET", "/things", 200, "application/json", "[]");
    }

    @Test
    void wrongTypesAreNamedWithTheirPlace() {
        AssertionError e = fails(() -> thing(THING.replace("\"size\": 10", "\"size\": \"10\"")));
        assertTrue(e.getMessage().contains("/size"), e.getMessage());
        assertTrue(e.getMessage().contains("GET /things/{id} 200"), e.getMessage());
        fails(() -> thing(THING.replace("\"size\": 10", "\"size\": 10.5")));
        fails(() -> thing(THING.replace("\"size\": 10", "\"size\": null")));
        fails(() -> thing(THING.replace("\"labels\": {\"a\": \"b\"}", "\"labels\": {\"a\": 1}")));
        fails(() -> thing(THING.replace("\"labels\": {\"a\": \"b\"}", "\"labels\": []")));
        fails(() -> thing("[]"));
        fails(() -> check.check("GET", "/things", 200, "application/json", "[1]"));
    }

    @Test
    void requiredAndUnknownProperties() {
        AssertionError missing = fails(() -> thing(THING.replace("\"state\": \"READY\",", "")));
        assertTrue(missing.getMessage().contains("'state' is missing"), missing.getMessage());
        AssertionError extra = fails(() -> thing(THING.replace("{\"id\"", "{\"extra\": 1, \"id\"")));
        assertTrue(extra.getMessage().contains("'extra'"), extra.getMessage());
        fails(() -> thing(THING.replace("{\"name\": \"ann\"}", "{\"name\": \"ann\", \"x\": 1}")));
        fails(() -> thing(THING.replace("{\"name\": \"ann\"}", "{}")));
    }

    @Test
    void enumsFormatsAndBounds() {
        fails(() -> thing(THING.replace("READY", "ready")));
        fails(() -> thing(THING.replace("2026-01-31T12:00:00Z", "yesterday")));
        thing(THING.replace("2026-01-31T12:00:00Z", "2026-01-31T12:00:00.123456789+01:00"));
        fails(() -> thing(THING.replace("0f8fad5b-d9cb", "0f8fad5b-xxxx")));
        fails(() -> thing(THING.replace("\"size\": 10", "\"size\": -1")));
        fails(() -> thing(THING.replace("\"ratio\": 0.5", "\"ratio\": 1")));
        thing(THING.replace("\"ratio\": 0.5", "\"ratio\": 0"));
        fails(() -> thing(THING.replace("\"count\": 3", "\"count\": 3000000000")));
        fails(() -> thing(THING.replace("\"ann\"", "\"Ann\"")));
        fails(() -> thing(THING.replace("\"ann\"", "\"\"")));
        fails(() -> thing(THING.replace("\"ann\"", "\"annabelle\"")));
    }

    @Test
    void oneOfNeedsExactlyOne() {
        check.check("POST", "/things", 202, "application/json", "{\"result\": null}");
        check.check("POST", "/things", 202, "application/json", "{\"result\": {\"name\": \"x\"}}");
        check.check("POST", "/things", 202, "application/json", "{\"result\": [\"a\"]}");
        fails(() -> check.check("POST", "/things", 202, "application/json", "{\"result\": 5}"));
        fails(() -> check.check("POST", "/things", 202, "application/json", "{\"result\": {\"name\": 5}}"));
    }

    @Test
    void undocumentedStatusesAndOperationsFail() {
        AssertionError e = fails(() -> check.check("GET", "/things/{id}", 404, "application/json", "{}"));
        assertTrue(e.getMessage().contains("not documented"), e.getMessage());
        assertTrue(e.getMessage().contains("[200]"), e.getMessage());
        fails(() -> check.check("PUT", "/things/{id}", 200, "application/json", THING));
        fails(() -> check.check("GET", "/nothing", 200, "application/json", THING));
        fails(() -> check.check("GET", "/things", 500, "application/json", "{\"code\": \"X\"}"));
    }

    @Test
    void statusRangesAreHonoured() {
        check.check("GET", "/things", 404, "application/json", "{\"code\": \"NOT_FOUND\"}");
        check.check("GET", "/things", 429, "application/json", "{\"code\": \"TOO_MANY_REQUESTS\"}");
        fails(() -> check.check("GET", "/things", 404, "application/json", "{\"code\": 404}"));
    }

    @Test
    void contentTypesAndEmptyBodies() {
        check.check("DELETE", "/things/{id}", 204, null, null);
        check.check("DELETE", "/things/{id}", 204, null, "");
        fails(() -> check.check("DELETE", "/things/{id}", 204, "application/json", "{}"));
        fails(() -> thing(""));
        fails(() -> check.check("GET", "/things/{id}", 200, "text/plain", THING));
        fails(() -> check.check("GET", "/things/{id}", 200, null, THING));
        fails(() -> thing("{not json"));
        check.check("GET", "/things/special", 200, "text/plain; version=0.0.4", "anything at all");
        check.check("GET", "/files/{name}.json", 200, "application/json", "{\"free\": [1, 2]}");
    }

    @Test
    void requestBodies() {
        check.checkRequest("POST", "/things", "application/json", "{\"size\": 1}");
        check.checkRequest("POST", "/things", "application/json", "{\"size\": 1, \"note\": null}");
        fails(() -> check.checkRequest("POST", "/things", "application/json", "{\"size\": 1, \"sise\": 2}"));
        fails(() -> check.checkRequest("POST", "/things", "application/json", "{}"));
        fails(() -> check.checkRequest("POST", "/things", null, null));
        fails(() -> check.checkRequest("DELETE", "/things/{id}", "application/json", "{}"));
        check.checkRequest("DELETE", "/things/{id}", null, null);
    }

    @Test
    void problemsOfANamedSchema() {
        assertEquals(List.of(), check.problems("Owner", "{\"name\": \"bob\"}"));
        assertEquals(1, check.problems("Owner", "{\"name\": \"bob\", \"age\": 3}").size());
        assertThrows(IllegalArgumentException.class, () -> check.problems("Nobody", "{}"));
    }

    @Test
    void concretePathsMapToTemplates() {
        assertEquals("/things/{id}", check.template("GET", "/things/42"));
        assertEquals("/things/{id}", check.template("delete", "/api/v1/things/42?force=true"));
        assertEquals("/things/special", check.template("GET", "/things/special"));
        assertEquals("/things/{id}", check.template("DELETE", "/things/special"));
        assertEquals("/things/{id}", check.template("GET", "/things/a%2Fb"));
        assertEquals("/files/{name}.json", check.template("GET", "/files/report.json"));
        assertEquals("/things", check.template("POST", "/api/v1/things"));
        AssertionError method = fails(() -> check.template("PUT", "/things/42"));
        assertTrue(method.getMessage().contains("other methods"), method.getMessage());
        fails(() -> check.template("GET", "/things/42/more"));
        fails(() -> check.template("GET", "/things/"));
        fails(() -> check.template("GET", "/files/report.txt"));
    }

    @Test
    void aDocumentMustBeOpenApi3() {
        assertThrows(IllegalArgumentException.class, () -> OpenApiCheck.of("{\"swagger\": \"2.0\", \"paths\": {}}"));
        assertThrows(IllegalArgumentException.class, () -> OpenApiCheck.of("not json"));
        assertThrows(IllegalArgumentException.class, () -> OpenApiCheck.of(
                "{\"openapi\": \"3.0.3\", \"paths\": {}, \"paths\": {}}"));
    }
}

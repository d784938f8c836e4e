package io.strata.core.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.strata.api.ErrorCode;
import io.strata.api.Names;
import io.strata.api.StorageException;
import io.strata.api.format.Provisioning;
import java.io.IOException;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;

/**
 * The JSON form of a catalog. Written through Jackson's tree model rather than
 * data binding so that no reflection on this bundle's private classes is
 * needed inside the container, and so that unknown fields written by a newer
 * version are ignored instead of failing the mount.
 */
final class CatalogCodec {
    private static final ObjectMapper MAPPER = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private CatalogCodec() {
    }

    static byte[] encode(Catalog catalog) {
        ObjectNode root = MAPPER.createObjectNode();
        root.put("kind", "strata-catalog");
        root.put("version", Catalog.VERSION);
        root.put("generation", catalog.generation());
        ArrayNode volumes = root.putArray("volumes");
        for (CatalogEntry e : catalog.volumes()) {
            ObjectNode v = volumes.addObject();
            v.put("name", e.name());
            v.put("file", e.file());
            v.put("format", e.format());
            v.put("provisioning", e.provisioning().label());
            v.put("virtualSize", e.virtualSize());
            v.put("created", e.created().toString());
            v.put("state", e.state().name());
            if (e.adoptedFrom() != null) {
                v.put("adoptedFrom", e.adoptedFrom());
            }
            if (e.tempFile() != null) {
                v.put("tempFile", e.tempFile());
            }
            if (e.resizeTo() > 0) {
                v.put("resizeTo", e.resizeTo());
            }
            if (!e.snapshots().isEmpty()) {
                ArrayNode snaps = v.putArray("snapshots");
                for (CatalogEntry.Snap s : e.snapshots()) {
                    ObjectNode n = snaps.addObject();
                    n.put("name", s.name());
                    n.put("file", s.file());
                    n.put("parent", s.parent());
                    n.put("created", s.created().toString());
                }
            }
            if (!e.leafParent().isEmpty()) {
                v.put("leafParent", e.leafParent());
            }
            if (!e.base().isEmpty()) {
                v.put("base", e.base());
            }
            int area = catalog.area(e.name());
            if (area >= 0) {
                v.put("leaseArea", area);
            }
            if (e.pending() != null) {
                ObjectNode p = v.putObject("pending");
                p.put("op", e.pending().op());
                p.put("snapshot", e.pending().snapshot());
                p.put("file", e.pending().file());
                p.put("phase", e.pending().phase());
            }
        }
        try {
            return MAPPER.writeValueAsBytes(root);
        } catch (IOException e) {
            throw new StorageException(ErrorCode.INTERNAL, "cannot encode the volume catalog: " + e.getMessage(), e);
        }
    }

    /**
     * @throws StorageException {@code CORRUPT_IMAGE} naming what is wrong
     */
    static Catalog decode(String datastore, byte[] json) {
        JsonNode root;
        try {
            root = MAPPER.readTree(json);
        } catch (IOException e) {
            throw corrupt(datastore, "not valid JSON (" + firstLine(e.getMessage()) + ")");
        }
        if (root == null || !root.isObject()) {
            throw corrupt(datastore, "not a JSON object");
        }
        int version = root.path("version").asInt(-1);
        if (version < 1) {
            throw corrupt(datastore, "no catalog version");
        }
        if (version > Catalog.VERSION) {
            throw corrupt(datastore, "catalog version " + version + " is newer than this Strata understands ("
                    + Catalog.VERSION + ")");
        }
        long generation = root.path("generation").asLong(0);
        JsonNode vols = root.path("volumes");
        if (!vols.isArray()) {
            throw corrupt(datastore, "no volume list");
        }
        List<CatalogEntry> entries = new ArrayList<>();
        java.util.Map<String, Integer> areas = new java.util.TreeMap<>();
        java.util.Set<Integer> seen = new java.util.HashSet<>();
        for (JsonNode v : vols) {
            CatalogEntry e = entry(datastore, v);
            entries.add(e);
            JsonNode a = v.get("leaseArea");
            if (a != null) {
                if (!a.canConvertToInt() || a.asInt() < 1 || !seen.add(a.asInt())) {
                    throw corrupt(datastore, "entry '" + e.name() + "' has a bad or repeated lease area " + a);
                }
                areas.put(e.name(), a.asInt());
            }
        }
        return new Catalog(generation, entries, areas);
    }

    private static CatalogEntry entry(String datastore, JsonNode v) {
        String name = text(datastore, v, "name");
        try {
            // The catalog is read from shared storage: every name in it becomes a file name, so it
            // is held to the same rules as names users type before anything opens a file.
            Names.check("volume", name);
            String base = v.path("base").asText("");
            if (!base.isEmpty()) {
                String[] b = Chains.splitBase(base);
                Names.check("volume", b[0]);
                if (!b[1].isEmpty()) {
                    Names.check("snapshot", b[1]);
                }
            }
            long size = v.path("virtualSize").asLong(0);
            long resizeTo = v.path("resizeTo").asLong(0);
            if (size < 0 || resizeTo < 0) {
                throw new IllegalArgumentException("negative size");
            }
            return new CatalogEntry(name, file(v, "file"), text(datastore, v, "format"),
                    Provisioning.parse(text(datastore, v, "provisioning")), size,
                    Instant.parse(text(datastore, v, "created")),
                    CatalogEntry.State.valueOf(text(datastore, v, "state")),
                    v.hasNonNull("adoptedFrom") ? file(v, "adoptedFrom") : null,
                    v.hasNonNull("tempFile") ? file(v, "tempFile") : null,
                    resizeTo, snapshots(datastore, v), optionalName(v.path("leafParent").asText("")),
                    base, pending(v));
        } catch (DateTimeParseException | IllegalArgumentException | StorageException e) {
            throw corrupt(datastore, "entry '" + name + "' is malformed (" + firstLine(e.getMessage()) + ")");
        }
    }

    private static List<CatalogEntry.Snap> snapshots(String datastore, JsonNode v) {
        List<CatalogEntry.Snap> list = new ArrayList<>();
        for (JsonNode n : v.path("snapshots")) {
            list.add(new CatalogEntry.Snap(Names.check("snapshot", text(datastore, n, "name")), file(n, "file"),
                    optionalName(n.path("parent").asText("")), Instant.parse(text(datastore, n, "created"))));
        }
        return list;
    }

    private static CatalogEntry.Pending pending(JsonNode v) {
        JsonNode p = v.get("pending");
        if (p == null || !p.isObject()) {
            return null;
        }
        String file = p.path("file").asText("");
        return new CatalogEntry.Pending(p.path("op").asText(""), optionalName(p.path("snapshot").asText("")),
                file.isEmpty() ? file : plainFile(file), p.path("phase").asText(""));
    }

    private static String optionalName(String snapshot) {
        return snapshot.isEmpty() ? snapshot : Names.check("snapshot", snapshot);
    }

    private static String file(JsonNode v, String field) {
        JsonNode n = v.get(field);
        if (n == null || !n.isTextual()) {
            throw new IllegalArgumentException("no '" + field + "'");
        }
        return plainFile(n.asText());
    }

    /** A file of the datastore's flat namespace: no separators, no parent references, no control characters. */
    static String plainFile(String f) {
        if (f.isEmpty() || f.length() > 255 || f.equals(".") || f.equals("..") || f.indexOf('/') >= 0
                || f.indexOf('\\') >= 0 || f.chars().anyMatch(c -> c < 0x20 || c == 0x7f)) {
            throw new IllegalArgumentException("'" + Names.printable(f) + "' is not a plain file name");
        }
        return f;
    }

    private static String text(String datastore, JsonNode v, String field) {
        JsonNode n = v.get(field);
        if (n == null || !n.isTextual()) {
            throw corrupt(datastore, "an entry has no '" + field + "'");
        }
        return n.asText();
    }

    private static StorageException corrupt(String datastore, String what) {
        return new StorageException(ErrorCode.CORRUPT_IMAGE,
                "volume catalog " + Catalog.FILE + " of datastore '" + datastore + "' is damaged: " + what);
    }

    private static String firstLine(String s) {
        if (s == null) {
            return "";
        }
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }
}

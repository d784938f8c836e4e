package io.strata.rest.internal.security;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AuditLogTest {
    private static final Instant T0 = Instant.parse("2026-03-01T10:00:00Z");
    @TempDir
    Path dir;

    private static AuditEntry entry(int n, String user) {
        return new AuditEntry(T0.plusSeconds(n), user, "password", "10.0.0.1", "POST /datastores/{ds}/volumes",
                "/datastores/ds1/volumes/v" + n, 201, "OK");
    }

    private static int number(AuditEntry e) {
        return Integer.parseInt(e.target().substring(e.target().lastIndexOf('v') + 1));
    }

    private Path current() {
        return dir.resolve("audit.log");
    }

    @Test
    void recordsAreJsonLines() throws IOException {
        try (AuditLog log = new AuditLog(dir, 1 << 20, 3)) {
            log.record(entry(1, "alice"));
            log.record(entry(2, "bob"));
        }
        List<String> lines = Files.readAllLines(current());
        assertEquals(2, lines.size());
        ObjectMapper m = new ObjectMapper();
        JsonNode first = m.readTree(lines.get(0));
        assertEquals("2026-03-01T10:00:01Z", first.get("time").asText(), "times are ISO strings");
        assertEquals("alice", first.get("user").asText());
        assertEquals("password", first.get("via").asText());
        assertEquals("10.0.0.1", first.get("client").asText());
        assertEquals("POST /datastores/{ds}/volumes", first.get("action").asText());
        assertEquals("/datastores/ds1/volumes/v1", first.get("target").asText());
        assertEquals(201, first.get("status").asInt());
        assertEquals("OK", first.get("result").asText());
        assertEquals("bob", m.readTree(lines.get(1)).get("user").asText());
        assertTrue(Files.readString(current()).endsWith("\n"));
    }

    @Test
    void theFileIsMode0600() throws IOException {
        try (AuditLog log = new AuditLog(dir.resolve("sub"), 1 << 20, 3)) {
            log.record(entry(1, "alice"));
        }
        assertEquals(PosixFilePermissions.fromString("rw-------"),
                Files.getPosixFilePermissions(dir.resolve("sub").resolve("audit.log")));
    }

    @Test
    void newestReadsBackWhatWasWrittenAcrossInstances() {
        try (AuditLog log = new AuditLog(dir, 1 << 20, 3)) {
            log.record(entry(1, "alice"));
            log.record(entry(2, "bob"));
        }
        try (AuditLog log = new AuditLog(dir, 1 << 20, 3)) {
            log.record(entry(3, "alice"));
            assertEquals(List.of(entry(1, "alice"), entry(2, "bob"), entry(3, "alice")),
                    log.newest(10, e -> true));
            assertEquals(List.of(entry(2, "bob"), entry(3, "alice")), log.newest(2, e -> true));
            assertEquals(List.of(entry(1, "alice"), entry(3, "alice")), log.newest(10, e -> e.user().equals("alice")));
        }
    }

    @Test
    void noFileMeansNoEntries() {
        try (AuditLog log = new AuditLog(dir.resolve("none"), 4096, 2)) {
            assertTrue(log.newest(10, e -> true).isEmpty());
        }
    }

    @Test
    void rotationKeepsKeepFilesAndDropsOlderOnes() throws IOException {
        int total = 200;
        try (AuditLog log = new AuditLog(dir, 4096, 2)) {
            for (int i = 0; i < total; i++) {
                log.record(entry(i, i % 2 == 0 ? "alice" : "bob"));
            }
        }
        assertTrue(Files.exists(current()));
        assertTrue(Files.exists(dir.resolve("audit.log.1")));
        assertTrue(Files.exists(dir.resolve("audit.log.2")));
        assertFalse(Files.exists(dir.resolve("audit.log.3")), "only keep=2 rotated files");
        for (String name : List.of("audit.log", "audit.log.1", "audit.log.2")) {
            assertTrue(Files.size(dir.resolve(name)) <= 4096, name + " is at most maxBytes");
            assertEquals(PosixFilePermissions.fromString("rw-------"),
                    Files.getPosixFilePermissions(dir.resolve(name)));
        }
        // the files hold consecutive records: .2 older than .1 older than the current one
        List<Integer> onDisk = new ArrayList<>();
        ObjectMapper m = new ObjectMapper();
        for (String name : List.of("audit.log.2", "audit.log.1", "audit.log")) {
            for (String line : Files.readAllLines(dir.resolve(name))) {
                String target = m.readTree(line).get("target").asText();
                onDisk.add(Integer.parseInt(target.substring(target.lastIndexOf('v') + 1)));
            }
        }
        assertEquals(total - 1, onDisk.get(onDisk.size() - 1));
        for (int i = 1; i < onDisk.size(); i++) {
            assertEquals(onDisk.get(i - 1) + 1, onDisk.get(i), "no record lost or reordered: " + onDisk);
        }
        assertTrue(onDisk.get(0) > 0, "the oldest records were dropped");

        try (AuditLog log = new AuditLog(dir, 4096, 2)) {
            List<AuditEntry> all = log.newest(10_000, e -> true);
            assertEquals(onDisk, all.stream().map(AuditLogTest::number).toList(), "oldest first across files");

            List<AuditEntry> last5 = log.newest(5, e -> true);
            assertEquals(List.of(total - 5, total - 4, total - 3, total - 2, total - 1),
                    last5.stream().map(AuditLogTest::number).toList());

            // more than the current file holds: the rest comes from audit.log.1, still oldest first
            int inCurrent = Files.readAllLines(current()).size();
            List<AuditEntry> spanning = log.newest(inCurrent + 3, e -> true);
            assertEquals(inCurrent + 3, spanning.size());
            for (int i = 0; i < spanning.size(); i++) {
                assertEquals(total - spanning.size() + i, number(spanning.get(i)));
            }

            List<AuditEntry> bobs = log.newest(inCurrent + 3, e -> e.user().equals("bob"));
            assertEquals(inCurrent + 3, bobs.size());
            for (int i = 0; i < bobs.size(); i++) {
                assertEquals("bob", bobs.get(i).user());
                assertEquals(total - 1 - 2 * (bobs.size() - 1 - i), number(bobs.get(i)));
            }
        }
    }

    @Test
    void aTornLastLineIsSkipped() throws IOException {
        try (AuditLog log = new AuditLog(dir, 1 << 20, 3)) {
            log.record(entry(1, "alice"));
            log.record(entry(2, "alice"));
        }
        Files.writeString(current(), "{\"time\":\"2026-03-01T10:00:03Z\",\"user\":\"al", StandardOpenOption.APPEND);
        try (AuditLog log = new AuditLog(dir, 1 << 20, 3)) {
            assertEquals(List.of(entry(1, "alice"), entry(2, "alice")), log.newest(10, e -> true));
        }
    }

    @Test
    void aTornLastLineCutInsideAMultiByteCharacterIsSkipped() throws IOException {
        try (AuditLog log = new AuditLog(dir, 1 << 20, 3)) {
            log.record(entry(1, "alice"));
            log.record(entry(2, "alice"));
        }
        byte[] e9 = "{\"time\":\"2026-03-01T10:00:03Z\",\"user\":\"jos\u00e9\"".getBytes(StandardCharsets.UTF_8);
        // the crash cut the line between the two bytes of 'é'
        byte[] torn = java.util.Arrays.copyOf(e9, e9.length - 2);
        Files.write(current(), torn, StandardOpenOption.APPEND);
        try (AuditLog log = new AuditLog(dir, 1 << 20, 3)) {
            assertEquals(List.of(entry(1, "alice"), entry(2, "alice")), log.newest(10, e -> true),
                    "the whole lines before the torn one are still read");
        }
    }

    @Test
    void aRecordAfterATornLastLineIsNotLost() throws IOException {
        try (AuditLog log = new AuditLog(dir, 1 << 20, 3)) {
            log.record(entry(1, "alice"));
        }
        Files.writeString(current(), "{\"time\":\"2026-03-01T10:00:02Z\",\"user\":\"al", StandardOpenOption.APPEND);
        try (AuditLog log = new AuditLog(dir, 1 << 20, 3)) {
            log.record(entry(3, "bob"));
            assertEquals(List.of(entry(1, "alice"), entry(3, "bob")), log.newest(10, e -> true),
                    "the first record after a crash starts a line of its own");
        }
    }

    @Test
    void anOversizedRecordIsStillWritten() throws IOException {
        String big = "x".repeat(5000);
        AuditEntry e = new AuditEntry(T0, "alice", "password", "c", "POST /x", "/" + big, 200, "OK");
        try (AuditLog log = new AuditLog(dir, 4096, 2)) {
            log.record(entry(1, "alice"));
            log.record(e);
            assertEquals(List.of(entry(1, "alice"), e), log.newest(10, x -> true));
        }
        assertTrue(Files.exists(dir.resolve("audit.log.1")), "the full file was rotated first");
    }
}

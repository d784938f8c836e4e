package io.strata.rest.internal.security;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.strata.rest.internal.Json;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The audit log: one JSON object per line in {@code audit.log}, appended and synced before
 * the answer leaves, never rewritten. When the file passes {@code maxBytes} it is renamed to
 * {@code audit.log.1} (the older ones shift up) and a new one begun; {@code keep} rotated
 * files are kept. A record that cannot be written is logged as an error, and the request is
 * still answered: the storage change has happened by then.
 */
public final class AuditLog implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(AuditLog.class);
    private static final String NAME = "audit.log";
    private final Path dir;
    private final long maxBytes;
    private final int keep;
    private final ObjectMapper mapper = Json.mapper();
    private FileChannel channel;

    public AuditLog(Path dir, long maxBytes, int keep) {
        this.dir = dir;
        this.maxBytes = Math.max(4096, maxBytes);
        this.keep = Math.max(1, keep);
    }

    /** Appends {@code e} and syncs it. */
    public synchronized void record(AuditEntry e) {
        try {
            byte[] line = (mapper.writeValueAsString(e) + "\n").getBytes(java.nio.charset.StandardCharsets.UTF_8);
            FileChannel ch = channel();
            if (ch.size() > 0 && ch.size() + line.length > maxBytes) {
                rotate();
                ch = channel();
            }
            ByteBuffer b = ByteBuffer.wrap(line);
            while (b.hasRemaining()) {
                ch.write(b);
            }
            ch.force(false);
        } catch (IOException ex) {
            LOG.error("audit: cannot write {} {} by {}: {}", e.action(), e.target(), e.user(), ex.toString());
            closeChannel();
        }
    }

    private FileChannel channel() throws IOException {
        if (channel == null) {
            Files.createDirectories(dir);
            Path f = dir.resolve(NAME);
            if (!Files.exists(f)) {
                Files.createFile(f, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
            }
            channel = FileChannel.open(f, StandardOpenOption.WRITE, StandardOpenOption.APPEND);
            endTornLine(f, channel);
        }
        return channel;
    }

    /** After a crash mid-record, the next record starts a line of its own. */
    private static void endTornLine(Path f, FileChannel append) throws IOException {
        long size = append.size();
        if (size == 0) {
            return;
        }
        ByteBuffer last = ByteBuffer.allocate(1);
        try (FileChannel read = FileChannel.open(f, StandardOpenOption.READ)) {
            read.read(last, size - 1);
        }
        if (last.get(0) != '\n') {
            append.write(ByteBuffer.wrap(new byte[] {'\n'}));
        }
    }

    private void rotate() throws IOException {
        closeChannel();
        Files.deleteIfExists(dir.resolve(NAME + "." + keep));
        for (int i = keep - 1; i >= 1; i--) {
            Path from = dir.resolve(NAME + "." + i);
            if (Files.exists(from)) {
                Files.move(from, dir.resolve(NAME + "." + (i + 1)));
            }
        }
        Files.move(dir.resolve(NAME), dir.resolve(NAME + ".1"));
    }

    /**
     * @return the newest {@code limit} entries that {@code filter} accepts, oldest first,
     *         from the current file and the rotated ones
     */
    public synchronized List<AuditEntry> newest(int limit, Predicate<AuditEntry> filter) {
        Deque<AuditEntry> out = new ArrayDeque<>();
        for (int i = 0; i <= keep && out.size() < limit; i++) {
            Path f = dir.resolve(i == 0 ? NAME : NAME + "." + i);
            if (!Files.exists(f)) {
                continue;
            }
            List<AuditEntry> file = new ArrayList<>();
            try {
                // Decoded leniently: a line torn inside a multi-byte character by a crash
                // is skipped below, not the whole file.
                String text = java.nio.charset.StandardCharsets.UTF_8.newDecoder()
                        .onMalformedInput(java.nio.charset.CodingErrorAction.REPLACE)
                        .onUnmappableCharacter(java.nio.charset.CodingErrorAction.REPLACE)
                        .decode(ByteBuffer.wrap(Files.readAllBytes(f))).toString();
                for (String line : text.split("\n")) {
                    if (line.isBlank()) {
                        continue;
                    }
                    try {
                        AuditEntry e = mapper.readValue(line, AuditEntry.class);
                        if (filter.test(e)) {
                            file.add(e);
                        }
                    } catch (IOException bad) {
                        // a torn last line after a crash: skip it
                    }
                }
            } catch (IOException e) {
                LOG.warn("audit: cannot read {}: {}", f, e.toString());
            }
            for (int j = file.size() - 1; j >= 0 && out.size() < limit; j--) {
                out.addFirst(file.get(j));
            }
        }
        return new ArrayList<>(out);
    }

    private void closeChannel() {
        if (channel != null) {
            try {
                channel.close();
            } catch (IOException e) {
                // reopened on the next record
            }
            channel = null;
        }
    }

    @Override
    public synchronized void close() {
        closeChannel();
    }
}

package io.strata.fs.vims.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.api.fs.DatastoreFile;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A host that dies in the middle of creating a file, at each of the create's filesystem writes:
 * another host mounts at once, before the dead host's heartbeat expired and its journal is
 * replayed. Whatever it lists it can open: a directory entry that landed before its descriptor
 * is a file still being made, not one "deleted meanwhile". Once the journal is replayed the
 * create is whole (its record reached the journal) or never happened (it did not).
 */
class CreateCutVisibilityTest {
    @TempDir
    Path dir;

    @Test
    void aFileListedWhileItsCreatorsJournalAwaitsReplayOpens() throws Exception {
        CrashWorkload.Template template = CrashWorkload.Template.format(dir.resolve("template"));
        // how many filesystem writes the create takes, on an otherwise idle mount
        long before;
        long after;
        Path probe = dir.resolve("probe");
        template.copyTo(probe);
        try (CrashDevice dev = new CrashDevice(probe, template, 0, false, 0)) {
            Vims a = CrashWorkload.mount(dev, "a", () -> {
            });
            try {
                before = dev.writes();
                a.create("f2").close();
                after = dev.writes();
            } finally {
                a.close();
            }
        }
        assertTrue(after > before, "the create wrote nothing");
        List<String> seen = new ArrayList<>();
        for (long cut = before + 1; cut <= after; cut++) {
            Path lun = dir.resolve("lun-" + cut);
            template.copyTo(lun);
            try (CrashDevice dev = new CrashDevice(lun, template, cut, false, cut)) {
                Vims a = CrashWorkload.mount(dev, "a", () -> {
                });
                try {
                    a.create("f2").close();
                } catch (RuntimeException e) {
                    // after the cut anything may fail
                } finally {
                    a.close(); // writes nothing any more: the host is dead, its heartbeat slot stale
                }
                assertTrue(dev.isCut(), "write " + cut + " was not cut");
                try (CrashDevice real = CrashDevice.plain(lun)) {
                    Vims b = CrashWorkload.mount(real, "b", () -> {
                    });
                    try {
                        boolean listed = b.list().contains("f2");
                        boolean pending = b.awaitingReplay();
                        if (listed) {
                            try (DatastoreFile f = b.open("f2", false)) {
                                assertEquals(0, f.size(), dev.cutWhat);
                            }
                        }
                        seen.add(dev.cutWhat + ": listed " + listed + (pending ? " before the replay" : ""));
                    } finally {
                        b.close();
                    }
                }
            }
        }
        // the cut that matters: the directory entry on disk, the descriptor not, the journal pending
        assertTrue(seen.stream().anyMatch(s -> s.contains("listed true before the replay")),
                "no cut left a listed file with its creator's journal pending: " + seen);
    }
}

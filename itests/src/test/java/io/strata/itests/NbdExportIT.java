package io.strata.itests;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.junit.Assume;
import org.junit.Before;
import org.junit.Test;

/**
 * The NBD server in the real distribution: storage:export-* commands, QEMU's and libnbd's
 * clients against an export, and what an export means for its volume (in use, snapshots
 * see acknowledged writes, removal refused while a client is connected).
 */
public class NbdExportIT extends StrataTestSupport {

    @Before
    public void localIsOnline() {
        awaitDatastore("local", "ONLINE");
    }

    @Test
    public void exportCommandsAndRealClients() throws Exception {
        Assume.assumeTrue("qemu-io is needed", HostTools.has("qemu-io"));
        ok("storage:volume-create local nb 64M");
        Map<String, String> added = keyValues(ok("storage:export-add local/nb"));
        assertEquals("nb", added.get("name"));
        assertEquals("local/nb", added.get("volume"));
        assertEquals("read-write", added.get("mode"));
        assertEquals("ONLINE", added.get("state"));
        assertEquals(nbdUri("nb"), added.get("uri"));
        assertTrue(error("storage:export-add local/nb other").startsWith("ALREADY_EXISTS"));
        assertTrue(error("storage:export-add local/missing").startsWith("VOLUME_NOT_FOUND"));
        assertTrue(error("storage:export-add local/nb ../x").startsWith("INVALID_NAME"));
        assertTrue(error("storage:export-remove nope").startsWith("EXPORT_NOT_FOUND"));

        String wrote = HostTools.run(List.of("qemu-io", "-f", "raw", "-c", "write -P 0x61 0 2M",
                "-c", "write -P 0x62 " + ((64 << 20) - 4096) + " 4096", "-c", "flush", nbdUri("nb")));
        assertTrue(wrote, wrote.contains("wrote 2097152/2097152 bytes at offset 0"));
        // An exported volume is in use: not deleted, not resized.
        assertTrue(error("storage:volume-delete local/nb").startsWith("VOLUME_IN_USE"));
        // A snapshot taken while exported keeps what the client saw completed.
        ok("storage:snapshot-create local/nb s1");
        HostTools.run(List.of("qemu-io", "-f", "raw", "-c", "write -P 0x63 0 1M", nbdUri("nb")));
        String read = HostTools.run(List.of("qemu-io", "-f", "raw", "-r", "-c", "read -P 0x63 0 1M",
                "-c", "read -P 0x61 1M 1M", "-c", "read -P 0x62 " + ((64 << 20) - 4096) + " 4096", nbdUri("nb")));
        assertTrue(read, !read.contains("failed") && read.contains("read 4096/4096 bytes"));
        // ... and s1, seen through a linked clone exported read-only, holds what was acknowledged before it.
        ok("storage:volume-clone --linked local/nb@s1 local nbs1");
        ok("storage:export-add --read-only local/nbs1");
        String snap = HostTools.run(List.of("qemu-io", "-f", "raw", "-r", "-c", "read -P 0x61 0 2M",
                "-c", "read -P 0x62 " + ((64 << 20) - 4096) + " 4096", nbdUri("nbs1")));
        assertTrue(snap, !snap.contains("failed") && snap.contains("read 2097152/2097152 bytes"));
        ok("storage:export-remove nbs1");
        ok("storage:volume-delete local/nbs1");
        if (HostTools.has("nbdinfo")) {
            for (String can : List.of("flush", "trim", "multi-conn")) {
                HostTools.run(List.of("nbdinfo", "--can", can, nbdUri("nb"))); // exit 0 = yes
            }
            String map = HostTools.run(List.of("nbdinfo", "--map", nbdUri("nb")));
            assertTrue(map, map.contains("data") && map.contains("hole"));
        }

        // While a client is connected the export is listed with it, and removal needs --force.
        try (Socket client = nbdConnect("nb")) {
            String row = awaitOutput("storage:export-list --no-format", out -> out.contains("\t1\t127.0.0.1:"));
            assertTrue(row, row.startsWith("nb\tlocal/nb\trw\tONLINE\t1\t127.0.0.1:"));
            String table = ok("storage:export-list");
            assertTrue(table, table.contains("Name") && table.contains("local/nb") && table.contains(nbdUri("nb")));
            assertTrue(error("storage:export-remove nb").startsWith("EXPORT_IN_USE"));
        }
        awaitOutput("storage:export-list --no-format", out -> out.startsWith("nb\tlocal/nb\trw\tONLINE\t0\t"));
        assertEquals("Export nb removed", ok("storage:export-remove nb").trim());
        assertEquals("", ok("storage:export-list --no-format").trim());

        // Read-only exports refuse writes.
        Map<String, String> ro = keyValues(ok("storage:export-add --read-only local/nb nbro"));
        assertEquals("read-only", ro.get("mode"));
        String refused = HostTools.run(List.of("sh", "-c", "qemu-io -f raw -c 'write 0 512' " + nbdUri("nbro")
                + " 2>&1; true"));
        assertTrue(refused, refused.toLowerCase().contains("read-only") || refused.contains("ermission")
                || refused.contains("not permitted"));
        try (Socket client = nbdConnect("nbro")) {
            ok("storage:export-remove --force nbro");
            assertEquals(-1, client.getInputStream().read());
        }
        ok("storage:snapshot-delete local/nb s1");
        ok("storage:volume-delete local/nb");
    }
}

package io.strata.shell.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.api.service.Availability;
import io.strata.api.service.ExportInfo;
import io.strata.api.service.ExportService;
import io.strata.api.service.VolumeRef;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class ExportCommandsTest {
    /** An ExportService holding a list, refusing what the real one refuses that matters here. */
    static final class FakeExports implements ExportService {
        final List<ExportInfo> exports = new ArrayList<>();

        @Override
        public ExportInfo add(VolumeRef volume, String name, boolean readOnly) {
            String n = name == null ? volume.volume() : name;
            if (exports.stream().anyMatch(e -> e.name().equals(n))) {
                throw new StorageException(ErrorCode.ALREADY_EXISTS, "export '" + n + "' already exists");
            }
            ExportInfo e = new ExportInfo(n, volume, readOnly, Availability.ONLINE, "", List.of(),
                    "nbd://127.0.0.1:10809/" + n);
            exports.add(e);
            return e;
        }

        @Override
        public List<ExportInfo> list() {
            return exports;
        }

        @Override
        public ExportInfo info(String name) {
            return exports.stream().filter(e -> e.name().equals(name)).findFirst().orElseThrow(
                    () -> new StorageException(ErrorCode.EXPORT_NOT_FOUND, "no export named '" + name + "'"));
        }

        @Override
        public void remove(String name, boolean force) {
            ExportInfo e = info(name);
            if (!e.clients().isEmpty() && !force) {
                throw new StorageException(ErrorCode.EXPORT_IN_USE, "export '" + name + "' has clients");
            }
            exports.remove(e);
        }
    }

    final FakeExports fake = new FakeExports();

    ExportAddCommand add(String volume, String name, boolean ro) {
        ExportAddCommand c = new ExportAddCommand();
        c.exports = fake;
        c.volume = volume;
        c.name = name;
        c.readOnly = ro;
        return c;
    }

    @Test
    void infoShowsTheUnixSocketUriWhenTheServerHasOne() {
        ExportInfo e = new ExportInfo("vm1", VolumeRef.parse("local/vm1"), false, Availability.ONLINE, "", List.of(),
                "nbd://127.0.0.1:10809/vm1", "nbd+unix:///vm1?socket=/srv/strata/data/strata/nbd.sock", false);
        assertEquals("name: vm1\nvolume: local/vm1\nmode: read-write\nuri: nbd://127.0.0.1:10809/vm1\n"
                + "local-uri: nbd+unix:///vm1?socket=/srv/strata/data/strata/nbd.sock\n"
                + "state: ONLINE\nclients: \n", Exports.info(e));
    }

    @Test
    void anExportThatRequiresTlsSaysSoAndAServerWithoutPerExportTlsRefuses() {
        ExportInfo e = new ExportInfo("vm1", VolumeRef.parse("local/vm1"), false, Availability.ONLINE, "", List.of(),
                "nbds://127.0.0.1:10809/vm1", "", true);
        assertEquals("name: vm1\nvolume: local/vm1\nmode: read-write\nuri: nbds://127.0.0.1:10809/vm1\n"
                + "tls: required\nstate: ONLINE\nclients: \n", Exports.info(e));
        ExportAddCommand c = add("local/vm1", null, false);
        c.tls = true;
        assertEquals("Error executing command: UNSUPPORTED: this NBD server cannot require TLS for one export\n",
                Shell.errorOutput(c));
        assertTrue(fake.exports.isEmpty());
    }

    @Test
    void addPrintsTheExportAndListShowsClients() {
        assertEquals("name: vm1\nvolume: local/vm1\nmode: read-write\nuri: nbd://127.0.0.1:10809/vm1\n"
                + "state: ONLINE\nclients: \n", add("local/vm1", null, false).run());
        add("local/vm2", "golden", true).run();
        fake.exports.set(0, new ExportInfo("vm1", VolumeRef.parse("local/vm1"), false, Availability.ONLINE, "",
                List.of("127.0.0.1:40000", "127.0.0.1:40002"), "nbd://127.0.0.1:10809/vm1"));
        ExportListCommand list = new ExportListCommand();
        list.exports = fake;
        assertEquals(""
                + "Name   | Volume    | Mode | State  | Clients | Connected from                  | URI\n"
                + "-------+-----------+------+--------+---------+---------------------------------+-----------------------------\n"
                + "vm1    | local/vm1 | rw   | ONLINE |       2 | 127.0.0.1:40000,127.0.0.1:40002 | nbd://127.0.0.1:10809/vm1\n"
                + "golden | local/vm2 | ro   | ONLINE |       0 |                                 | nbd://127.0.0.1:10809/golden\n",
                list.run());
        list.noFormat = true;
        assertEquals("vm1\tlocal/vm1\trw\tONLINE\t2\t127.0.0.1:40000,127.0.0.1:40002\tnbd://127.0.0.1:10809/vm1\n"
                + "golden\tlocal/vm2\tro\tONLINE\t0\t\tnbd://127.0.0.1:10809/golden\n", list.run());
    }

    @Test
    void removeAndErrorsAreOneLine() {
        add("local/vm1", null, false).run();
        assertEquals("Error executing command: ALREADY_EXISTS: export 'vm1' already exists\n",
                Shell.errorOutput(add("local/vm1", null, false)));
        ExportRemoveCommand rm = new ExportRemoveCommand();
        rm.exports = fake;
        rm.name = "vm1";
        assertEquals("Export vm1 removed\n", rm.run());
        assertEquals("Error executing command: EXPORT_NOT_FOUND: no export named 'vm1'\n", Shell.errorOutput(rm));
    }

    @Test
    void withoutTheNbdServerTheCommandsSaySo() {
        ExportListCommand list = new ExportListCommand();
        assertEquals("Error executing command: UNSUPPORTED: the NBD server is not running: feature strata-nbd"
                + " is not installed, or its configuration (etc/io.strata.nbd.cfg) was refused; the log says why\n",
                Shell.errorOutput(list));
    }
}

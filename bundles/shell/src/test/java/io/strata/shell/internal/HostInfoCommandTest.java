package io.strata.shell.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.strata.api.service.HostInfo;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;

class HostInfoCommandTest {
    private static final UUID ME = UUID.fromString("0b0e6c1e-6a55-4c36-9a8e-1d2f8f0c0001");
    private static final UUID OTHER = UUID.fromString("0b0e6c1e-6a55-4c36-9a8e-1d2f8f0c0002");

    private static HostInfoCommand command(HostInfo info) {
        HostInfoCommand c = new HostInfoCommand();
        c.hosts = () -> info;
        return c;
    }

    @Test
    void aHostWithoutSharedDatastoresShowsItsIdentity() {
        assertEquals("Host esx1\nId   " + ME + "\nNo shared datastore mounted.\n",
                command(new HostInfo(ME, "esx1", List.of())).run());
    }

    @Test
    void eachSharedDatastoreListsTheHostsInItsLockspace() {
        HostInfo info = new HostInfo(ME, "esx1", List.of(new HostInfo.Shared("san1", 0, 3, true, List.of(
                new HostInfo.Member(0, ME, "esx1", 3, "LIVE", 200),
                new HostInfo.Member(1, OTHER, "esx2", 7, "DEAD", 17_400)))));
        assertEquals("Host esx1\nId   " + ME + "\n"
                + "Datastore | Slot | Host | Id                                   | Generation | State            | Unchanged\n"
                + "----------+------+------+--------------------------------------+------------+------------------+----------\n"
                + "san1      | 0    | esx1 | " + ME + " | 3          | LIVE (this host) |\n"
                + "san1      | 1    | esx2 | " + OTHER + " | 7          | DEAD             | 17 s\n",
                command(info).run());
    }

    @Test
    void aFencedHostSaysSo() {
        HostInfo info = new HostInfo(ME, "esx1", List.of(new HostInfo.Shared("san1", 0, 3, false, List.of(
                new HostInfo.Member(0, ME, "esx1", 3, "LIVE", 0)))));
        HostInfoCommand c = command(info);
        c.noFormat = true;
        assertEquals("Host esx1\nId   " + ME + "\nsan1\t0\tesx1\t" + ME + "\t3\tFENCED (this host)\t\n", c.run());
    }
}

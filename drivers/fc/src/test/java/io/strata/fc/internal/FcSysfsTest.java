package io.strata.fc.internal;

import static io.strata.fc.internal.FakeSysfs.lun;
import static io.strata.fc.internal.FakeSysfs.naa;
import static io.strata.fc.internal.FakeSysfs.portNaa;
import static io.strata.fc.internal.FakeSysfs.vpd83;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Discovery against a fake sysfs tree, and the kernel's scan and rescan attributes. */
class FcSysfsTest {
    static final String HBA3 = "0x21000024ff3dd5b0";
    static final String HBA5 = "0x21000024ff3dd5b1";
    static final String TGT_A = "0x50060e8005f4c010";
    static final String TGT_B = "0x50060e8005f4c020";
    static final String NAA0 = "600a0b800026d63a0000a4c84e6dc3b0";
    static final String NAA1 = "600a0b800026d63a0000a4c84e6dc3b1";

    @TempDir(factory = TargetTempDirs.class)
    Path tmp;
    FakeSysfs fake;

    /**
     * Two HBA ports (host3, host5), each zoned to one port of the array; LUN 0 named by
     * vpd_pg83, LUN 1 by its wwid attribute alone; an enclosure (type 13) at LUN 2; a
     * remote initiator port and a fabric port that lead nowhere.
     */
    static FakeSysfs twoByTwo(Path root) {
        FakeSysfs f = new FakeSysfs(root);
        f.addHost(3, HBA3).addHost(5, HBA5);
        f.addRport(3, 0, 0, 0, TGT_A, "FCP Target").addRport(3, 0, 1, 1, "0x21000024ff000001", "FCP Initiator");
        f.addRport(5, 0, 0, 0, TGT_B, "FCP Target").addRport(5, 0, 2, 2, "0x20fd000dec000000", "Fabric Port");
        for (int h : new int[] {3, 5}) {
            String b = h == 3 ? "sd" : "sdx";
            f.addLun(lun(h + ":0:0:0", b + "b").backing("lun0").vpd83(vpd83(portNaa(h == 3 ? TGT_A.substring(2)
                    : TGT_B.substring(2)), naa(NAA0))).wwid("naa." + NAA0));
            f.addLun(lun(h + ":0:0:1", b + "c").backing("lun1").wwid("naa." + NAA1.toUpperCase()).size(8 << 20));
            f.addLun(lun(h + ":0:0:2", b + "d").type(13));
        }
        return f;
    }

    @BeforeEach
    void setUp() {
        fake = twoByTwo(tmp);
    }

    @Test
    void twoHbasTwoLunsMakeFourPathsToTwoIdentities() {
        FcSysfs.Discovery d = new FcSysfs(fake.sys(), fake.dev()).discover(Set.of());
        assertEquals(List.of("host3", "host5"), d.hosts().stream().map(FcHost::name).toList());
        assertEquals(List.of("host3:0:0:0", "host3:0:0:1", "host5:0:0:0", "host5:0:0:1"),
                d.paths().stream().map(ScsiPath::id).toList(), "the enclosure is not a disk");
        ScsiPath p0 = d.paths().get(0);
        assertEquals("wwid:naa." + NAA0, p0.identity(), "from vpd_pg83: the LU's designator, not the port's");
        assertEquals("naa." + NAA0, p0.deviceId());
        assertEquals("fc host3 " + HBA3 + " -> " + TGT_A, p0.transport());
        assertEquals(fake.dev().resolve("sdb"), p0.node());
        assertEquals(4 << 20, p0.size());
        assertEquals(512, p0.sectorSize());
        assertEquals("STRATA", p0.vendor());
        assertEquals("FAKE-FC", p0.model());
        assertEquals("rport-3:0-0", p0.rport().name());
        ScsiPath p1 = d.paths().get(3);
        assertEquals("wwid:naa." + NAA1, p1.identity(), "from the wwid attribute, lower case");
        assertEquals("fc host5 " + HBA5 + " -> " + TGT_B, p1.transport());
        assertEquals(8 << 20, p1.size());
        assertEquals(d.paths().get(1).identity(), p1.identity());
    }

    @Test
    void onlyTheChosenHosts() {
        FcSysfs.Discovery d = new FcSysfs(fake.sys(), fake.dev()).discover(Set.of("host5"));
        assertEquals(List.of("host5:0:0:0", "host5:0:0:1"), d.paths().stream().map(ScsiPath::id).toList());
        assertTrue(new FcSysfs(fake.sys(), fake.dev()).discover(Set.of("host9")).hosts().isEmpty());
    }

    @Test
    void withoutBusScsiTheScsiDiskClassIsFollowed() throws Exception {
        try (var s = Files.list(fake.sys().resolve("bus/scsi/devices"))) {
            for (Path p : s.toList()) {
                Files.delete(p);
            }
        }
        Files.delete(fake.sys().resolve("bus/scsi/devices"));
        FcSysfs.Discovery d = new FcSysfs(fake.sys(), fake.dev()).discover(Set.of());
        assertEquals(4, d.paths().size());
    }

    @Test
    void pathsWithoutIdentityOrNodeAreLeftOut() throws Exception {
        fake.addRport(3, 0, 4, 4, "0x50060e8005f4c099", "FCP Target");
        fake.addLun(lun("3:0:4:0", "sdm").backing("anonymous"));
        fake.addLun(lun("3:0:4:1", "sdn").backing("nodeless").wwid("naa.600a0b800026d63a0000a4c84e6dc3ff"));
        Files.delete(fake.dev().resolve("sdn"));
        FcSysfs.Discovery d = new FcSysfs(fake.sys(), fake.dev()).discover(Set.of("host3"));
        assertEquals(List.of("host3:0:0:0", "host3:0:0:1"), d.paths().stream().map(ScsiPath::id).toList());
    }

    @Test
    void theRportIsFoundByTargetIdWhenTheTreeDoesNotNameIt() throws Exception {
        // a SCSI device link that resolves outside any rport directory
        Path elsewhere = tmp.resolve("elsewhere/3:0:0:7");
        Files.createDirectories(elsewhere.resolve("block/sdq/queue"));
        FakeSysfs.write(elsewhere.resolve("type"), "0");
        FakeSysfs.write(elsewhere.resolve("wwid"), "naa.600a0b800026d63a0000a4c84e6dc3b7");
        FakeSysfs.write(elsewhere.resolve("block/sdq/size"), "2048");
        Files.createFile(fake.dev().resolve("sdq"));
        Files.createSymbolicLink(fake.sys().resolve("bus/scsi/devices/3:0:0:7"), elsewhere);
        ScsiPath p = new FcSysfs(fake.sys(), fake.dev()).discover(Set.of("host3")).paths().stream()
                .filter(x -> x.id().equals("host3:0:0:7")).findFirst().orElseThrow();
        assertEquals("rport-3:0-0", p.rport().name());
    }

    @Test
    void noFcHostAtAll() {
        Path empty = tmp.resolve("nofc/sys");
        StorageException e = assertThrows(StorageException.class,
                () -> new FcSysfs(empty, tmp.resolve("nofc/dev")).discover(Set.of()));
        assertEquals(ErrorCode.DEVICE_UNAVAILABLE, e.code());
    }

    @Test
    void scanAndRescanWriteTheKernelsAttributes() {
        FcSysfs sysfs = new FcSysfs(fake.sys(), fake.dev());
        FcSysfs.Discovery d = sysfs.discover(Set.of());
        sysfs.scan(d.hosts().get(1));
        assertEquals("- - -", fake.read(fake.scanFile(5)));
        assertEquals("", fake.read(fake.scanFile(3)));
        sysfs.rescan(d.paths().get(1));
        assertEquals("1", fake.read(fake.deviceDir("3:0:0:1").resolve("rescan")));
        fake.removeLun("3:0:0:1");
        StorageException e = assertThrows(StorageException.class, () -> sysfs.rescan(d.paths().get(1)));
        assertEquals(ErrorCode.DEVICE_UNAVAILABLE, e.code(), "a vanished attribute is never created");
        assertTrue(!Files.exists(fake.deviceDir("3:0:0:1")));
    }
}

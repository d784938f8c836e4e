package io.strata.fc.internal;

import static io.strata.fc.internal.FakeSysfs.eui;
import static io.strata.fc.internal.FakeSysfs.naa;
import static io.strata.fc.internal.FakeSysfs.portNaa;
import static io.strata.fc.internal.FakeSysfs.relativePort;
import static io.strata.fc.internal.FakeSysfs.t10;
import static io.strata.fc.internal.FakeSysfs.vpd83;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.strata.api.Names;
import java.util.Arrays;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** Identities from VPD page 0x83 and from the kernel's wwid attribute. */
class LunIdentityTest {
    private static final String NAA6 = "6001405abcdef0123456789abcdef012";

    @Test
    void naaIsPreferredOverEuiAndT10AndPortDesignatorsAreIgnored() {
        byte[] page = vpd83(portNaa("50060e8005f4c010"), relativePort(1), t10("STRATA  FAKE-FC 0001"),
                eui("0011223344556677"), naa(NAA6.toUpperCase()));
        assertEquals(Optional.of("wwid:naa." + NAA6), LunIdentity.fromVpd83(page));
    }

    @Test
    void theLongerNaaWins() {
        byte[] page = vpd83(naa("5000c500a1b2c3d4"), naa(NAA6));
        assertEquals(Optional.of("wwid:naa." + NAA6), LunIdentity.fromVpd83(page));
        assertEquals(Optional.of("wwid:naa.5000c500a1b2c3d4"), LunIdentity.fromVpd83(vpd83(naa("5000C500A1B2C3D4"))));
    }

    @Test
    void euiThenT10() {
        assertEquals(Optional.of("wwid:eui.00112233445566778899aabb"),
                LunIdentity.fromVpd83(vpd83(t10("X"), eui("0011223344556677"), eui("00112233445566778899AABB"))));
        assertEquals(Optional.of("wwid:t10.4142432020"), LunIdentity.fromVpd83(vpd83(t10("ABC  "))));
    }

    @Test
    void nothingUsable() {
        assertEquals(Optional.empty(), LunIdentity.fromVpd83(vpd83(portNaa("50060e8005f4c010"), relativePort(2))));
        assertEquals(Optional.empty(), LunIdentity.fromVpd83(new byte[0]));
        assertEquals(Optional.empty(), LunIdentity.fromVpd83(new byte[] {0, (byte) 0x80, 0, 0}), "another page");
        byte[] truncated = vpd83(naa(NAA6));
        assertEquals(Optional.empty(), LunIdentity.fromVpd83(Arrays.copyOf(truncated, 10)));
    }

    @Test
    void fromTheWwidAttribute() {
        assertEquals(Optional.of("wwid:naa." + NAA6), LunIdentity.fromWwid("naa." + NAA6.toUpperCase() + "\n"));
        assertEquals(Optional.of("wwid:eui.0011223344556677"), LunIdentity.fromWwid("eui.0011223344556677"));
        assertEquals(LunIdentity.fromVpd83(vpd83(t10("ATA     QEMU HARDDISK   QM00001"))),
                LunIdentity.fromWwid("t10.ATA     QEMU HARDDISK   QM00001\n"), "the same LUN named alike either way");
        assertEquals(Optional.of("wwid:t10.410a42"), LunIdentity.fromWwid("t10.A\\x0aB"), "escapes undone");
        assertEquals(Optional.of("wwid:t10.410a42"), LunIdentity.fromWwid("t10.A\\012B"), "octal escapes undone");
        assertEquals(Optional.empty(), LunIdentity.fromWwid("iqn.2003-01.org.linux-iscsi"));
        assertEquals(Optional.empty(), LunIdentity.fromWwid("naa.xyz"));
        assertEquals(Optional.empty(), LunIdentity.fromWwid(""));
        assertEquals(Optional.empty(), LunIdentity.fromWwid(null));
    }

    @Test
    void deviceIdsAreValidNames() {
        assertEquals("naa." + NAA6, LunIdentity.deviceId("wwid:naa." + NAA6));
        Names.check("device", LunIdentity.deviceId("wwid:naa." + NAA6));
        String longT10 = LunIdentity.fromVpd83(vpd83(t10("V".repeat(90)))).orElseThrow();
        String id = LunIdentity.deviceId(longT10);
        assertTrue(id.length() <= Names.MAX_LENGTH, id);
        Names.check("device", id);
        assertEquals(id, LunIdentity.deviceId(longT10), "stable");
    }
}

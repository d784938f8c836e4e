package io.strata.fc.internal;

import java.nio.file.Path;

/**
 * One path to a LUN found in sysfs: a SCSI disk {@code H:C:T:L} behind a remote FC target
 * port, with its block device node.
 *
 * @param hctl the kernel's address
 * @param deviceDir the SCSI device's directory, through its link
 *        {@code <sysfs>/bus/scsi/devices/H:C:T:L}
 * @param identity {@code wwid:naa.…}, from {@code vpd_pg83} or {@code wwid}
 * @param vendor the {@code vendor} attribute, trimmed
 * @param model the {@code model} attribute, trimmed
 * @param block the block device's kernel name, {@code sdc}
 * @param node the block device node, {@code <dev>/sdc}
 * @param size the size in bytes ({@code block/sdc/size} × 512)
 * @param sectorSize the logical block size ({@code block/sdc/queue/logical_block_size})
 * @param host the HBA port
 * @param rport the remote target port
 */
record ScsiPath(Hctl hctl, Path deviceDir, String identity, String vendor, String model, String block, Path node,
        long size, int sectorSize, FcHost host, RemotePort rport) {
    /** @return the path id, {@code host3:0:1:2} */
    String id() {
        return hctl.pathId();
    }

    /** @return the device id the path belongs to */
    String deviceId() {
        return LunIdentity.deviceId(identity);
    }

    /** @return {@code fc host3 <initiator WWPN> -> <target WWPN>} */
    String transport() {
        return "fc " + host.name() + " " + host.portName() + " -> " + rport.portName();
    }

    /** @return the SCSI device's state file ({@code running}, {@code offline}, {@code blocked}, …) */
    Path stateFile() {
        return deviceDir.resolve("state");
    }

    /** @return the block queue's largest discard, 0 when the LUN cannot discard */
    Path discardMaxBytesFile() {
        return deviceDir.resolve("block").resolve(block).resolve("queue").resolve("discard_max_bytes");
    }
}

package io.strata.fc.internal;

import java.nio.file.Path;

/**
 * One remote Fibre Channel port an HBA port sees, as
 * {@code /sys/class/fc_remote_ports/rport-H:C-N} shows it.
 *
 * @param name {@code rport-3:0-1}
 * @param host the SCSI host number H
 * @param channel the channel C
 * @param dir its class directory (the link under {@code class/fc_remote_ports})
 * @param portName the target's WWPN
 * @param nodeName the target's WWNN
 * @param portState {@code Online}, {@code Blocked}, {@code Not Present}, … at discovery
 * @param roles {@code FCP Target}, {@code FCP Initiator}, {@code Fabric Port}, … comma separated
 * @param targetId the SCSI target id bound to it ({@code scsi_target_id}), -1 when none
 */
record RemotePort(String name, int host, int channel, Path dir, String portName, String nodeName,
        String portState, String roles, int targetId) {
    /** @return whether the port offers SCSI LUNs (its roles include {@code FCP Target}) */
    boolean isTarget() {
        return roles.contains("FCP Target");
    }

    /** @return the file the transport keeps the port's state in, read again by every check */
    Path portStateFile() {
        return dir.resolve("port_state");
    }
}

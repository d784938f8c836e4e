package io.strata.fc.internal;

import java.nio.file.Path;

/**
 * One Fibre Channel HBA port as {@code /sys/class/fc_host/hostN} shows it.
 *
 * @param name the SCSI host name, {@code host3}
 * @param number the SCSI host number, 3
 * @param dir its fc_host class directory ({@code <sysfs>/class/fc_host/host3}, the link)
 * @param portName the initiator's WWPN, {@code 0x21000024ff3dd5b0}
 * @param nodeName the initiator's WWNN
 * @param portState {@code Online}, {@code Linkdown}, {@code Offline}, … at discovery
 * @param speed the link speed, {@code 16 Gbit} or {@code unknown}
 */
record FcHost(String name, int number, Path dir, String portName, String nodeName, String portState,
        String speed) {
    /** @return the file the transport keeps the port's state in, read again by every check */
    Path portStateFile() {
        return dir.resolve("port_state");
    }
}

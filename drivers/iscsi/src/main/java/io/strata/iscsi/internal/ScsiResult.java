package io.strata.iscsi.internal;

/**
 * How one SCSI command ended.
 *
 * @param status the SCSI status, or one of libiscsi's transport statuses
 *        ({@link LibIscsi#SCSI_STATUS_CANCELLED}, {@code _ERROR}, {@code _TIMEOUT})
 * @param senseKey the sense key on CHECK CONDITION, else 0
 * @param asc the additional sense code
 * @param ascq the additional sense code qualifier
 * @param residual bytes the target did not transfer (underflow), 0 when all were
 * @param transportError what failed when the command did not reach an end at the target, else null
 */
record ScsiResult(int status, int senseKey, int asc, int ascq, long residual, String transportError) {
    static final int KEY_NOT_READY = 0x02;
    static final int KEY_MEDIUM_ERROR = 0x03;
    static final int KEY_HARDWARE_ERROR = 0x04;
    static final int KEY_ILLEGAL_REQUEST = 0x05;
    static final int KEY_UNIT_ATTENTION = 0x06;
    static final int KEY_DATA_PROTECT = 0x07;
    static final int KEY_ABORTED_COMMAND = 0x0b;
    static final int KEY_MISCOMPARE = 0x0e;

    /** @return a result for a command that failed in the transport (connection lost, timed out) */
    static ScsiResult transport(int status, String error) {
        return new ScsiResult(status, 0, 0, 0, 0, error);
    }

    boolean good() {
        return status == LibIscsi.SCSI_STATUS_GOOD;
    }

    /** @return true when the command did not complete at the target: retry it on another path */
    boolean transportFailed() {
        return status == LibIscsi.SCSI_STATUS_CANCELLED || status == LibIscsi.SCSI_STATUS_ERROR
                || status == LibIscsi.SCSI_STATUS_TIMEOUT || transportError != null;
    }

    boolean checkCondition(int key) {
        return status == LibIscsi.SCSI_STATUS_CHECK_CONDITION && senseKey == key;
    }

    /** @return the status and sense for messages, e.g. {@code CHECK CONDITION ILLEGAL REQUEST 20/00} */
    String describe() {
        if (transportError != null) {
            return transportError;
        }
        return switch (status) {
            case LibIscsi.SCSI_STATUS_GOOD -> "GOOD";
            case LibIscsi.SCSI_STATUS_CHECK_CONDITION -> String.format("CHECK CONDITION %s %02x/%02x",
                    keyName(senseKey), asc, ascq);
            case LibIscsi.SCSI_STATUS_BUSY -> "BUSY";
            case LibIscsi.SCSI_STATUS_RESERVATION_CONFLICT -> "RESERVATION CONFLICT";
            case LibIscsi.SCSI_STATUS_TASK_SET_FULL -> "TASK SET FULL";
            case LibIscsi.SCSI_STATUS_TASK_ABORTED -> "TASK ABORTED";
            case LibIscsi.SCSI_STATUS_CANCELLED -> "cancelled";
            case LibIscsi.SCSI_STATUS_TIMEOUT -> "timed out";
            case LibIscsi.SCSI_STATUS_ERROR -> "transport error";
            default -> String.format("status 0x%x", status);
        };
    }

    static String keyName(int key) {
        return switch (key) {
            case 0x00 -> "NO SENSE";
            case 0x01 -> "RECOVERED ERROR";
            case KEY_NOT_READY -> "NOT READY";
            case KEY_MEDIUM_ERROR -> "MEDIUM ERROR";
            case KEY_HARDWARE_ERROR -> "HARDWARE ERROR";
            case KEY_ILLEGAL_REQUEST -> "ILLEGAL REQUEST";
            case KEY_UNIT_ATTENTION -> "UNIT ATTENTION";
            case KEY_DATA_PROTECT -> "DATA PROTECT";
            case KEY_ABORTED_COMMAND -> "ABORTED COMMAND";
            case KEY_MISCOMPARE -> "MISCOMPARE";
            default -> String.format("sense key 0x%x", key);
        };
    }
}

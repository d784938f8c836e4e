package io.strata.nas.internal.rpc;

/**
 * The credentials of a call: AUTH_SYS (RFC 5531 appendix A), a user and group id and the name
 * of this host; an NFS server maps them to its users (root is squashed unless the export says
 * otherwise).
 */
public record Auth(String machineName, int uid, int gid) {
    public Auth {
        if (machineName.length() > 255) {
            machineName = machineName.substring(0, 255);
        }
    }

    void encode(Xdr.Out out) {
        Xdr.Out body = new Xdr.Out(64);
        body.int32(0); // stamp
        body.string(machineName);
        body.int32(uid).int32(gid);
        body.int32(0); // no supplementary groups
        java.nio.ByteBuffer b = body.toBuffer();
        byte[] bytes = new byte[b.remaining()];
        b.get(bytes);
        out.int32(1).opaque(bytes);
    }
}

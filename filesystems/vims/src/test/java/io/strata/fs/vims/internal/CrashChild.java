package io.strata.fs.vims.internal;

import java.io.PrintStream;
import java.nio.file.Path;

/**
 * The process {@link CrashKillTest} kills: mounts the VIMS on a {@link TestDevice} over the
 * LUN file, runs the planned workload and prints {@code ACK k} once operation k is durable (its
 * flush returned), {@code MOUNTED} before the first and {@code DONE} after the last; then waits
 * to be killed. Arguments: LUN file, workload seed, operation count.
 */
public final class CrashChild {
    private CrashChild() {
    }

    public static void main(String[] args) throws Exception {
        PrintStream out = new PrintStream(new java.io.FileOutputStream(java.io.FileDescriptor.out), true, "UTF-8");
        System.setOut(System.err); // nothing but the protocol on stdout
        Path lun = Path.of(args[0]);
        CrashWorkload.Plan plan = CrashWorkload.plan(Long.parseLong(args[1]), Integer.parseInt(args[2]));
        CrashDevice dev = CrashDevice.plain(lun); // a TestDevice over the LUN file, without fsync
        try {
            Vims fs = CrashWorkload.mount(dev, "child-" + ProcessHandle.current().pid(), () -> out.println("FENCED"));
            out.println("MOUNTED");
            for (int k = 0; k < plan.ops().size(); k++) {
                CrashWorkload.run(fs, plan.ops().get(k));
                out.println("ACK " + k);
            }
            out.println("DONE");
            Thread.sleep(120_000); // waiting to be killed; gone on its own if the test died
            fs.close();
        } catch (Throwable t) {
            t.printStackTrace();
            out.println("ERROR " + t);
            System.exit(2);
        }
        System.exit(0);
    }
}

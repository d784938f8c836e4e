package io.strata.shell.internal;

import java.security.AccessController;
import java.security.Principal;
import javax.security.auth.Subject;

/** The user of the shell session running a command, for audit records. */
final class ShellUser {
    private ShellUser() {
    }

    @SuppressWarnings("removal")
    static String name() {
        Subject s = Subject.getSubject(AccessController.getContext());
        if (s != null) {
            for (Principal p : s.getPrincipals()) {
                // Karaf's org.apache.karaf.jaas.boot.principal.UserPrincipal, by name: the
                // shell bundle does not import Karaf's JAAS packages for this one line.
                if (p.getClass().getSimpleName().equals("UserPrincipal")) {
                    return p.getName();
                }
            }
        }
        return "shell";
    }
}

package io.strata.rest.internal.shell;

import java.security.AccessController;
import java.security.Principal;
import javax.security.auth.Subject;
import org.apache.karaf.jaas.boot.principal.UserPrincipal;

/** The user of the shell session running a command, for the audit log. */
final class ShellUser {
    private ShellUser() {
    }

    @SuppressWarnings("removal")
    static String name() {
        Subject s = Subject.getSubject(AccessController.getContext());
        if (s != null) {
            for (Principal p : s.getPrincipals(UserPrincipal.class)) {
                return p.getName();
            }
        }
        return "shell";
    }
}

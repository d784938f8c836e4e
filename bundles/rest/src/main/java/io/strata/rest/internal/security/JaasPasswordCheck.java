package io.strata.rest.internal.security;

import java.security.Principal;
import java.util.LinkedHashSet;
import java.util.Set;
import javax.security.auth.Subject;
import javax.security.auth.callback.NameCallback;
import javax.security.auth.callback.PasswordCallback;
import javax.security.auth.callback.UnsupportedCallbackException;
import javax.security.auth.login.LoginContext;
import javax.security.auth.login.LoginException;
import org.apache.karaf.jaas.boot.principal.RolePrincipal;

/**
 * A login against a Karaf JAAS realm ({@code karaf} by default: {@code etc/users.properties},
 * or LDAP and the other modules Karaf offers when the realm is configured so). The user's
 * roles are the realm's role principals, group roles included.
 */
public final class JaasPasswordCheck implements PasswordCheck {
    private final String realm;

    public JaasPasswordCheck(String realm) {
        this.realm = realm;
    }

    @Override
    public Set<String> login(String user, char[] password) {
        Subject subject = new Subject();
        ClassLoader previous = Thread.currentThread().getContextClassLoader();
        Thread.currentThread().setContextClassLoader(JaasPasswordCheck.class.getClassLoader());
        try {
            LoginContext context = new LoginContext(realm, subject, callbacks -> {
                for (var c : callbacks) {
                    if (c instanceof NameCallback n) {
                        n.setName(user);
                    } else if (c instanceof PasswordCallback p) {
                        p.setPassword(password.clone());
                    } else {
                        throw new UnsupportedCallbackException(c);
                    }
                }
            });
            context.login();
            Set<String> roles = new LinkedHashSet<>();
            for (Principal p : subject.getPrincipals()) {
                if (p instanceof RolePrincipal) {
                    roles.add(p.getName());
                }
            }
            context.logout();
            return roles;
        } catch (LoginException e) {
            return null;
        } finally {
            Thread.currentThread().setContextClassLoader(previous);
        }
    }
}

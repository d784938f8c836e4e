package io.strata.rest.internal;

import io.strata.rest.internal.security.AuditEntry;
import io.strata.rest.internal.security.AuditLog;
import io.strata.rest.internal.security.Authenticator;
import java.lang.reflect.Method;
import java.time.Clock;
import java.util.Map;
import java.util.Set;
import javax.servlet.http.HttpServletRequest;
import javax.ws.rs.Path;
import javax.ws.rs.container.ContainerRequestContext;
import javax.ws.rs.container.ContainerRequestFilter;
import javax.ws.rs.container.ContainerResponseContext;
import javax.ws.rs.container.ContainerResponseFilter;
import javax.ws.rs.container.PreMatching;
import javax.ws.rs.container.ResourceInfo;
import javax.ws.rs.core.Context;
import javax.ws.rs.core.HttpHeaders;

/**
 * The request pipeline's checks, in order: authentication and body size before the path is
 * matched (so an unknown path is 401 to a stranger, not 404), the method's role after it,
 * and the audit record after the answer is made.
 */
final class Filters {
    static final String CALLER = "strata.caller";
    static final String REFUSED = "strata.refused";
    /** Paths anyone may read: the API's description. */
    static final Set<String> PUBLIC = Set.of("openapi.json");
    private static final Set<String> READS = Set.of("GET", "HEAD", "OPTIONS");

    private Filters() {
    }

    /** Ends the request with {@code e}'s answer; the audit filter records it as a refusal. */
    private static void refuse(ContainerRequestContext ctx, ApiException e) {
        ctx.setProperty(REFUSED, e);
        ctx.abortWith(ErrorMapper.answer(e));
    }

    static String client(HttpServletRequest request) {
        return request == null ? "unknown" : request.getRemoteAddr();
    }

    /** Authentication and the body limit, before matching. */
    @PreMatching
    static final class Authenticate implements ContainerRequestFilter {
        private final Authenticator authenticator;
        private final long maxBody;
        @Context
        private HttpServletRequest request;

        Authenticate(Authenticator authenticator, long maxBody) {
            this.authenticator = authenticator;
            this.maxBody = maxBody;
        }

        @Override
        public void filter(ContainerRequestContext ctx) {
            String path = ctx.getUriInfo().getPath();
            if (PUBLIC.contains(path.startsWith("/") ? path.substring(1) : path) && READS.contains(ctx.getMethod())) {
                return;
            }
            try {
                Caller caller = authenticator.authenticate(ctx.getHeaderString(HttpHeaders.AUTHORIZATION),
                        client(request));
                ctx.setProperty(CALLER, caller);
                if (request != null) {
                    request.setAttribute(CALLER, caller);
                }
            } catch (ApiException e) {
                refuse(ctx, e);
                return;
            }
            if (ctx.getLength() > maxBody) {
                refuse(ctx, new ApiException(413, ApiException.TOO_LARGE, "the body is larger than " + maxBody
                        + " bytes", Map.of("limit", maxBody)));
            }
        }
    }

    /** The role the matched method needs. */
    static final class Authorize implements ContainerRequestFilter {
        @Context
        private ResourceInfo resource;

        @Override
        public void filter(ContainerRequestContext ctx) {
            Method m = resource.getResourceMethod();
            if (m == null || m.getDeclaringClass() == OpenApiDoc.class) {
                return;
            }
            Allowed allowed = m.getAnnotation(Allowed.class);
            Caller caller = (Caller) ctx.getProperty(CALLER);
            if (allowed == null) {
                // Fail closed: a method someone forgot to give a role is nobody's.
                refuse(ctx, new ApiException(403, ApiException.FORBIDDEN, "this operation names no role"));
                return;
            }
            if (caller == null || !caller.role().includes(allowed.value())) {
                refuse(ctx, new ApiException(403, ApiException.FORBIDDEN, "this needs the role "
                        + allowed.value().id() + (caller == null ? "" : "; " + caller.user() + " acts as "
                        + caller.role().id()), Map.of("needed", allowed.value().id(),
                        "role", caller == null ? "" : caller.role().id())));
            }
        }
    }

    /** Records every change asked for and every refused request. */
    static final class Audit implements ContainerResponseFilter {
        private final AuditLog log;
        private final Clock clock;
        @Context
        private ResourceInfo resource;
        @Context
        private HttpServletRequest request;

        Audit(AuditLog log, Clock clock) {
            this.log = log;
            this.clock = clock;
        }

        @Override
        public void filter(ContainerRequestContext req, ContainerResponseContext resp) {
            int status = resp.getStatus();
            boolean denied = status == 401 || status == 403 || status == 429;
            if (READS.contains(req.getMethod()) && !denied) {
                return;
            }
            Caller caller = (Caller) req.getProperty(CALLER);
            String user = caller != null ? caller.user() : Authenticator.claimedUser(
                    req.getHeaderString(HttpHeaders.AUTHORIZATION));
            String via = caller != null ? caller.via() : "-";
            String result = "OK";
            if (status >= 400) {
                result = resp.getEntity() instanceof ApiError e ? e.code() : Integer.toString(status);
            }
            log.record(new AuditEntry(clock.instant(), user, via, client(request),
                    req.getMethod() + " " + template(req), "/" + stripSlash(req.getUriInfo().getPath()), status,
                    result));
        }

        private String template(ContainerRequestContext req) {
            Method m = resource == null ? null : resource.getResourceMethod();
            if (m == null) {
                return "/" + stripSlash(req.getUriInfo().getPath());
            }
            Path type = resource.getResourceClass().getAnnotation(Path.class);
            Path method = m.getAnnotation(Path.class);
            String t = part(type) + part(method);
            return t.isEmpty() ? "/" : t;
        }

        private static String part(Path p) {
            String s = p == null ? "" : stripSlash(p.value());
            return s.isEmpty() ? "" : "/" + s;
        }

        private static String stripSlash(String s) {
            String r = s;
            while (r.startsWith("/")) {
                r = r.substring(1);
            }
            while (r.endsWith("/")) {
                r = r.substring(0, r.length() - 1);
            }
            return r;
        }
    }
}

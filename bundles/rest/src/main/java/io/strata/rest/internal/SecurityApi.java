package io.strata.rest.internal;

import static io.strata.rest.internal.Requests.required;

import io.strata.api.ErrorCode;
import io.strata.api.StorageException;
import io.strata.rest.internal.security.AuditEntry;
import io.strata.rest.internal.security.Expiry;
import io.strata.rest.internal.security.Token;
import io.strata.rest.internal.security.TokenStore;
import java.net.URI;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import javax.ws.rs.Consumes;
import javax.ws.rs.DELETE;
import javax.ws.rs.GET;
import javax.ws.rs.POST;
import javax.ws.rs.Path;
import javax.ws.rs.PathParam;
import javax.ws.rs.Produces;
import javax.ws.rs.QueryParam;
import javax.ws.rs.core.MediaType;
import javax.ws.rs.core.Response;

/** API tokens and the audit log, for admins. */
@Path("/")
@Produces(MediaType.APPLICATION_JSON)
@Consumes(MediaType.APPLICATION_JSON)
public final class SecurityApi {
    private final RestSecurity security;

    SecurityApi(RestSecurity security) {
        this.security = security;
    }

    /** A token as listed: never its secret or hash. */
    public record TokenView(String id, String user, String role, Instant created, Instant expires, boolean expired,
            Instant lastUsed, String description) {
        static TokenView of(Token t, TokenStore store) {
            return new TokenView(t.id(), t.user(), t.role().id(), t.created(), t.expires(),
                    t.expiredAt(Instant.now()), store.lastUsed(t.id()), t.description());
        }
    }

    /** A new token: the only answer that carries the secret. */
    public record NewToken(TokenView token, String secret) {
    }

    @GET
    @Path("tokens")
    @Allowed(Role.ADMIN)
    public List<TokenView> tokens() {
        List<TokenView> out = new ArrayList<>();
        for (Token t : security.tokenStore().list()) {
            out.add(TokenView.of(t, security.tokenStore()));
        }
        return out;
    }

    @POST
    @Path("tokens")
    @Allowed(Role.ADMIN)
    public Response createToken(Requests.TokenCreate body) {
        Requests.TokenCreate b = required(body, "body");
        Role role = Role.parse(required(b.role(), "role"));
        if (role == null) {
            throw new StorageException(ErrorCode.INVALID_ARGUMENT, "unknown role: use viewer, operator or admin");
        }
        TokenStore.Created c = security.tokenStore().create(required(b.user(), "user"), role,
                Expiry.parse(b.expires(), Instant.now()), b.description());
        return Response.created(URI.create("tokens/" + c.token().id()))
                .entity(new NewToken(TokenView.of(c.token(), security.tokenStore()), c.secret())).build();
    }

    @DELETE
    @Path("tokens/{id}")
    @Allowed(Role.ADMIN)
    public Response revokeToken(@PathParam("id") String id) {
        security.tokenStore().revoke(id);
        return Response.noContent().build();
    }

    @GET
    @Path("audit")
    @Allowed(Role.ADMIN)
    public List<AuditEntry> audit(@QueryParam("limit") String limit, @QueryParam("user") String user) {
        Integer n = Params.integer("limit", limit);
        int max = n == null ? 100 : n;
        if (max < 1 || max > 10_000) {
            throw ApiException.badRequest("limit must be 1 to 10000");
        }
        return security.auditLog().newest(max, e -> user == null || user.isEmpty() || user.equals(e.user()));
    }
}

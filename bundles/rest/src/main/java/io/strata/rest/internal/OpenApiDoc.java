package io.strata.rest.internal;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import javax.ws.rs.GET;
import javax.ws.rs.Path;
import javax.ws.rs.Produces;
import javax.ws.rs.core.MediaType;

/** The API's OpenAPI 3 description, readable without logging in. */
@Path("/")
public final class OpenApiDoc {
    static final String RESOURCE = "/io/strata/rest/openapi.json";
    private final byte[] document;

    OpenApiDoc() {
        try (InputStream in = OpenApiDoc.class.getResourceAsStream(RESOURCE)) {
            if (in == null) {
                throw new IllegalStateException("the bundle lacks " + RESOURCE);
            }
            document = in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @GET
    @Path("openapi.json")
    @Produces(MediaType.APPLICATION_JSON)
    public byte[] document() {
        return document.clone();
    }
}

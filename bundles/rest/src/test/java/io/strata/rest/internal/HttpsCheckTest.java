package io.strata.rest.internal;

import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Dictionary;
import java.util.Hashtable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** When the log must say why the API has no HTTPS, and when it must stay quiet. */
class HttpsCheckTest {
    @TempDir
    Path tmp;

    private Dictionary<String, Object> config(boolean auto, boolean secure, Path keystore) {
        Dictionary<String, Object> p = new Hashtable<>();
        p.put("strata.https.auto", Boolean.toString(auto));
        p.put("org.osgi.service.http.secure.enabled", Boolean.toString(secure));
        p.put("org.ops4j.pax.web.ssl.keystore", keystore.toString());
        return p;
    }

    @Test
    void aMissingKeystoreWithHttpsOffIsExplained() {
        String problem = HttpsCheck.problem(config(true, false, tmp.resolve("https.p12")));
        assertTrue(problem != null && problem.contains("HTTPS is off") && problem.contains("strata-https-init"),
                problem);
    }

    @Test
    void nothingToSayWhenHttpsIsOnOrNotAutomaticOrTheKeystoreExists() throws Exception {
        assertNull(HttpsCheck.problem(config(true, true, tmp.resolve("https.p12"))));
        assertNull(HttpsCheck.problem(config(false, false, tmp.resolve("https.p12"))));
        Path made = Files.writeString(tmp.resolve("made.p12"), "x");
        assertNull(HttpsCheck.problem(config(true, false, made)));
        assertNull(HttpsCheck.problem(null));
    }
}

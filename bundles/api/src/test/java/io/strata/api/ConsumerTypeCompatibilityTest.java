package io.strata.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import java.util.jar.Manifest;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * Plugins implement the API's consumer types (every interface not annotated
 * {@code @ProviderType}), so within a major version such an interface may gain default
 * methods only: a plugin built against 1.x must keep working with 1.(x+1).
 *
 * <p>bnd-baseline checks this too, but bnd 7.1 rates a new abstract method of an interface
 * that already has default methods as MINOR or MAJOR depending on the order it happens to
 * visit the methods in; this test compares the released baseline jar with the build.
 */
class ConsumerTypeCompatibilityTest {
    private static final Pattern EXPORT = Pattern.compile("(?:^|,)([A-Za-z_][\\w.]*);version=\"(\\d+)\\.");
    private static final byte[] PROVIDER_TYPE =
            "Lorg/osgi/annotation/versioning/ProviderType;".getBytes(StandardCharsets.UTF_8);

    @Test
    void consumerTypesGainNoAbstractMethodWithinAMajorVersion() throws Exception {
        Path baselineJar = Path.of(System.getProperty("strata.api.baseline.jar"));
        Path classes = Path.of(System.getProperty("strata.api.classes"));
        assertTrue(Files.isRegularFile(baselineJar), "no baseline jar at " + baselineJar);

        List<String> broken = new ArrayList<>();
        int checked = 0;
        try (JarFile jar = new JarFile(baselineJar.toFile());
                URLClassLoader released = new URLClassLoader(new URL[] {baselineJar.toUri().toURL()},
                        ClassLoader.getPlatformClassLoader())) {
            Map<String, Integer> releasedMajors = majors(jar.getManifest());
            Map<String, Integer> currentMajors;
            try (InputStream in = Files.newInputStream(classes.resolve("META-INF/MANIFEST.MF"))) {
                currentMajors = majors(new Manifest(in));
            }
            for (JarEntry entry : jar.stream().toList()) {
                String file = entry.getName();
                if (!file.startsWith("io/strata/api/") || !file.endsWith(".class") || file.endsWith("package-info.class")) {
                    continue;
                }
                String name = file.substring(0, file.length() - ".class".length()).replace('/', '.');
                Class<?> before = Class.forName(name, false, released);
                if (!before.isInterface() || before.isAnnotation() || !Modifier.isPublic(before.getModifiers())) {
                    continue;
                }
                String pkg = before.getPackageName();
                if (!releasedMajors.containsKey(pkg) || !releasedMajors.get(pkg).equals(currentMajors.get(pkg))) {
                    continue; // not exported, or a new major version: anything may change
                }
                Path current = classes.resolve(file);
                if (!Files.exists(current) || isProviderType(Files.readAllBytes(current))) {
                    continue; // removals are bnd-baseline's; provider types may grow
                }
                checked++;
                Set<String> added = abstractMethods(Class.forName(name, false, getClass().getClassLoader()));
                added.removeAll(abstractMethods(before));
                for (String method : added) {
                    broken.add(name + "." + method);
                }
            }
        }
        assertTrue(checked > 0, "no consumer type checked: is the baseline jar right?");
        assertEquals(List.of(), broken, "abstract methods added to consumer types: plugins built against the "
                + "released API would fail; make them default methods, or bump the package's major version");
    }

    /** Class-retention annotations are invisible to reflection: look for the descriptor in the class file. */
    private static boolean isProviderType(byte[] classFile) {
        outer:
        for (int i = 0; i <= classFile.length - PROVIDER_TYPE.length; i++) {
            for (int j = 0; j < PROVIDER_TYPE.length; j++) {
                if (classFile[i + j] != PROVIDER_TYPE[j]) {
                    continue outer;
                }
            }
            return true;
        }
        return false;
    }

    private static Set<String> abstractMethods(Class<?> type) {
        return Arrays.stream(type.getMethods())
                .filter(m -> Modifier.isAbstract(m.getModifiers()))
                .map(ConsumerTypeCompatibilityTest::signature)
                .collect(Collectors.toCollection(TreeSet::new));
    }

    private static String signature(Method m) {
        return m.getName() + Arrays.stream(m.getParameterTypes()).map(Class::getTypeName)
                .collect(Collectors.joining(",", "(", ")"));
    }

    private static Map<String, Integer> majors(Manifest manifest) {
        Map<String, Integer> majors = new HashMap<>();
        Matcher m = EXPORT.matcher(manifest.getMainAttributes().getValue("Export-Package"));
        while (m.find()) {
            majors.put(m.group(1), Integer.parseInt(m.group(2)));
        }
        return majors;
    }
}
